"""course_lib.datasets.readers: folders in, indexes out."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from phantoms import blob, kaggle_tree, make_mat, make_tree, write

from course_lib import datasets
from course_lib.config import CLASS_NAMES
from course_lib.datasets import (
    DatasetLayoutError,
    UnreadableFilesWarning,
    load_image,
    read_br35h,
    read_dataset,
    read_figshare,
    read_folder,
    read_kaggle,
)


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
    with pytest.raises(DatasetLayoutError, match="No folder at .*nothing"):
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


@pytest.mark.realdata
def test_read_folder_on_real_sample(real_sample_dir):
    index = read_folder(real_sample_dir, verify=True)
    assert set(index["class_name"]) == set(CLASS_NAMES)
    assert index.attrs["unreadable"] == []
    image = load_image(index.loc[0, "path"])
    assert image.dtype == np.uint8
    assert image.ndim == 2
    assert isinstance(index, pd.DataFrame)


def messy_kaggle_tree(root: Path) -> Path:
    """A Kaggle tree with what real folders hold besides images: checkpoints, Mac leftovers."""
    kaggle_tree(root, n=1)
    checkpoints = root / "Testing" / "meningioma" / ".ipynb_checkpoints"
    checkpoints.mkdir()
    original = next((root / "Testing" / "meningioma").glob("*.jpg"))
    shutil.copy(original, checkpoints / "img_0-checkpoint.jpg")
    write(root / "Training" / "glioma" / "__MACOSX" / "._img_0.jpg", blob(7))
    write(root / "Training" / "notumor" / "deep" / ".hidden" / "x.png", blob(8))
    write(root / "Training" / "notumor" / ".DS_Store.png", blob(9))
    (root / "Training" / "pituitary" / "scan.webp").write_bytes(b"RIFF....WEBP")
    (root / "Training" / "pituitary" / "notes.txt").write_text("seen by Dr X")
    return root


def test_readers_skip_hidden_files_and_folders_at_every_depth(tmp_path):
    root = messy_kaggle_tree(tmp_path / "k")
    index = read_kaggle(root)
    assert len(index) == 8  # one image per class and split, nothing else
    assert not any("checkpoint" in p or "MACOSX" in p or "/." in p for p in index["path"])
    assert len(index.attrs["skipped"]["hidden"]) == 4
    assert sorted(Path(p).name for p in index.attrs["skipped"]["unsupported"]) == [
        "notes.txt",
        "scan.webp",
    ]
    assert len(read_folder(root / "Testing")) == 4


def test_empty_class_folder_says_what_was_skipped(tmp_path):
    write(tmp_path / "glioma" / "a.png", blob(1))
    write(tmp_path / "notumor" / ".ipynb_checkpoints" / "a-checkpoint.png", blob(2))
    with pytest.raises(DatasetLayoutError, match="1 file\\(s\\) in hidden folders were skipped"):
        read_folder(tmp_path)


def test_br35h_tree_read_as_four_classes_points_to_the_br35h_reader(tmp_path):
    make_tree(tmp_path, {"yes": 1, "no": 1})
    with pytest.raises(DatasetLayoutError, match="Br35H layout.*--data.source br35h"):
        read_folder(tmp_path)
    with pytest.raises(DatasetLayoutError, match="Br35H layout"):
        read_dataset("folder", tmp_path)


def test_unknown_folder_lists_only_aliases_of_the_classes_asked_for(tmp_path):
    make_tree(tmp_path, {"glioma": 1, "dogs": 1})
    with pytest.raises(DatasetLayoutError, match="Folder 'dogs'") as info:
        read_folder(tmp_path)
    message = str(info.value)
    assert "'glioma_tumor'" in message
    assert "'yes'" not in message  # an alias of Br35H's 'tumor', not of these four classes
    assert "--data.classes" in message
