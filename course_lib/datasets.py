"""Datasets on disk: the index, image loading, readers, and the synthetic set.

Every reader returns an *index*: a :class:`pandas.DataFrame` with one row per image and the
columns

============== ===================================================================
``path``       absolute path of the image file (``str``)
``label``      integer class, an index into ``classes`` (``CLASS_NAMES`` unless stated)
``class_name`` the canonical class name (``"glioma"``, ``"notumor"``, ...)
``split``      ``"train"``, ``"test"`` or ``None`` when the dataset has no split
``patient_id`` ``str``, or ``pd.NA`` when the dataset does not say
``source``     ``"kaggle"``, ``"figshare"``, ``"br35h"``, ``"synthetic"`` or ``"folder"``
============== ===================================================================

plus any metadata the dataset carries (synthetic: ``site``, ``contrast``, ``slice_index``,
``duplicate_of`` (row of the original in the index, ``-1`` for none) and ``mask_path``;
figshare: ``mask_path``, the ``.mat`` file holding the tumour mask). The index's
``attrs["classes"]`` holds the class names in label order.

Unreadable files: :func:`load_image` raises :class:`UnreadableImageError` naming the path;
the folder readers only list files (fast) unless ``verify=True``, then they drop unreadable files,
list them in ``index.attrs["unreadable"]`` and warn; :func:`read_figshare` must open every file
and always skips-with-report the same way; :func:`audit` reports them in
``AuditReport.unreadable``.

Command line::

    python -m course_lib.datasets prepare default [--profile P]   # what `make lab` runs
    python -m course_lib.datasets prepare synthetic [--out DIR --image-size N --per-class N
                                                     --test-per-class N --seed N --profile P]
    python -m course_lib.datasets download kaggle|figshare|br35h [--dest DIR]
    python -m course_lib.datasets audit PATH [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from course_lib.config import CLASS_NAMES, data_dir, get_profile
from course_lib.synthetic import GENERATOR_VERSION

#: File extensions the folder readers treat as images.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif"})

#: Columns every index has, in this order.
INDEX_COLUMNS = ("path", "label", "class_name", "split", "patient_id", "source")

#: Classes of Br35H (binary), in label order.
BINARY_CLASSES: tuple[str, ...] = ("notumor", "tumor")

#: Folder names understood as class names (lower case, ``-``/space read as ``_``).
CLASS_ALIASES: dict[str, str] = {
    **{name: name for name in CLASS_NAMES + BINARY_CLASSES},
    "glioma_tumor": "glioma",
    "gliomas": "glioma",
    "meningioma_tumor": "meningioma",
    "meningiomas": "meningioma",
    "pituitary_tumor": "pituitary",
    "pituitary_adenoma": "pituitary",
    "no_tumor": "notumor",
    "no_tumour": "notumor",
    "notumour": "notumor",
    "no": "notumor",
    "normal": "notumor",
    "healthy": "notumor",
    "yes": "tumor",
    "tumour": "tumor",
    "tumor_present": "tumor",
}

#: figshare ``cjdata/label`` (1 meningioma, 2 glioma, 3 pituitary) to class name.
FIGSHARE_LABELS = {1: "meningioma", 2: "glioma", 3: "pituitary"}

_SPLIT_FOLDERS = {"train": ("training", "train"), "test": ("testing", "test")}
_MARKER = "dataset.json"
_FORMAT = f"course_lib.synthetic/{GENERATOR_VERSION}"
_SHORT = {"glioma": "gl", "meningioma": "me", "notumor": "no", "pituitary": "pi"}


class UnreadableImageError(ValueError):
    """An image file that cannot be decoded (corrupt, truncated or not an image)."""


class DatasetLayoutError(ValueError):
    """A folder that does not have the layout a reader expects."""


class UnreadableFilesWarning(UserWarning):
    """Some files were skipped because they could not be read; see ``index.attrs``."""


def canonical_class(name: str) -> str | None:
    """Map a folder name to a canonical class name, or ``None`` when it is not a class.

    >>> canonical_class("Glioma_Tumor"), canonical_class("no tumor"), canonical_class("yes")
    ('glioma', 'notumor', 'tumor')
    >>> canonical_class("pred") is None
    True
    """
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    return CLASS_ALIASES.get(key)


# --------------------------------------------------------------------------- images


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale any numeric array to uint8 by its own min and max (a constant image gives zeros)."""
    array = np.asarray(array, dtype=np.float64)
    low, high = float(array.min()), float(array.max())
    if high <= low:
        return np.zeros(array.shape, dtype=np.uint8)
    return np.round((array - low) * (255.0 / (high - low))).astype(np.uint8)


