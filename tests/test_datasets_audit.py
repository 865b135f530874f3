"""course_lib.datasets.audit: counts, skipped files, duplicates and leakage."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from phantoms import blob, kaggle_tree, make_index, make_tree

from course_lib.datasets import (
    DatasetLayoutError,
    audit,
)
from course_lib.datasets.audit import LeakageReport, find_duplicates, hamming_pairs, leakage_report


def test_hamming_pairs_matches_brute_force():
    bits = np.random.default_rng(1).random((300, 64)) < 0.5
    bits[20] = bits[10]
    bits[40] = bits[30]
    bits[40, :3] ^= True
    distance = (bits[:, None] != bits[None]).sum(axis=2)
    expected = [
        (i, j, int(distance[i, j]))
        for i in range(300)
        for j in range(i + 1, 300)
        if distance[i, j] <= 20
    ]
    assert hamming_pairs(bits, 20) == expected
    assert (10, 20, 0) in expected
    assert (30, 40, 3) in expected


def test_audit_finds_injected_duplicates_only(dup_tree):
    report = audit(dup_tree)
    assert report.n_images == 19
    assert report.counts["train"]["meningioma"] == 4
    assert report.counts["test"]["glioma"] == 2
    assert report.sizes == {"64x64": 18}
    assert report.modes == {"L": 18}
    assert [Path(p).name for p, _ in report.unreadable] == ["broken.png"]
    exact = [(Path(p["a"]).name, Path(p["b"]).name) for p in report.exact_duplicates]
    assert exact == [("copy.png", "tr0.png")] or exact == [("tr0.png", "copy.png")]
    assert len(report.cross_split("exact")) == 1
    near = {frozenset((Path(p["a"]).name, Path(p["b"]).name)) for p in report.near_duplicates}
    assert near == {frozenset(("near.png", "tr1.png"))}
    assert report.cross_split("near") == []
    assert "exact duplicate pairs: 1 (1 across splits)" in str(report)


def test_audit_threshold_validated(dup_tree):
    with pytest.raises(ValueError, match="threshold"):
        audit(dup_tree, threshold=257)


def test_audit_unknown_layout(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DatasetLayoutError, match="found no sub-folders"):
        audit(tmp_path)


@pytest.mark.realdata
def test_audit_real_sample_has_no_false_duplicates(real_sample_dir):
    # The default threshold was chosen on this sample: distinct slices are >= 38 bits apart.
    report = audit(real_sample_dir)
    assert report.n_images == 80
    assert report.exact_duplicates == []
    assert report.near_duplicates == []
    assert report.sizes == {"224x224": 80}


def test_find_duplicates_in_arrays_finds_only_injected_pairs():
    images = [blob(i, 64) for i in range(12)]
    images.append(images[3].copy())
    noisy = images[7].astype(int) + np.random.default_rng(0).integers(-3, 4, (64, 64))
    images.append(np.clip(noisy, 0, 255).astype(np.uint8))
    pairs = find_duplicates(np.stack(images), threshold=12)
    assert list(zip(pairs["i"], pairs["j"], strict=True)) == [(3, 12), (7, 13)]
    assert pairs["distance"].iloc[0] == 0
    floats = [im.astype(np.float32) / 255 for im in images]
    assert len(find_duplicates(floats, threshold=12)) == 2


def test_find_duplicates_from_index_has_paths(tmp_path):
    index = make_index(tmp_path, patients_per_class=(3,), slices=1, size=64)
    index = pd.concat([index, index.iloc[[0]]], ignore_index=True)
    pairs = find_duplicates(index)
    assert list(pairs[["i", "j"]].itertuples(index=False, name=None)) == [(0, 3)]
    assert pairs.loc[0, "path_i"] == pairs.loc[0, "path_j"]
    assert pairs.loc[0, "split_i"] == "train"


def test_find_duplicates_bad_input():
    with pytest.raises(ValueError, match="threshold"):
        find_duplicates(np.zeros((2, 8, 8), np.uint8), threshold=-1)
    with pytest.raises(TypeError, match="data must be"):
        find_duplicates("images/")
    with pytest.raises(ValueError, match="2-D"):
        find_duplicates(np.zeros((2, 8, 8, 3), np.uint8))


def test_leakage_report(tmp_path):
    index = make_index(tmp_path, patients_per_class=(2, 2), slices=2, size=64)
    train, test = index.iloc[:6].copy(), index.iloc[6:].copy()
    clean = leakage_report(train, test)
    assert isinstance(clean, LeakageReport)
    assert clean.clean
    leaky = pd.concat([test, train.iloc[[1]]], ignore_index=True)
    report = leakage_report(train, leaky)
    assert not report.clean
    assert report.shared_patients == ["c0p0"]
    assert list(report.duplicate_pairs["train_path"]) == [train["path"].iloc[1]]
    assert "1 patient(s) in both parts; 1 near-duplicate pair(s)" in str(report)
    with pytest.raises(TypeError, match="test must be"):
        leakage_report(train, None)


def test_audit_skips_hidden_copies_and_counts_what_it_skipped(tmp_path, capsys):
    root = tmp_path / "k"
    kaggle_tree(root, n=2)
    original = next((root / "Testing" / "meningioma").glob("*.jpg"))
    hidden = root / "Testing" / "meningioma" / ".ipynb_checkpoints"
    hidden.mkdir()
    shutil.copy(original, hidden / "copy-checkpoint.jpg")
    (root / "Training" / "glioma" / "scan.webp").write_bytes(b"RIFF")
    report = audit(root)
    assert report.n_images == 16
    assert report.exact_duplicates == []  # the checkpoint copy is not counted as an image
    assert report.skipped == {"hidden": 1, "unsupported": 1}
    assert Path(report.skipped_examples["unsupported"][0]).name == "scan.webp"
    assert "skipped (not read): 1 hidden, 1 unsupported" in str(report)


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"Training/glioma": 1}, "has Training/ but no Testing/ folder"),
        ({"Testing/glioma": 1}, "has Testing/ but no Training/ folder"),
        ({"yes": 1, "no": 1, "pred": 1}, "holds no images"),
        ({"glioma": 1, "dogs": 1}, "Folder 'dogs' .* is not one of the classes"),
    ],
)
def test_audit_names_the_specific_layout_error(tmp_path, layout, message):
    make_tree(tmp_path, {k: v for k, v in layout.items() if k != "pred"})
    if "pred" in layout:
        (tmp_path / "pred").mkdir()
        (tmp_path / "no" / "img_0.png").unlink()  # Br35H with an empty no/ folder
    with pytest.raises(DatasetLayoutError, match=message):
        audit(tmp_path)
