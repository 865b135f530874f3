from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from course_lib.cli import CourseCLI, cli_main
from course_lib.config import CLASS_NAMES, PROFILES
from course_lib.data import MissingPatientIdsWarning
from course_lib.datasets import synthetic_dir
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