def read_figshare_mat(path: str | os.PathLike) -> dict:
    """Read one figshare ``.mat`` (MATLAB v7.3, HDF5) file of Cheng et al.

    Args:
        path: The ``.mat`` file with a ``cjdata`` group.

    Returns:
        A dict with ``image`` (H, W) as stored (int16/float, rows first), ``label`` (int,
        1 meningioma, 2 glioma, 3 pituitary), ``patient_id`` (str) and ``tumor_mask``
        (H, W) bool.

    Raises:
        UnreadableImageError: If the file is not HDF5 or lacks the ``cjdata`` fields.
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            data = f["cjdata"]
            # MATLAB stores columns first; h5py hands the transpose back.
            image = np.asarray(data["image"][()]).T
            label = int(np.asarray(data["label"][()]).ravel()[0])
            pid_codes = np.asarray(data["PID"][()]).ravel()
            mask = np.asarray(data["tumorMask"][()]).T.astype(bool)
    except (OSError, KeyError, IndexError, TypeError, ValueError) as error:
        raise UnreadableImageError(
            f"Cannot read {str(path)!r} as a figshare .mat file (MATLAB v7.3 with cjdata/image, "
            f"cjdata/label, cjdata/PID, cjdata/tumorMask): {error}"
        ) from error
    patient_id = "".join(chr(int(code)) for code in pid_codes if int(code) > 0)
    return {"image": image, "label": label, "patient_id": patient_id, "tumor_mask": mask}


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Load any image file as a grayscale uint8 array.

    Handles 8-bit grayscale, RGB, RGBA (alpha dropped), palette and 1-bit images (converted
    with ITU-R 601 luma), 16-bit and float images (scaled by their own min and max to 0..255; a
    constant image gives zeros) and figshare ``.mat`` files (``cjdata/image``, scaled the same
    way).

    Args:
        path: An image file (PNG, JPEG, BMP, TIFF, GIF) or a figshare ``.mat`` file.

    Returns:
        (H, W) uint8 array.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        UnreadableImageError: If the file is corrupt, truncated or not an image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No image file at {str(path)!r}")
    if path.suffix.lower() == ".mat":
        return _to_uint8(read_figshare_mat(path)["image"])
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("L",):
                return np.array(img, dtype=np.uint8)
            if img.mode.startswith(("I", "F")):
                return _to_uint8(np.array(img))
            if img.mode in ("P", "PA"):
                img = img.convert("RGBA")
            return np.array(img.convert("L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise UnreadableImageError(
            f"Cannot read image {str(path)!r} (corrupt, truncated or not an image): {error}"
        ) from error


# --------------------------------------------------------------------------- readers


def _new_index(rows: list[dict], classes: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=list(INDEX_COLUMNS))
    for column in INDEX_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame["label"] = frame["label"].astype("int64")
    frame["patient_id"] = frame["patient_id"].astype("string")
    frame = frame[list(INDEX_COLUMNS) + [c for c in frame.columns if c not in INDEX_COLUMNS]]
    frame.attrs["classes"] = tuple(classes)
    return frame


def _subdirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )


def _verify(frame: pd.DataFrame) -> pd.DataFrame:
    bad = []
    for path in frame["path"]:
        try:
            with Image.open(path) as img:
                img.load()
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
            bad.append((path, str(error)))
    return _drop_unreadable(frame, bad)


def _drop_unreadable(frame: pd.DataFrame, bad: list[tuple[str, str]]) -> pd.DataFrame:
    attrs = dict(frame.attrs)
    if bad:
        frame = frame[~frame["path"].isin([p for p, _ in bad])].reset_index(drop=True)
        warnings.warn(
            f"Skipped {len(bad)} unreadable file(s), e.g. {bad[0][0]!r}: {bad[0][1]}; "
            "the list is in index.attrs['unreadable'].",
            UnreadableFilesWarning,
            stacklevel=3,
        )
    frame.attrs = {**attrs, "unreadable": bad}
    return frame


def read_folder(
    root: str | os.PathLike,
    classes: tuple[str, ...] | list[str] | None = None,
    *,
    split: str | None = None,
    source: str = "folder",
    verify: bool = False,
) -> pd.DataFrame:
    """Read a class-per-folder tree (``root/<class>/**/*.png``) into an index.

    Folder names are matched to classes through :data:`CLASS_ALIASES` (``glioma_tumor``,
    ``no_tumor``, ``normal``, ``yes``, ...). Hidden folders and non-image files are ignored.

    Args:
        root: The folder holding one sub-folder per class.
        classes: Class names in label order (default ``CLASS_NAMES``); every class folder must
            map to one of them, not every class needs a folder.
        split: Value of the ``split`` column (``"train"``, ``"test"`` or ``None``).
        source: Value of the ``source`` column.
        verify: Open every image and drop (and report) unreadable ones.

    Returns:
        The index (see the module docstring), sorted by class then path.

    Raises:
        DatasetLayoutError: If ``root`` is missing, has no class folders, has a folder that is
            not a class, or a class folder without images.
        ValueError: If ``classes`` is empty or has a name twice.
    """
    root = Path(root)
    classes = CLASS_NAMES if classes is None else tuple(classes)
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct names, got {classes!r}")
    wanted = {canonical_class(c) or c: i for i, c in enumerate(classes)}
    if not root.is_dir():
        raise DatasetLayoutError(f"Expected a folder of class folders at {str(root)!r}; not found.")
    folders = _subdirs(root)
    if not folders:
        raise DatasetLayoutError(
            f"Expected one sub-folder per class ({', '.join(classes)}) in {str(root)!r}; "
            f"found no sub-folders."
        )
    rows = []
    for folder in folders:
        name = canonical_class(folder.name) or folder.name
        if name not in wanted:
            raise DatasetLayoutError(
                f"Folder {folder.name!r} in {str(root)!r} is not one of the classes {classes} "
                f"(aliases: {sorted(CLASS_ALIASES)}); found folders "
                f"{[f.name for f in folders]}. Rename or remove it, or pass classes=."
            )
        files = _image_files(folder)
        if not files:
            raise DatasetLayoutError(
                f"Class folder {str(folder)!r} holds no images ({sorted(IMAGE_EXTENSIONS)})."
            )
        label = wanted[name]
        for path in files:
            rows.append(
                {
                    "path": str(path.resolve()),
                    "label": label,
                    "class_name": classes[label],
                    "split": split,
                    "patient_id": pd.NA,
                    "source": source,
                }
            )
    frame = _new_index(rows, classes).sort_values(["label", "path"], kind="stable")
    frame = frame.reset_index(drop=True)
    return _verify(frame) if verify else frame


def _find_child(root: Path, names: tuple[str, ...]) -> Path | None:
    for child in _subdirs(root):
        if child.name.lower() in names:
            return child
    return None


def _locate(root: Path, required: dict[str, tuple[str, ...]]) -> Path | None:
    """Find ``root`` or a child of it that holds every folder in ``required``."""
    for candidate in [root, *_subdirs(root)]:
        if all(_find_child(candidate, names) for names in required.values()):
            return candidate
    return None


def _merge_metadata(frame: pd.DataFrame, root: Path) -> pd.DataFrame:
    """Join ``metadata.csv`` (written by :func:`prepare_synthetic`) onto the index by path."""
    meta_path = root / "metadata.csv"
    if not meta_path.is_file():
        return frame
    meta = pd.read_csv(meta_path, dtype={"patient_id": "string"})
    meta["path"] = [str((root / p).resolve()) for p in meta["path"]]
    if "mask_path" in meta:
        meta["mask_path"] = [str((root / p).resolve()) for p in meta["mask_path"]]
    attrs = dict(frame.attrs)
    meta = meta.set_index("path")
    frame = frame.set_index("path", drop=False)
    frame["patient_id"] = meta["patient_id"].reindex(frame.index).astype("string")
    if "source" in meta:
        frame["source"] = meta["source"].reindex(frame.index).fillna(frame["source"])
    if "duplicate_of" in meta:
        # Stored as the original's relative path; turned into its row in this index.
        rows = {path: i for i, path in enumerate(frame.index)}
        originals = meta["duplicate_of"].reindex(frame.index)
        frame["duplicate_of"] = [
            rows.get(str((root / o).resolve()), -1) if isinstance(o, str) else -1 for o in originals
        ]
    skip = set(INDEX_COLUMNS) | {"duplicate_of", "label", "class_name", "split"}
    for column in meta.columns:
        if column not in skip:
            frame[column] = meta[column].reindex(frame.index)
    frame = frame.reset_index(drop=True)
    frame.attrs = attrs
    return frame


def read_kaggle(root: str | os.PathLike, *, verify: bool = False) -> pd.DataFrame:
    """Read the Kaggle "Brain Tumor MRI Dataset" layout (also the synthetic set).

    ``root/Training/<class>/*.jpg`` and ``root/Testing/<class>/*.jpg`` (``train``/``test`` and
    any letter case accepted); ``root`` may also be the folder one level up. A ``metadata.csv``
    beside the split folders (the synthetic set) adds patient ids and metadata.

    Args:
        root: The dataset folder, or the folder that contains it.
        verify: Open every image and drop (and report) unreadable ones.

    Returns:
        The index with ``split`` ``"train"``/``"test"`` and labels into ``CLASS_NAMES``.

    Raises:
        DatasetLayoutError: If no ``Training``/``Testing`` pair is found, or a split folder has
            an unknown or empty class folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"No dataset folder at {str(root)!r}.")
    base = _locate(root, _SPLIT_FOLDERS)
    if base is None:
        found = [p.name for p in _subdirs(root)]
        raise DatasetLayoutError(
            f"Expected Training/ and Testing/ folders (the Kaggle layout) in {str(root)!r} or "
            f"one level below; found {found}."
        )
    parts = []
    for split, names in _SPLIT_FOLDERS.items():
        parts.append(read_folder(_find_child(base, names), split=split, source="kaggle"))
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs = {"classes": CLASS_NAMES, "root": str(base)}
    frame = _merge_metadata(frame, base)
    return _verify(frame) if verify else frame


def read_br35h(root: str | os.PathLike, *, verify: bool = False) -> pd.DataFrame:
    """Read Br35H: ``yes/`` and ``no/`` folders (an unlabelled ``pred/`` folder is ignored).

    Args:
        root: The folder holding ``yes`` and ``no``, or the folder one level up.
        verify: Open every image and drop (and report) unreadable ones.

    Returns:
        The index with labels into :data:`BINARY_CLASSES` (0 ``notumor``, 1 ``tumor``) and
        ``split`` ``None``.

    Raises:
        DatasetLayoutError: If no folder with ``yes`` and ``no`` is found, or one is empty.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"No dataset folder at {str(root)!r}.")
    base = _locate(root, {"yes": ("yes",), "no": ("no",)})
    if base is None:
        raise DatasetLayoutError(
            f"Expected yes/ and no/ folders (Br35H) in {str(root)!r} or one level below; "
            f"found {[p.name for p in _subdirs(root)]}."
        )
    parts = [
        _read_class_folder(_find_child(base, (name,)), label, BINARY_CLASSES, "br35h")
        for label, name in enumerate(("no", "yes"))
    ]
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs = {"classes": BINARY_CLASSES, "root": str(base)}
    return _verify(frame) if verify else frame


def _read_class_folder(folder: Path, label: int, classes: tuple[str, ...], source: str):
    files = _image_files(folder)
    if not files:
        raise DatasetLayoutError(f"Class folder {str(folder)!r} holds no images.")
    rows = [
        {
            "path": str(p.resolve()),
            "label": label,
            "class_name": classes[label],
            "split": None,
            "patient_id": pd.NA,
            "source": source,
        }
        for p in files
    ]
    return _new_index(rows, classes)


def read_figshare(root: str | os.PathLike) -> pd.DataFrame:
    """Read the figshare set of Cheng et al. (``*.mat`` v7.3 files anywhere under ``root``).

    Every file is opened for its label and patient id; unreadable files and ``.mat`` files
    without ``cjdata`` (such as ``cvind.mat``) are skipped and listed in
    ``index.attrs["unreadable"]`` with a warning.

    Args:
        root: A folder holding the ``.mat`` files (in any sub-folders).

    Returns:
        The index with labels into ``CLASS_NAMES`` (no ``notumor`` rows), real patient ids,
        ``split`` ``None`` and ``mask_path`` (the same ``.mat``, which holds ``tumorMask``).

    Raises:
        DatasetLayoutError: If ``root`` is missing or holds no readable figshare file.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"No dataset folder at {str(root)!r}.")
    files = sorted(p for p in root.rglob("*.mat") if p.name.lower() != "cvind.mat")
    rows, bad = [], []
    for path in files:
        try:
            record = read_figshare_mat(path)
        except UnreadableImageError as error:
            bad.append((str(path.resolve()), str(error)))
            continue
        name = FIGSHARE_LABELS.get(record["label"])
        if name is None:
            bad.append((str(path.resolve()), f"unknown cjdata/label {record['label']}"))
            continue
        rows.append(
            {
                "path": str(path.resolve()),
                "label": CLASS_NAMES.index(name),
                "class_name": name,
                "split": None,
                "patient_id": record["patient_id"] or pd.NA,
                "source": "figshare",
                "mask_path": str(path.resolve()),
            }
        )
    if not rows:
        raise DatasetLayoutError(
            f"Expected figshare .mat files (cjdata/image, label, PID, tumorMask) under "
            f"{str(root)!r}; found {len(files)} .mat file(s), none readable."
        )
    frame = _new_index(rows, CLASS_NAMES)
    frame.attrs["root"] = str(root)
    return _drop_unreadable(frame, bad)


READERS = {"kaggle": read_kaggle, "synthetic": read_kaggle, "br35h": read_br35h}


def read_dataset(source: str, root: str | os.PathLike) -> pd.DataFrame:
    """Read a dataset by source name.

    Args:
        source: ``"kaggle"``, ``"synthetic"`` (same layout), ``"figshare"``, ``"br35h"`` or
            ``"folder"`` (a class-per-folder tree, or a Training/Testing pair of them).
        root: Its folder.

    Returns:
        The index.

    Raises:
        ValueError: If ``source`` is unknown.
    """
    if source == "figshare":
        return read_figshare(root)
    if source == "folder":
        if _locate(Path(root), _SPLIT_FOLDERS) is not None:
            frame = read_kaggle(root)
            frame["source"] = "folder"
            return frame
        return read_folder(root)
    if source not in READERS:
        raise ValueError(
            f"source must be one of {sorted([*READERS, 'figshare', 'folder'])}, got {source!r}"
        )
    return READERS[source](root)


# --------------------------------------------------------------------------- synthetic set


def _normalise_params(params: dict) -> dict:
    return json.loads(json.dumps(params, sort_keys=True, default=str))


def _split_patients(meta: pd.DataFrame, test_per_class: int, seed: int) -> np.ndarray:
    """Boolean mask of test rows: whole patients per class until ``test_per_class`` slices."""
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(meta), dtype=bool)
    for _, rows in meta.groupby("label", sort=True):
        patients = rng.permutation(np.asarray(rows["patient_id"].unique(), dtype=object))
        taken = 0
        for patient in patients:
            if taken >= test_per_class:
                break
            members = (meta["patient_id"] == patient).to_numpy()
            is_test |= members
            taken += int(members.sum())
    return is_test


def prepare_synthetic(
    out: str | os.PathLike,
    *,
    image_size: int = 128,
    per_class: int | dict[str, int] = 100,
    test_per_class: int = 25,
    seed: int = 0,
    **options,
) -> Path:
    """Write a synthetic dataset in the Kaggle layout, with ``metadata.csv`` and masks.

    Layout: ``out/{Training,Testing}/<class>/{Tr,Te}-<cl>_NNNN.png`` (uint8 grayscale),
    ``out/masks/...`` (same relative names; 0 background, 1 tumour, 2 oedema),
    ``out/metadata.csv`` and, written last, ``out/dataset.json`` (the parameters). Patients are
    never split between Training and Testing. The folder is written under a temporary name beside
    ``out`` and renamed at the end, so a crash never leaves a complete-looking dataset.

    Args:
        out: Folder to create.
        image_size: Side of the square slices in pixels.
        per_class: Training slices per class: an int, or ``{class_name: count}`` for an
            imbalanced set (classes left out get none in Training).
        test_per_class: Testing slices per class, at least 1 (whole patients, so possibly a few
            more).
        seed: Seed of the generator and of the patient split.
        **options: Passed to :func:`course_lib.synthetic.generate_slices` (``sites``,
            ``contrast``, ``difficulty``, ``duplicates``, ``slices_per_patient``).

    Returns:
        ``out``: an existing complete dataset with the same parameters is returned as is.

    Raises:
        ValueError: If a count or size is not a positive integer, or a class name is unknown.
        FileExistsError: If ``out`` holds something else (another dataset or foreign files).
    """
    counts = per_class if isinstance(per_class, dict) else dict.fromkeys(CLASS_NAMES, per_class)
    if not counts or set(counts) - set(CLASS_NAMES):
        raise ValueError(f"per_class keys must be among {CLASS_NAMES}, got {sorted(counts)}")
    checks = [("image_size", image_size), ("test_per_class", test_per_class)]
    checks += [(f"per_class[{k!r}]", v) for k, v in counts.items()]
    for name, value in checks:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    out = Path(out)
    params = _normalise_params(
        {
            "image_size": image_size,
            "per_class": per_class,
            "test_per_class": test_per_class,
            "seed": seed,
            **options,
        }
    )
    existing = _check_existing(out, params)
    if existing is not None:
        return existing
    from course_lib.synthetic import generate_slices

    totals = {name: counts.get(name, 0) + test_per_class for name in CLASS_NAMES}
    data = generate_slices(totals, image_size=image_size, seed=seed, **options)
    meta = data.metadata.reset_index(drop=True).copy()
    meta["patient_id"] = meta["patient_id"].astype(str)
    is_test = _split_patients(meta, test_per_class, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the finished dataset is readable by all
    try:
        relative = _write_synthetic(tmp, data, meta, is_test)
        records = meta.assign(path=relative, split=np.where(is_test, "test", "train"))
        records["mask_path"] = ["masks/" + p for p in relative]
        records["source"] = "synthetic"
        # duplicate_of: the original's row in the generated set becomes its relative path.
        originals = records.get("duplicate_of", pd.Series(-1, index=records.index))
        records["duplicate_of"] = [relative[int(d)] if d >= 0 else "" for d in originals]
        first = ["path", "label", "class_name", "split", "patient_id", "source"]
        records = records[first + [c for c in records.columns if c not in first]]
        records.to_csv(tmp / "metadata.csv", index=False)
        counts = records.groupby(["split", "class_name"]).size()
        marker = {
            "format": _FORMAT,
            "params": params,
            "counts": {f"{s}/{c}": int(n) for (s, c), n in counts.items()},
        }
        (tmp / _MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True))
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        try:
            os.rename(tmp, out)
        except OSError:
            # Someone else finished first: theirs is fine if it has our parameters.
            existing = _check_existing(out, params)
            if existing is None:
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            return existing
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _check_existing(out: Path, params: dict) -> Path | None:
    if not out.exists():
        return None
    if not out.is_dir():
        raise FileExistsError(f"{str(out)!r} exists and is not a folder; choose another out.")
    marker = out / _MARKER
    if marker.is_file():
        try:
            found = json.loads(marker.read_text())
        except (OSError, ValueError):
            found = {}
        if found.get("format") == _FORMAT and found.get("params") == params:
            return out
        if found.get("format") == _FORMAT:
            raise FileExistsError(
                f"{str(out)!r} holds a synthetic dataset with other parameters "
                f"({found.get('params')}), not {params}. Choose another folder or delete it."
            )
        if str(found.get("format", "")).startswith("course_lib.synthetic/"):
            raise FileExistsError(
                f"{str(out)!r} holds a synthetic dataset made by an older generator "
                f"({found['format']}; this is {_FORMAT}), so its images differ from what these "
                "parameters give now. Delete the folder to regenerate it, or choose another."
            )
    if any(out.iterdir()):
        raise FileExistsError(
            f"{str(out)!r} exists and is not a complete synthetic dataset (no {_MARKER} with "
            "matching parameters); it is left untouched. Choose another folder or delete it."
        )
    return None


def _write_synthetic(tmp: Path, data, meta: pd.DataFrame, is_test: np.ndarray) -> list[str]:
    relative = []
    counters: Counter = Counter()
    for row, (name, test) in enumerate(zip(meta["class_name"], is_test, strict=True)):
        split_dir, prefix = ("Testing", "Te") if test else ("Training", "Tr")
        number = counters[(split_dir, name)]
        counters[(split_dir, name)] += 1
        rel = f"{split_dir}/{name}/{prefix}-{_SHORT.get(name, name[:2])}_{number:04d}.png"
        relative.append(rel)
        for base, array in (
            (tmp, np.round(np.clip(data.images[row], 0, 1) * 255).astype(np.uint8)),
            (tmp / "masks", np.asarray(data.tumor_masks[row], dtype=np.uint8)),
        ):
            target = base / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(target)
    return relative


#: Generator options of the default synthetic set (:func:`synthetic_params` adds the sizes).
SYNTHETIC_DEFAULTS = {
    "sites": 3,
    "contrast": "T1CE",
    "difficulty": 1.0,
    "duplicates": 0.0,
    "seed": 0,
}


def synthetic_params(profile=None, **overrides) -> dict:
    """Parameters of :func:`prepare_synthetic` that a profile implies.

    Args:
        profile: A :class:`~course_lib.config.Profile`, its name, or ``None`` (this machine's).
        **overrides: Parameters to change (``per_class``, ``seed``, ``sites``, ...).

    Returns:
        A dict of keyword arguments for :func:`prepare_synthetic` (without ``out``).

    >>> synthetic_params("smoke")["per_class"]
    24
    """
    if profile is None or isinstance(profile, str):
        profile = get_profile(profile)
    params = {
        "image_size": profile.image_size,
        "per_class": profile.samples_per_class,
        "test_per_class": profile.test_per_class,
        "slices_per_patient": profile.slices_per_patient,
        **SYNTHETIC_DEFAULTS,
    }
    params.update(overrides)
    return params


def synthetic_dir(params: dict, root: str | os.PathLike | None = None) -> Path:
    """The folder under ``root`` (default ``data_dir()``) for a synthetic set with ``params``.

    >>> synthetic_dir({"image_size": 64, "per_class": 24}, "/data").as_posix()
    '/data/synthetic-64px-24pc-eb117e5e'
    """
    root = data_dir() if root is None else Path(root)
    keyed = {**_normalise_params(params), "generator": GENERATOR_VERSION}
    digest = hashlib.sha1(json.dumps(keyed, sort_keys=True).encode())
    per_class = params.get("per_class")
    per_class = "mixed" if isinstance(per_class, dict) else per_class
    return root / f"synthetic-{params.get('image_size')}px-{per_class}pc-{digest.hexdigest()[:8]}"


def prepare_default(profile=None, **overrides) -> Path:
    """Make (once) and return the default synthetic dataset for a profile.

    What ``make lab`` and the notebooks call. The folder lives under
    ``course_lib.config.data_dir()`` and is named after its parameters, so each profile (and each
    set of overrides) gets its own.

    Args:
        profile: A profile, its name, or ``None`` (this machine's profile).
        **overrides: Parameters of :func:`prepare_synthetic` to change.

    Returns:
        The dataset folder.
    """
    params = synthetic_params(profile, **overrides)
    return prepare_synthetic(synthetic_dir(params), **params)


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """Command line: ``prepare``, ``download`` and ``audit`` (see the module docstring).

    Returns:
        The exit status (0 success, 1 a handled error, printed to stderr).
    """
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.datasets", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare", help="write a synthetic dataset")
    prep.add_argument(
        "kind",
        choices=["synthetic", "default"],
        help="synthetic: a set with the options below; default: the profile's set (make lab)",
    )
    prep.add_argument("--out", type=Path, default=None, help="folder (default: under data_dir)")
    prep.add_argument("--profile", default=None, help="profile for the defaults")
    prep.add_argument("--image-size", type=int)
    prep.add_argument("--per-class", type=int)
    prep.add_argument("--test-per-class", type=int)
    prep.add_argument("--seed", type=int)
    down = commands.add_parser("download", help="download a public dataset")
    down.add_argument("name", choices=["br35h", "figshare", "kaggle"])
    down.add_argument("--dest", type=Path, default=None)
    down.add_argument("--timeout", type=float, default=5.0)
    aud = commands.add_parser("audit", help="audit a dataset folder")
    aud.add_argument("path", type=Path)
    aud.add_argument("--json", action="store_true", help="print JSON")
    aud.add_argument("--threshold", type=int, default=12, help="near-duplicate bits (of 256)")
    args = parser.parse_args(argv)
    from course_lib.audit import audit
    from course_lib.downloads import DownloadError, download

    try:
        if args.command == "prepare":
            overrides = {
                key: value
                for key, value in (
                    ("image_size", args.image_size),
                    ("per_class", args.per_class),
                    ("test_per_class", args.test_per_class),
                    ("seed", args.seed),
                )
                if value is not None
            }
            params = synthetic_params(args.profile, **overrides)
            out = args.out if args.out is not None else synthetic_dir(params)
            print(prepare_synthetic(out, **params))
        elif args.command == "download":
            print(download(args.name, args.dest, timeout=args.timeout))
        else:
            report = audit(args.path, threshold=args.threshold)
            print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    except (ValueError, FileExistsError, DownloadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
