from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from phantoms import blob, write
from PIL import Image
from PIL import Image as PILImage

from course_lib.cli import CourseCLI, cli_main, main
from course_lib.config import CLASS_NAMES, PROFILES
from course_lib.data import MissingPatientIdsWarning
from course_lib.datasets import UnreadableFilesWarning, synthetic_dir
from course_lib.synthetic_spec import SyntheticSpec

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture
def kaggle_folder(tmp_path) -> Path:
    """A tiny Kaggle-layout dataset: Training/ and Testing/ with a folder of PNGs per class."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    for split, n in (("Training", 6), ("Testing", 2)):
        for label, name in enumerate(CLASS_NAMES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                image = rng.integers(0, 60, (24, 24)) + 60 * label
                Image.fromarray(image.astype(np.uint8)).save(folder / f"{name}_{i}.png")
    return root


def _args(subcommand, root, *extra):
    return [
        subcommand,
        "--config",
        str(CONFIGS / "smoke.yaml"),
        "--data.source",
        "folder",
        "--data.root",
        str(root),
        "--data.image_size",
        "16",
        "--data.batch_size",
        "8",
        "--data.augment",
        "false",
        *extra,
    ]


def test_cli_fit_test_predict_on_folder(kaggle_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the config's runs/smoke/... land in tmp_path
    with pytest.warns(MissingPatientIdsWarning):
        cli = cli_main(_args("fit", kaggle_folder, "--trainer.limit_train_batches", "2"))
    assert isinstance(cli, CourseCLI)
    assert cli.trainer.current_epoch == 1
    assert cli.model.hparams.num_classes == 4
    assert cli.model.class_names == list(CLASS_NAMES)
    assert cli.trainer.precision == "32-true"
    last = tmp_path / "runs" / "smoke" / "checkpoints" / "last.ckpt"
    assert last.is_file()
    assert "best checkpoint:" in capsys.readouterr().out

    with pytest.warns(MissingPatientIdsWarning):
        cli = cli_main(_args("test", kaggle_folder, "--ckpt_path", str(last)))
    metrics = cli.trainer.callback_metrics
    assert 0.0 <= float(metrics["test/balanced_accuracy"]) <= 1.0
    assert "test/balanced_accuracy" in capsys.readouterr().out

    with pytest.warns(MissingPatientIdsWarning):
        cli = cli_main(_args("predict", kaggle_folder, "--ckpt_path", str(last)))
    out = capsys.readouterr().out
    assert "8 predictions written" in out
    assert "predict/accuracy" in out
    predictions = pd.read_csv(Path(cli.trainer.log_dir) / "predictions.csv")
    assert len(predictions) == 8  # the Testing folder: 2 per class
    np.testing.assert_allclose(predictions.filter(like="p_").sum(axis=1), 1.0, rtol=1e-5)
    assert sorted(predictions["label"]) == sorted(np.repeat(CLASS_NAMES, 2))


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_configs_match_profiles(name):
    config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    profile = PROFILES[name]
    trainer, data = config["trainer"], config["data"]
    assert trainer["accelerator"] == "auto"
    assert trainer["precision"] == (None if profile.precision == "auto" else profile.precision)
    assert trainer["max_epochs"] == profile.max_epochs
    assert trainer["limit_train_batches"] == profile.limit_train_batches
    assert trainer["limit_val_batches"] == profile.limit_val_batches
    assert data["image_size"] == profile.image_size
    assert data["batch_size"] == profile.batch_size
    assert data["num_workers"] == profile.num_workers
    assert data["synthetic"]["per_class"] == profile.samples_per_class
    assert data["synthetic"]["test_per_class"] == profile.test_per_class
    assert data["synthetic"]["slices_per_patient"] == profile.slices_per_patient
    callbacks = [c["class_path"].rsplit(".", 1)[-1] for c in trainer["callbacks"]]
    assert callbacks == [
        "ModelCheckpoint",
        "ModelCheckpoint",
        "EarlyStopping",
        "LearningRateMonitor",
        "EpochSeed",
    ]
    assert trainer["default_root_dir"] == f"runs/{name}"
    assert "save_dir" not in trainer["logger"]["init_args"]  # linked to default_root_dir


def test_everything_a_run_writes_goes_under_its_root_dir(kaggle_folder, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    run = tmp_path / "my-run"
    args = _args("fit", kaggle_folder, "--trainer.default_root_dir", str(run))
    with pytest.warns(MissingPatientIdsWarning):
        cli = cli_main([*args, "--trainer.limit_train_batches", "1"])
    assert list(work.iterdir()) == []  # nothing in the working directory
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert Path(cli.trainer.checkpoint_callback.best_model_path).parent == run / "checkpoints"
    assert (run / "logs" / "version_0" / "metrics.csv").is_file()


def test_config_builds_the_profiles_synthetic_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = cli_main(["--config", str(CONFIGS / "smoke.yaml")], run=False)
    assert cli.datamodule.synthetic == SyntheticSpec.from_profile("smoke")
    assert cli.datamodule._dataset_root() == synthetic_dir(SyntheticSpec.from_profile("smoke"))


def test_sim2real_config_is_the_cpu_recipe_on_the_randomised_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cpu = yaml.safe_load((CONFIGS / "cpu.yaml").read_text())
    sim = yaml.safe_load((CONFIGS / "sim2real.yaml").read_text())
    assert sim["model"] == cpu["model"]
    assert {k: v for k, v in sim["trainer"].items() if k != "default_root_dir"} == {
        k: v for k, v in cpu["trainer"].items() if k != "default_root_dir"
    }
    cli = cli_main(["--config", str(CONFIGS / "sim2real.yaml")], run=False)
    assert cli.datamodule.synthetic.randomize == sim["data"]["synthetic"]["randomize"] > 0
    assert set(cli.datamodule.synthetic.plane) == {"axial", "sagittal", "coronal"}
    assert cli.trainer.default_root_dir.endswith("runs/sim2real")


def test_precision_null_resolves_to_auto(kaggle_folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = _args("fit", kaggle_folder, "--trainer.precision", "null")[1:]
    cli = cli_main(args, run=False)
    assert cli.trainer.precision == "32-true"  # no GPU here


def test_kaggle_gpu_recipe_parses(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = str(CONFIGS / "kaggle_gpu.yaml")
    args = ["--config", config, "--data.root", str(tmp_path), "--model.pretrained", "false"]
    cli = cli_main(args, run=False)
    assert cli.model.hparams.backbone in ("resnet18", "efficientnet_b0")
    assert cli.datamodule.image_size == 224
    assert cli.trainer.max_epochs >= 20


# --------------------------------------------------------------------------- one-line errors

no_ids = pytest.mark.filterwarnings("ignore::course_lib.data.MissingPatientIdsWarning")


def fails(capsys, args) -> str:
    """Run course-train; check it failed with exactly one error line; return that line."""
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: "), lines
    assert "Traceback" not in lines[0] and lines[1] == "(set COURSE_DEBUG=1 to see the traceback)"
    return lines[0]


def tree(root: Path, folders: dict[str, int]) -> Path:
    for name, n in folders.items():
        for i in range(n):
            write(root / name / f"{i}.png", blob(100 * len(name) + i, 24))
    return root


def fit_args(root, *extra):
    return _args("fit", root, "--trainer.limit_train_batches", "1", *extra)


@no_ids
@pytest.mark.parametrize(
    ("layout", "message"),
    [
        (None, "No folder at"),
        ({"glioma": 3, "dogs": 3}, "Folder 'dogs' .* is not one of the classes"),
        ({"glioma": 3, "notumor": 0}, "holds no images"),
        ({"yes": 3, "no": 3}, "Br35H layout.*--data.source br35h"),
        ({"Training/glioma": 3}, "has Training/ but no Testing/ folder"),
        ({"glioma": 8}, r"training split has no image of \['meningioma', 'notumor', 'pituitary'\]"),
        ({"glioma": 8, "meningioma": 8, "pituitary": 8}, "--data.classes '\\[glioma,meningioma"),
    ],
)
def test_bad_folders_give_one_line(tmp_path, monkeypatch, capsys, layout, message):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "data"
    if layout is not None:
        tree(root, layout)
        for name in layout:
            (root / name).mkdir(parents=True, exist_ok=True)
    assert re.search(message, fails(capsys, fit_args(root)))


@no_ids
def test_three_of_four_classes_train_a_three_class_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tree(tmp_path / "data", {"glioma": 10, "meningioma": 10, "pituitary": 10})
    cli = cli_main(fit_args(root, "--data.classes", "[glioma,meningioma,pituitary]"))
    assert cli.model.hparams.num_classes == 3
    assert cli.model.class_names == ["glioma", "meningioma", "pituitary"]


@no_ids
def test_an_unreadable_image_during_fit_is_named_and_can_be_skipped(
    kaggle_folder, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    bad = kaggle_folder / "Training" / "glioma" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n not really")
    line = fails(capsys, fit_args(kaggle_folder, "--trainer.limit_train_batches", "1.0"))
    assert "broken.png" in line and "--data.skip_unreadable true" in line
    with pytest.warns(UnreadableFilesWarning, match="broken.png"):
        cli = cli_main(fit_args(kaggle_folder, "--data.skip_unreadable", "true"))
    assert str(bad) not in set(cli.datamodule.index["path"])


@no_ids
def test_an_image_over_the_decompression_bomb_limit(kaggle_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(kaggle_folder / "Training" / "glioma" / "huge.png", blob(1, 64))
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)  # 64 x 64 is over twice that
    line = fails(capsys, fit_args(kaggle_folder, "--trainer.limit_train_batches", "1.0"))
    assert "huge.png" in line and "too large" in line


def test_a_data_folder_that_cannot_be_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("COURSE_DATA_DIR", str(blocked))
    line = fails(capsys, ["fit", "--config", str(CONFIGS / "smoke.yaml")])
    assert "Cannot write the dataset" in line and "COURSE_DATA_DIR" in line
    assert blocked.read_text() == "not a folder"


@no_ids
@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty"), (b"PK\x03\x04 half a zip", "cannot be read"), (None, "is not a file")],
)
def test_a_damaged_checkpoint(kaggle_folder, tmp_path, monkeypatch, capsys, content, message):
    monkeypatch.chdir(tmp_path)
    checkpoint = tmp_path / "model.ckpt"
    if content is not None:
        checkpoint.write_bytes(content)
    line = fails(capsys, _args("test", kaggle_folder, "--ckpt_path", str(checkpoint)))
    assert message in line and "model.ckpt" in line


@no_ids
def test_a_checkpoint_for_other_classes(kaggle_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    two = tree(tmp_path / "two", {"glioma": 10, "pituitary": 10})
    cli = cli_main(fit_args(two, "--data.classes", "[glioma,pituitary]"))
    best = cli.trainer.checkpoint_callback.best_model_path
    line = fails(capsys, _args("test", kaggle_folder, "--ckpt_path", best))
    assert "trained for 2 classes" in line and "the data has 4" in line


# --------------------------------------------------------------------------- the real-data recipes


def test_real_cpu_recipe_parses_with_a_time_budget(kaggle_folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = str(CONFIGS / "real_cpu.yaml")
    args = ["--config", config, "--data.root", str(kaggle_folder)]
    cli = cli_main([*args, "--trainer.max_time", "00:00:20:00"], run=False)
    timer = next(c for c in cli.trainer.callbacks if type(c).__name__ == "Timer")
    assert timer.time_remaining() == 20 * 60 and cli.trainer.max_epochs == -1
    assert cli.trainer.precision == "bf16-mixed"
    hp = cli.model.hparams
    assert (hp.backbone, hp.pretrained, hp.scheduler, hp.label_smoothing) == (
        "resnet18",
        False,
        "onecycle",
        0.1,
    )
    data = cli.datamodule
    assert data.cache and data.group_duplicates and data.augment_strength == "light"
    assert not any(type(c).__name__ == "EarlyStopping" for c in cli.trainer.callbacks)


def test_ddp_on_two_cpu_processes(tmp_path):
    """The multi-GPU path, on the CPU: Lightning's DDP with two gloo processes, via the CLI."""
    command = [
        sys.executable,
        "-m",
        "course_lib.cli",
        "fit",
        "--config",
        str(CONFIGS / "smoke.yaml"),
        "--trainer.accelerator",
        "cpu",
        "--trainer.devices",
        "2",
        "--trainer.strategy",
        "ddp",
        "--trainer.max_time",
        "00:00:05:00",
        "--model.scheduler",
        "onecycle",
        "--data.num_workers",
        "0",
        "--trainer.default_root_dir",
        str(tmp_path / "run"),
        "--trainer.enable_progress_bar",
        "false",
    ]
    env = {**os.environ, "COURSE_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Starting with 2 processes" in output and "gloo" in output
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
