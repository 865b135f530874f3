import dataclasses
import os
import random
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import course_lib
from course_lib import config


def test_profiles_are_frozen_and_complete():
    fields = {f.name for f in dataclasses.fields(config.Profile)}
    for name, profile in config.PROFILES.items():
        assert profile.name == name
        assert set(dataclasses.asdict(profile)) == fields
        with pytest.raises(dataclasses.FrozenInstanceError):
            profile.batch_size = 1  # type: ignore[misc]


def test_profiles_grow_from_smoke_to_gpu():
    smoke, cpu, gpu = (config.PROFILES[n] for n in ("smoke", "cpu", "gpu"))
    for field in ("image_size", "samples_per_class", "test_per_class", "max_epochs"):
        assert getattr(smoke, field) < getattr(cpu, field) < getattr(gpu, field), field
    assert smoke.num_workers == 0


@pytest.mark.parametrize(
    ("environ", "cuda", "expected"),
    [
        ({"COURSE_PROFILE": "gpu"}, False, "gpu"),
        ({"COURSE_PROFILE": "cpu", "CI": "true"}, True, "cpu"),
        ({"CI": "true"}, True, "smoke"),
        ({"CI": "1"}, False, "smoke"),
        ({"CI": "false"}, False, "cpu"),
        ({"CI": "0"}, True, "gpu"),
        ({}, True, "gpu"),
        ({}, False, "cpu"),
        ({"COURSE_PROFILE": "  "}, False, "cpu"),
    ],
)
def test_profile_selection_order(environ, cuda, expected):
    assert config.profile_name_from_env(environ, cuda=cuda) == expected


def test_get_profile_reads_environment(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "SMOKE")
    assert config.get_profile() is config.PROFILES["smoke"]


@pytest.mark.parametrize("name", ["fast", "", "GPU2"])
def test_unknown_profile_lists_the_valid_ones(name, monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    with pytest.raises(ValueError, match=r"cpu.*gpu.*smoke"):
        config.get_profile(name or "unknown")


def test_unknown_profile_from_environment(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "laptop")
    with pytest.raises(ValueError, match="'laptop'"):
        config.get_profile()


def test_with_overrides_copies_and_rejects_unknown_fields():
    smoke = config.PROFILES["smoke"]
    bigger = smoke.with_overrides(image_size=96)
    assert bigger.image_size == 96 and smoke.image_size == 64
    with pytest.raises(TypeError, match="imagesize"):
        smoke.with_overrides(imagesize=96)


def test_trainer_kwargs_are_device_agnostic():
    kwargs = config.PROFILES["gpu"].trainer_kwargs()
    assert kwargs["accelerator"] == "auto"
    assert kwargs["precision"] in ("32-true", "16-mixed", "bf16-mixed")


@pytest.mark.parametrize(
    ("cuda", "bf16", "expected"),
    [(False, None, "32-true"), (True, True, "bf16-mixed"), (True, False, "16-mixed")],
)
def test_resolve_precision(cuda, bf16, expected):
    assert config.resolve_precision("auto", cuda=cuda, bf16=bf16) == expected
    assert config.resolve_precision("16-mixed", cuda=cuda, bf16=bf16) == "16-mixed"


def test_data_dir_default_and_override(tmp_path):
    assert config.data_dir({}) == config.REPO_ROOT / "datasets"
    assert config.data_dir({"COURSE_DATA_DIR": str(tmp_path)}) == tmp_path


def test_seed_everything_makes_runs_repeatable():
    config.seed_everything(123)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    config.seed_everything(123)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


@pytest.mark.parametrize("seed", ["42", 4.2, True, None])
def test_seed_must_be_an_int(seed):
    with pytest.raises(TypeError, match="seed must be an int"):
        config.seed_everything(seed)


def test_setup_prints_summary_and_returns_profile(capsys, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", "/tmp/somewhere")
    profile = course_lib.setup("smoke", seed=1)
    out = capsys.readouterr().out
    assert profile is config.PROFILES["smoke"]
    for key in ("python", "torch", "lightning", "device", "profile : smoke", "/tmp/somewhere"):
        assert key in out, key


def test_setup_quiet_and_bad_profile(capsys):
    course_lib.setup("cpu", verbose=False)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="Unknown profile"):
        course_lib.setup("turbo")


def test_environment_summary_reports_gpu_when_present(monkeypatch):
    class Props:
        name = "Tesla T4"
        total_memory = 15 * 2**30

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: Props())
    summary = config.environment_summary(config.PROFILES["gpu"])
    assert summary["gpu"] == "Tesla T4"
    assert summary["gpu memory"] == "15.0 GiB"


def test_default_device_is_cpu_here_and_cuda_when_available(monkeypatch):
    assert config.default_device().type in ("cpu", "mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.default_device().type == "cuda"


def test_measure_matmul_counts_two_n_cubed_flops_per_product(monkeypatch):
    clock = iter([10.0, 10.5])  # two timed products in half a second: 0.25 s each
    monkeypatch.setattr(config.time, "perf_counter", lambda: next(clock))
    assert config.measure_matmul(64, "cpu", repeats=2) == pytest.approx(2 * 64**3 / 0.25 / 1e9)


@pytest.mark.parametrize(
    ("size", "repeats", "error"),
    [(0, 1, ValueError), (8, 0, ValueError), (8.0, 1, TypeError), (True, 1, TypeError)],
)
def test_measure_matmul_rejects_bad_sizes(size, repeats, error):
    with pytest.raises(error, match="size|repeats"):
        config.measure_matmul(size, "cpu", repeats=repeats)


def test_data_dir_in_a_clone_is_the_repositorys_datasets_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # a notebook runs from notebooks/, not from the root
    assert config.in_source_checkout()
    assert config.data_dir() == config.REPO_ROOT / "datasets"


def test_data_dir_after_a_plain_install_is_under_the_working_directory(monkeypatch, tmp_path):
    site = tmp_path / "site-packages"
    (site / "course_lib").mkdir(parents=True)
    monkeypatch.setattr(config, "REPO_ROOT", site)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert not config.in_source_checkout()
    assert config.data_dir() == tmp_path / "datasets"
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert config.data_dir() == Path("/content/datasets")


@pytest.mark.slow
def test_data_dir_of_a_wheel_install_is_not_site_packages(tmp_path):
    """Install the package as Colab does (not editable) and ask it where its data go."""
    target, work = tmp_path / "site", tmp_path / "work"
    work.mkdir()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(config.REPO_ROOT),
        ],
        check=True,
        capture_output=True,
    )
    code = (
        "import course_lib, course_lib.config as c; print(course_lib.__file__); print(c.data_dir())"
    )
    env = {k: v for k, v in os.environ.items() if k != "COURSE_DATA_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=work,
        env={**env, "PYTHONPATH": str(target)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert Path(out[0]).is_relative_to(target)  # the installed copy, not the clone
    assert Path(out[1]) == work / "datasets"
