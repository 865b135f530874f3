"""course_lib.datasets.synthetic_set: the synthetic set on disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_lib import datasets
from course_lib.datasets import (
    load_image,
    read_kaggle,
)
from course_lib.datasets import synthetic_set as writer

SMALL = {"image_size": 32, "per_class": 4, "test_per_class": 4, "seed": 3}


@pytest.fixture(scope="module")
def synthetic_set(tmp_path_factory):
    pytest.importorskip("course_lib.synthetic")
    out = tmp_path_factory.mktemp("syn") / "set"
    return datasets.prepare_synthetic(out, **SMALL, slices_per_patient=2)


def test_prepare_synthetic_layout_and_patient_split(synthetic_set):
    root = synthetic_set
    assert sorted(p.name for p in root.iterdir()) == [
        "Testing",
        "Training",
        "dataset.json",
        "masks",
        "metadata.csv",
    ]
    index = read_kaggle(root)
    assert set(index["source"]) == {"synthetic"}
    assert index.groupby("split").size().to_dict() == {"test": 16, "train": 16}
    assert index["patient_id"].notna().all()
    train_ids = set(index.loc[index["split"] == "train", "patient_id"])
    test_ids = set(index.loc[index["split"] == "test", "patient_id"])
    assert not train_ids & test_ids
    assert {"site", "contrast", "slice_index", "mask_path", "duplicate_of"} <= set(index.columns)
    image = load_image(index.loc[0, "path"])
    assert image.shape == (32, 32)
    with Image.open(index.loc[0, "mask_path"]) as img:
        mask = np.asarray(img)
    assert mask.shape == (32, 32)
    assert set(np.unique(mask)) <= {0, 1, 2}
    marker = json.loads((root / "dataset.json").read_text())
    assert marker["params"]["per_class"] == 4


def test_prepare_synthetic_returns_existing_without_rewriting(synthetic_set):
    stamp = (synthetic_set / "metadata.csv").stat().st_mtime_ns
    again = datasets.prepare_synthetic(synthetic_set, **SMALL, slices_per_patient=2)
    assert again == synthetic_set
    assert (synthetic_set / "metadata.csv").stat().st_mtime_ns == stamp


def test_prepare_synthetic_refuses_other_parameters(synthetic_set):
    with pytest.raises(FileExistsError, match="other parameters"):
        datasets.prepare_synthetic(synthetic_set, **{**SMALL, "seed": 4}, slices_per_patient=2)


def test_prepare_synthetic_names_a_set_from_an_older_generator(synthetic_set):
    marker = synthetic_set / "dataset.json"
    found = json.loads(marker.read_text())
    marker.write_text(json.dumps({**found, "format": "course_lib.synthetic/0"}))
    with pytest.raises(FileExistsError, match="older generator"):
        datasets.prepare_synthetic(synthetic_set, **SMALL, slices_per_patient=2)
    assert (synthetic_set / "metadata.csv").exists()


def test_prepare_synthetic_refuses_foreign_content(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="left untouched"):
        datasets.prepare_synthetic(tmp_path / "out", **SMALL)
    assert (tmp_path / "out" / "precious.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="not a folder"):
        datasets.prepare_synthetic(tmp_path / "file", **SMALL)


def test_prepare_synthetic_crash_leaves_nothing(tmp_path, monkeypatch):
    pytest.importorskip("course_lib.synthetic")
    calls = {"n": 0}
    original = Image.Image.save

    def failing_save(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:
            raise OSError("disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        datasets.prepare_synthetic(tmp_path / "out", **SMALL)
    assert list(tmp_path.iterdir()) == []


def test_prepare_synthetic_ignores_leftover_partial_folder(tmp_path):
    pytest.importorskip("course_lib.synthetic")
    (tmp_path / ".out.partial-dead").mkdir()  # left by a killed process
    out = datasets.prepare_synthetic(tmp_path / "out", **SMALL)
    assert (out / "dataset.json").is_file()


@pytest.mark.parametrize("theirs", ["same", "other"])
def test_prepare_synthetic_race_with_another_process(tmp_path, monkeypatch, theirs):
    pytest.importorskip("course_lib.synthetic")
    out = tmp_path / "out"
    rename = writer.os.rename

    def lose_the_race(src, dst):
        # Another process finished first: its folder appears, our rename then fails.
        shutil.copytree(src, dst)
        if theirs == "other":
            (Path(dst) / "dataset.json").write_text('{"format": "someone else"}')
        raise OSError("Directory not empty")

    monkeypatch.setattr(writer.os, "rename", lose_the_race)
    if theirs == "same":
        assert datasets.prepare_synthetic(out, **SMALL) == out
    else:
        with pytest.raises(FileExistsError, match="not a complete synthetic dataset"):
            datasets.prepare_synthetic(out, **SMALL)
    monkeypatch.setattr(writer.os, "rename", rename)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # our partial folder is gone


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"image_size": 0}, "image_size"),
        ({"per_class": 2.5}, "per_class"),
        ({"test_per_class": 0}, "test_per_class"),
        ({"per_class": {"cats": 2}}, "per_class keys"),
        ({"per_class": {"glioma": 0}}, r"per_class\['glioma'\]"),
    ],
)
def test_prepare_synthetic_bad_arguments(tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        datasets.prepare_synthetic(tmp_path / "out", **{**SMALL, **change})


def test_prepare_default_uses_data_dir_and_profile(tmp_path, monkeypatch):
    pytest.importorskip("course_lib.synthetic")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    out = datasets.prepare_default("smoke", per_class=4, test_per_class=4, image_size=32)
    assert out.parent == tmp_path
    assert out.name.startswith("synthetic-32px-4pc-")
    assert datasets.prepare_default("smoke", per_class=4, test_per_class=4, image_size=32) == out
    other = datasets.synthetic_dir(datasets.synthetic_params("smoke", seed=1), tmp_path)
    assert other != out


def test_synthetic_folder_name_follows_the_generator_version(monkeypatch):
    params = datasets.synthetic_params("smoke")
    before = datasets.synthetic_dir(params, "/data")
    monkeypatch.setattr(writer, "GENERATOR_VERSION", writer.GENERATOR_VERSION + 1)
    assert datasets.synthetic_dir(params, "/data") != before
