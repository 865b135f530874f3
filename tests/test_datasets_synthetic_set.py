"""course_lib.datasets.synthetic_set: the synthetic set on disk."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_lib import datasets, synthetic_spec
from course_lib.datasets import (
    load_image,
    read_kaggle,
)
from course_lib.datasets import synthetic_set as writer
from course_lib.synthetic_spec import SyntheticSpec

SMALL = {"image_size": 32, "per_class": 4, "test_per_class": 4, "seed": 3}


@pytest.fixture(scope="module")
def synthetic_set(tmp_path_factory):
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
    assert set(np.unique(mask)) <= {0, 1, 2, 3}
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
    try:
        with pytest.raises(FileExistsError, match="older generator"):
            datasets.prepare_synthetic(synthetic_set, **SMALL, slices_per_patient=2)
        assert (synthetic_set / "metadata.csv").exists()
    finally:
        marker.write_text(json.dumps(found))  # the set is shared by the module's tests


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
    (tmp_path / ".out.partial-dead").mkdir()  # left by a killed process
    out = datasets.prepare_synthetic(tmp_path / "out", **SMALL)
    assert (out / "dataset.json").is_file()


@pytest.mark.parametrize("theirs", ["same", "other"])
def test_prepare_synthetic_race_with_another_process(tmp_path, monkeypatch, theirs):
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
        ({"test_per_class": 0}, "test_per_class"),
        ({"per_class": {"cats": 2}}, "per_class keys"),
        ({"per_class": {"glioma": -1}}, r"per_class\['glioma'\]"),
    ],
)
def test_prepare_synthetic_bad_arguments(tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        datasets.prepare_synthetic(tmp_path / "out", **{**SMALL, **change})


def test_prepare_default_uses_data_dir_and_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    out = datasets.prepare_default("smoke", per_class=4, test_per_class=4, image_size=32)
    assert out.parent == tmp_path
    assert out.name.startswith("synthetic-32px-4pc-")
    assert datasets.prepare_default("smoke", per_class=4, test_per_class=4, image_size=32) == out
    other = datasets.synthetic_dir(SyntheticSpec.from_profile("smoke", seed=1), tmp_path)
    assert other != out


def test_synthetic_folder_name_follows_the_generator_version(monkeypatch):
    spec = SyntheticSpec.from_profile("smoke")
    before = datasets.synthetic_dir(spec, "/data")
    monkeypatch.setattr(synthetic_spec, "GENERATOR_VERSION", synthetic_spec.GENERATOR_VERSION + 1)
    assert datasets.synthetic_dir(spec, "/data") != before


def test_prepare_synthetic_checks_the_folder_is_writable_before_generating(tmp_path, monkeypatch):
    generated = []
    monkeypatch.setattr(writer, "generate_slices", lambda spec: generated.append(spec))

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(writer.tempfile, "mkstemp", denied)
    with pytest.raises(PermissionError, match="Permission denied.*COURSE_DATA_DIR"):
        datasets.prepare_synthetic(tmp_path / "out", **SMALL)
    assert generated == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_prepare_synthetic_in_a_read_only_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match="COURSE_DATA_DIR"):
            datasets.prepare_synthetic(locked / "out", **SMALL)
    finally:
        locked.chmod(0o755)


def test_a_finished_set_is_read_from_a_read_only_folder(tmp_path, monkeypatch):
    out = datasets.prepare_synthetic(tmp_path / "out", **SMALL)
    monkeypatch.setattr(writer, "check_writable", lambda folder: pytest.fail("not needed"))
    assert datasets.prepare_synthetic(out, SyntheticSpec(**SMALL)) == out


def test_prepare_synthetic_takes_a_spec_or_fields_not_both(tmp_path):
    with pytest.raises(TypeError, match="not both"):
        datasets.prepare_synthetic(tmp_path / "out", SyntheticSpec(), per_class=3)
    with pytest.raises(TypeError, match="SyntheticSpec"):
        datasets.prepare_synthetic(tmp_path / "out", {"per_class": 3})
