from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from phantoms import blob
from PIL import Image

from course_lib import datasets, downloads
from course_lib.audit import audit, hamming_pairs
from course_lib.config import CLASS_NAMES
from course_lib.datasets import (
    DatasetLayoutError,
    UnreadableFilesWarning,
    UnreadableImageError,
    load_image,
    main,
    read_br35h,
    read_dataset,
    read_figshare,
    read_folder,
    read_kaggle,
)
from course_lib.downloads import DownloadError


def write(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    if mode is not None:
        image = image.convert(mode)
    image.save(path)
    return path


def make_tree(root: Path, folders: dict[str, int], ext: str = "png", seed: int = 0) -> Path:
    for k, (folder, n) in enumerate(folders.items()):
        for i in range(n):
            write(root / folder / f"img_{i}.{ext}", blob(seed + 100 * k + i))
    return root


def make_mat(path: Path, image: np.ndarray, label: int, pid: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        group = f.create_group("cjdata")
        group["image"] = image.T.astype(np.int16)  # MATLAB writes columns first
        group["label"] = np.array([[float(label)]])
        group["PID"] = np.array([[ord(c)] for c in pid], dtype=np.uint16)
        group["tumorMask"] = (image > image.mean()).T.astype(np.uint8)
    return path


# --------------------------------------------------------------------------- load_image


@pytest.mark.parametrize(
    ("mode", "ext"),
    [
        ("L", "png"),
        ("L", "jpg"),
        ("RGB", "png"),
        ("RGB", "jpg"),
        ("RGBA", "png"),
        ("LA", "png"),
        ("P", "png"),
        ("I", "tiff"),
        ("F", "tiff"),
    ],
)
def test_load_image_gives_grayscale_uint8_for_every_mode(tmp_path, mode, ext):
    gray = blob(1)
    path = write(tmp_path / f"x.{ext}", gray, mode)
    out = load_image(path)
    assert out.dtype == np.uint8
    assert out.shape == gray.shape
    tolerance = 3 if ext == "jpg" else 1  # lossy JPEG, palette rounding
    if mode in ("I", "F"):  # min-max scaled; the blob spans 0..255 already
        tolerance = 1
    assert np.abs(out.astype(int) - gray.astype(int)).mean() <= tolerance


def test_load_image_scales_16_bit_by_its_range(tmp_path):
    raw = np.array([[1000, 2000], [3000, 1000]], dtype=np.uint16)
    path = tmp_path / "x16.png"
    Image.fromarray(raw).save(path)
    with Image.open(path) as img:
        assert img.mode.startswith("I;16")
    np.testing.assert_array_equal(load_image(path), [[0, 128], [255, 0]])


def test_load_image_constant_16_bit_is_zeros(tmp_path):
    path = tmp_path / "c.png"
    Image.fromarray(np.full((4, 4), 700, np.uint16)).save(path)
    np.testing.assert_array_equal(load_image(path), np.zeros((4, 4), np.uint8))


def test_load_image_truncated_jpeg_names_the_path(tmp_path):
    path = write(tmp_path / "full.jpg", blob(2, 64))
    data = path.read_bytes()
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImageError, match="truncated.jpg"):
        load_image(bad)


def test_load_image_not_an_image(tmp_path):
    bad = tmp_path / "fake.png"
    bad.write_text("hello")
    with pytest.raises(UnreadableImageError, match="fake.png"):
        load_image(bad)


def test_load_image_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_image(tmp_path / "nope.png")


# --------------------------------------------------------------------------- figshare


def test_figshare_mat_is_read_rows_first(tmp_path):
    image = np.arange(6 * 8, dtype=np.int16).reshape(6, 8)
    path = make_mat(tmp_path / "1.mat", image, 2, "MR040")
    record = datasets.read_figshare_mat(path)
    np.testing.assert_array_equal(record["image"], image)
    assert (record["label"], record["patient_id"]) == (2, "MR040")
    assert record["tumor_mask"].shape == (6, 8)
    out = load_image(path)
    assert out.shape == (6, 8)
    assert (out[0, 0], out[-1, -1]) == (0, 255)


def test_read_figshare_maps_labels_and_reports_bad_files(tmp_path):
    for i, (label, pid) in enumerate([(1, "P1"), (2, "P1"), (3, "P2")]):
        make_mat(tmp_path / "part" / f"{i}.mat", blob(i), label, pid)
    (tmp_path / "broken.mat").write_bytes(b"not hdf5")
    with h5py.File(tmp_path / "cvind.mat", "w") as f:
        f["cvind"] = np.ones(3)
    with pytest.warns(UnreadableFilesWarning, match="broken.mat"):
        index = read_figshare(tmp_path)
    assert list(index["class_name"]) == ["meningioma", "glioma", "pituitary"]
    assert list(index["label"]) == [1, 0, 3]
    assert list(index["patient_id"]) == ["P1", "P1", "P2"]
    assert list(index["mask_path"]) == list(index["path"])
    assert [Path(p).name for p, _ in index.attrs["unreadable"]] == ["broken.mat"]


def test_read_figshare_unknown_label_is_reported(tmp_path):
    make_mat(tmp_path / "a.mat", blob(0), 1, "P1")
    make_mat(tmp_path / "b.mat", blob(1), 7, "P2")
    with pytest.warns(UnreadableFilesWarning, match="unknown cjdata/label 7"):
        index = read_figshare(tmp_path)
    assert len(index) == 1


@pytest.mark.parametrize("content", ["empty", "missing"])
def test_read_figshare_without_files_raises(tmp_path, content):
    root = tmp_path if content == "empty" else tmp_path / "missing"
    with pytest.raises(DatasetLayoutError, match="figshare|No dataset"):
        read_figshare(root)


def test_broken_mat_raises_in_load_image(tmp_path):
    (tmp_path / "x.mat").write_bytes(b"junk")
    with pytest.raises(UnreadableImageError, match="x.mat"):
        load_image(tmp_path / "x.mat")


# --------------------------------------------------------------------------- folder readers


def test_read_folder_understands_aliases(tmp_path):
    make_tree(tmp_path, {"glioma_tumor": 2, "Meningioma": 1, "no tumor": 2, "pituitary_tumor": 1})
    (tmp_path / "glioma_tumor" / "notes.txt").write_text("ignored")
    index = read_folder(tmp_path)
    assert list(index.columns[:6]) == list(datasets.INDEX_COLUMNS)
    assert list(index["class_name"]) == ["glioma"] * 2 + ["meningioma"] + ["notumor"] * 2 + [
        "pituitary"
    ]
    assert list(index["label"]) == [0, 0, 1, 2, 2, 3]
    assert index["patient_id"].isna().all()
    assert index.attrs["classes"] == CLASS_NAMES


def test_read_folder_custom_classes(tmp_path):
    make_tree(tmp_path, {"normal": 1, "yes": 2})
    index = read_folder(tmp_path, classes=["notumor", "tumor"])
    assert list(index["label"]) == [0, 1, 1]
    assert list(index["class_name"]) == ["notumor", "tumor", "tumor"]


def test_read_folder_unknown_class_folder(tmp_path):
    make_tree(tmp_path, {"glioma": 1, "cats": 1})
    with pytest.raises(DatasetLayoutError, match="'cats'.*not one of the classes"):
        read_folder(tmp_path)


def test_read_folder_empty_class_folder(tmp_path):
    make_tree(tmp_path, {"glioma": 1})
    (tmp_path / "meningioma").mkdir()
    with pytest.raises(DatasetLayoutError, match="holds no images"):
        read_folder(tmp_path)


def test_read_folder_without_subfolders(tmp_path):
    write(tmp_path / "a.png", blob(0))
    with pytest.raises(DatasetLayoutError, match="found no sub-folders"):
        read_folder(tmp_path)


def test_read_folder_missing_root(tmp_path):
    with pytest.raises(DatasetLayoutError, match="not found"):
        read_folder(tmp_path / "nothing")


def test_read_folder_duplicate_classes(tmp_path):
    with pytest.raises(ValueError, match="distinct"):
        read_folder(tmp_path, classes=["a", "a"])


def test_read_folder_verify_drops_and_reports_unreadable(tmp_path):
    make_tree(tmp_path, {"glioma": 2})
    (tmp_path / "glioma" / "bad.png").write_bytes(b"\x89PNG broken")
    assert len(read_folder(tmp_path)) == 3  # listing alone does not open files
    with pytest.warns(UnreadableFilesWarning, match="bad.png"):
        index = read_folder(tmp_path, verify=True)
    assert len(index) == 2
    assert Path(index.attrs["unreadable"][0][0]).name == "bad.png"


def kaggle_tree(root: Path, n: int = 2) -> Path:
    for s, split in enumerate(("Training", "Testing")):
        make_tree(root / split, {c: n for c in CLASS_NAMES}, ext="jpg", seed=1000 * s)
    return root


@pytest.mark.parametrize("level", ["root", "parent"])
def test_read_kaggle(tmp_path, level):
    kaggle_tree(tmp_path / "brain-tumor-mri")
    index = read_kaggle(tmp_path / "brain-tumor-mri" if level == "root" else tmp_path)
    assert len(index) == 16
    assert index.groupby("split").size().to_dict() == {"test": 8, "train": 8}
    assert set(index["source"]) == {"kaggle"}
    assert index.groupby("class_name").size().to_dict() == dict.fromkeys(CLASS_NAMES, 4)


def test_read_kaggle_wrong_layout(tmp_path):
    make_tree(tmp_path, {"glioma": 1})
    with pytest.raises(DatasetLayoutError, match=r"Training/ and Testing/.*found \['glioma'\]"):
        read_kaggle(tmp_path)
    with pytest.raises(DatasetLayoutError, match="No dataset folder"):
        read_kaggle(tmp_path / "nothing")


def test_read_br35h(tmp_path):
    make_tree(tmp_path / "br35h", {"yes": 3, "no": 2, "pred": 1})
    index = read_br35h(tmp_path)
    assert list(index["label"]) == [0, 0, 1, 1, 1]
    assert list(index["class_name"]) == ["notumor"] * 2 + ["tumor"] * 3
    assert index.attrs["classes"] == ("notumor", "tumor")


def test_read_br35h_wrong_layout(tmp_path):
    make_tree(tmp_path, {"glioma": 1})
    with pytest.raises(DatasetLayoutError, match="yes/ and no/"):
        read_br35h(tmp_path)
    with pytest.raises(DatasetLayoutError, match="No dataset folder"):
        read_br35h(tmp_path / "nothing")
    (tmp_path / "yes").mkdir()
    (tmp_path / "no").mkdir()
    with pytest.raises(DatasetLayoutError, match="holds no images"):
        read_br35h(tmp_path)


def test_read_dataset_dispatch(tmp_path):
    kaggle_tree(tmp_path / "k", n=1)
    assert set(read_dataset("folder", tmp_path / "k")["source"]) == {"folder"}
    assert len(read_dataset("kaggle", tmp_path / "k")) == 8
    make_tree(tmp_path / "f", {"glioma": 1, "notumor": 1})
    assert list(read_dataset("folder", tmp_path / "f")["split"]) == [None, None]
    with pytest.raises(ValueError, match="source must be one of"):
        read_dataset("imagenet", tmp_path)


# --------------------------------------------------------------------------- prepare


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
    rename = datasets.os.rename

    def lose_the_race(src, dst):
        # Another process finished first: its folder appears, our rename then fails.
        shutil.copytree(src, dst)
        if theirs == "other":
            (Path(dst) / "dataset.json").write_text('{"format": "someone else"}')
        raise OSError("Directory not empty")

    monkeypatch.setattr(datasets.os, "rename", lose_the_race)
    if theirs == "same":
        assert datasets.prepare_synthetic(out, **SMALL) == out
    else:
        with pytest.raises(FileExistsError, match="not a complete synthetic dataset"):
            datasets.prepare_synthetic(out, **SMALL)
    monkeypatch.setattr(datasets.os, "rename", rename)
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


# --------------------------------------------------------------------------- audit


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


@pytest.fixture
def dup_tree(tmp_path):
    """Kaggle layout with one exact duplicate across splits and one near duplicate in train."""
    root = tmp_path / "ds"
    for i, name in enumerate(CLASS_NAMES):
        for j in range(3):
            write(root / "Training" / name / f"tr{j}.png", blob(10 * i + j, 64))
        write(root / "Testing" / name / "te0.png", blob(500 + i, 64))
    shutil.copy(root / "Training/glioma/tr0.png", root / "Testing/glioma/copy.png")
    near = blob(11, 64).astype(int) + np.random.default_rng(0).integers(-3, 4, (64, 64))
    write(root / "Training/meningioma/near.png", np.clip(near, 0, 255).astype(np.uint8))
    (root / "Training/pituitary/broken.png").write_bytes(b"\x89PNG nope")
    return root


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
    with pytest.raises(DatasetLayoutError, match="not a known layout"):
        audit(tmp_path)


def test_audit_cli_json_and_text(dup_tree, capsys):
    assert main(["audit", str(dup_tree), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["n_images"] == 19
    assert len(printed["exact_duplicates"]) == 1
    assert main(["audit", str(dup_tree)]) == 0
    assert "near duplicate pairs: 1" in capsys.readouterr().out


def test_cli_prepare(tmp_path, capsys):
    pytest.importorskip("course_lib.synthetic")
    out = tmp_path / "cli"
    code = main(
        [
            "prepare",
            "synthetic",
            "--out",
            str(out),
            "--image-size",
            "32",
            "--per-class",
            "4",
            "--test-per-class",
            "4",
            "--seed",
            "1",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert len(read_kaggle(out)) == 32


def test_cli_prepare_default_uses_the_profile(tmp_path, monkeypatch, capsys):
    pytest.importorskip("course_lib.synthetic")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert main(["prepare", "default", "--profile", "smoke", "--per-class", "4"]) == 0
    out = Path(capsys.readouterr().out.strip())
    expected = datasets.synthetic_dir(datasets.synthetic_params("smoke", per_class=4), tmp_path)
    assert out == expected
    assert (out / "dataset.json").is_file()
    assert out.stat().st_mode & 0o777 == 0o755


def test_cli_reports_errors(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("x")
    code = main(["prepare", "synthetic", "--out", str(tmp_path / "x"), "--image-size", "32"])
    assert code == 1
    assert "left untouched" in capsys.readouterr().err


# --------------------------------------------------------------------------- download


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name", ["kaggle", "figshare", "br35h"])
def test_download_offline_fails_fast_with_instructions(tmp_path, offline, name):
    start = time.perf_counter()
    with pytest.raises(DownloadError, match="by hand"):
        downloads.download(name, tmp_path / name)
    assert time.perf_counter() - start < 2


def test_download_does_not_hang_on_a_silent_network(tmp_path, monkeypatch):
    release = threading.Event()

    def hang(*args, **kwargs):  # a DNS lookup that never answers
        release.wait(10)
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.perf_counter()
    try:
        with pytest.raises(DownloadError, match="within 0.3 s"):
            downloads.download("figshare", tmp_path, timeout=0.3)
    finally:
        release.set()
    assert time.perf_counter() - start < 2


def test_download_cli_offline(tmp_path, offline, capsys):
    assert main(["download", "br35h", "--dest", str(tmp_path)]) == 1
    assert "offline" in capsys.readouterr().err


def test_download_failure_wrapped(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "_online", lambda host, timeout: True)

    def broken(url, dest, timeout):
        raise ConnectionError("reset by peer")

    monkeypatch.setattr(downloads, "_download_figshare", broken)
    with pytest.raises(DownloadError, match="reset by peer.*by hand"):
        downloads.download("figshare", tmp_path)


def test_download_kaggle_verifies_what_arrived(tmp_path, monkeypatch):
    import kagglehub

    monkeypatch.setattr(downloads, "_online", lambda host, timeout: True)
    handles = []

    def fake_download(handle, path=None, *, force_download=False, output_dir=None):
        handles.append(handle)
        kaggle_tree(Path(output_dir) / "nested", n=1)
        return output_dir

    monkeypatch.setattr(kagglehub, "dataset_download", fake_download)
    with pytest.warns(UserWarning, match="expected 5712 images in train, found 4"):
        out = downloads.download("kaggle", tmp_path / "k")
    assert out == tmp_path / "k"
    assert handles == ["masoudnickparvar/brain-tumor-mri-dataset"]


def test_download_figshare_unpacks_inner_zips(tmp_path, monkeypatch):
    import io
    import zipfile

    import requests

    parts = tmp_path / "parts"
    for i, label in enumerate((1, 2, 3)):
        make_mat(parts / f"{i + 1}.mat", blob(i), label, f"P{i}")
    inner, outer = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        for mat in sorted(parts.iterdir()):
            z.write(mat, mat.name)
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("brainTumorDataPublic_1-3.zip", inner.getvalue())
        z.writestr("README.txt", "figshare")

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def raise_for_status(self):
            return None

        def iter_content(self, size):
            data = outer.getvalue()
            return [data[k : k + size] for k in range(0, len(data), size)]

    monkeypatch.setattr(downloads, "_online", lambda host, timeout: True)
    monkeypatch.setattr(requests, "get", lambda url, stream, timeout: Response())
    with pytest.warns(UserWarning, match="expected 3064 images, found 3"):
        out = downloads.download("figshare", tmp_path / "fs")
    assert sorted(p.name for p in out.iterdir()) == ["README.txt", "brainTumorDataPublic_1-3"]
    assert len(read_figshare(out)) == 3


def test_download_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        downloads.download("mnist", tmp_path)
    with pytest.raises(ValueError, match="name must be one of"):
        downloads.verify_download("mnist", tmp_path)


def test_verify_download_checks_classes_and_counts(tmp_path):
    make_tree(tmp_path / "only_yes", {"yes": 2, "no": 1})
    with pytest.warns(UserWarning, match="expected 3000 images, found 3"):
        index = downloads.verify_download("br35h", tmp_path / "only_yes")
    assert len(index) == 3
    make_tree(tmp_path / "k", {"glioma": 1})
    make_tree(tmp_path / "k2" / "Training", {"glioma": 1})
    make_tree(tmp_path / "k2" / "Testing", {"glioma": 1})
    with pytest.raises(DatasetLayoutError, match="lacks classes"):
        downloads.verify_download("kaggle", tmp_path / "k2")


# --------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_read_folder_on_real_sample(real_sample_dir):
    index = read_folder(real_sample_dir, verify=True)
    assert set(index["class_name"]) == set(CLASS_NAMES)
    assert index.attrs["unreadable"] == []
    image = load_image(index.loc[0, "path"])
    assert image.dtype == np.uint8
    assert image.ndim == 2
    assert isinstance(index, pd.DataFrame)


@pytest.mark.realdata
def test_audit_real_sample_has_no_false_duplicates(real_sample_dir):
    # The default threshold was chosen on this sample: distinct slices are >= 38 bits apart.
    report = audit(real_sample_dir)
    assert report.n_images == 80
    assert report.exact_duplicates == []
    assert report.near_duplicates == []
    assert report.sizes == {"224x224": 80}


def test_synthetic_folder_name_follows_the_generator_version(monkeypatch):
    params = datasets.synthetic_params("smoke")
    before = datasets.synthetic_dir(params, "/data")
    monkeypatch.setattr(datasets, "GENERATOR_VERSION", datasets.GENERATOR_VERSION + 1)
    assert datasets.synthetic_dir(params, "/data") != before
