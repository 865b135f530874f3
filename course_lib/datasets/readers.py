"""Readers: a dataset folder in, an *index* out (one row per image).

Every reader returns a :class:`pandas.DataFrame` with the columns

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
figshare: ``mask_path``, the ``.mat`` file holding the tumour mask). ``index.attrs`` holds
``classes`` (the class names in label order), ``root``, ``skipped`` (``{"hidden": [...],
"unsupported": [...]}``: files not read, see :func:`~course_lib.datasets.images.list_images`)
and, after ``verify=True``, ``unreadable`` (``[(path, error)]``).

Unreadable files: the folder readers only list files (fast) unless ``verify=True``, then they
drop unreadable files, list them in ``index.attrs["unreadable"]`` and warn;
:func:`read_figshare` must open every file and always skips-with-report the same way.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd

from course_lib._validation import check_choice
from course_lib.config import CLASS_NAMES
from course_lib.datasets.images import (
    IMAGE_EXTENSIONS,
    UnreadableImageError,
    is_hidden,
    list_images,
    open_image,
    read_figshare_mat,
)

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

#: The dataset sources :func:`read_dataset` knows.
SOURCES = ("synthetic", "folder", "kaggle", "figshare", "br35h")

SPLIT_FOLDERS = {"train": ("training", "train"), "test": ("testing", "test")}


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


def check_classes(classes) -> tuple[str, ...]:
    """Class names in label order: ``None`` gives ``CLASS_NAMES``; each name must be distinct.

    Raises:
        ValueError: If ``classes`` is empty or has a name twice.

    >>> check_classes(["glioma", "pituitary"])
    ('glioma', 'pituitary')
    """
    classes = CLASS_NAMES if classes is None else tuple(str(c) for c in classes)
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct names, got {classes!r}")
    return classes


# --------------------------------------------------------------------------- building blocks


def new_index(rows: list[dict], classes: tuple[str, ...]) -> pd.DataFrame:
    """An index from rows (dicts with the :data:`INDEX_COLUMNS` and any extra columns)."""
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
    return sorted(p for p in root.iterdir() if p.is_dir() and not is_hidden(p.name))


def _no_skips() -> dict[str, list[str]]:
    return {"hidden": [], "unsupported": []}


def _merge_skips(*frames: pd.DataFrame) -> dict[str, list[str]]:
    merged = _no_skips()
    for frame in frames:
        for kind, paths in frame.attrs.get("skipped", {}).items():
            merged[kind] = merged.get(kind, []) + list(paths)
    return merged


def verify_images(frame: pd.DataFrame) -> pd.DataFrame:
    """Open every image of an index; drop unreadable ones, list them in ``attrs["unreadable"]``.

    Warns:
        UnreadableFilesWarning: If any file was dropped.
    """
    bad = []
    for path in frame["path"]:
        try:
            open_image(path)
        except UnreadableImageError as error:
            bad.append((path, str(error)))
    return drop_unreadable(frame, bad)


def drop_unreadable(frame: pd.DataFrame, bad: list[tuple[str, str]]) -> pd.DataFrame:
    """Drop the rows whose path is in ``bad`` (``[(path, error)]``) and record them."""
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


def _class_folder_rows(folder: Path, label: int, classes, split, source, skipped) -> list[dict]:
    listing = list_images(folder)
    skipped["hidden"] += [str(p) for p in listing.hidden]
    skipped["unsupported"] += [str(p) for p in listing.unsupported]
    if not listing.images:
        extra = []
        if listing.hidden:
            extra.append(f"{len(listing.hidden)} file(s) in hidden folders were skipped")
        if listing.unsupported:
            kinds = sorted({p.suffix.lower() or "(none)" for p in listing.unsupported})
            extra.append(f"{len(listing.unsupported)} file(s) of unsupported type {kinds}")
        note = f" ({'; '.join(extra)})" if extra else ""
        raise DatasetLayoutError(
            f"Class folder {str(folder)!r} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})"
            f"{note}. Put its images there, or remove the empty folder."
        )
    return [
        {
            "path": str(path.resolve()),
            "label": label,
            "class_name": classes[label],
            "split": split,
            "patient_id": pd.NA,
            "source": source,
        }
        for path in listing.images
    ]


# --------------------------------------------------------------------------- readers


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
    ``no_tumor``, ``normal``, ...). Hidden files and folders (``.ipynb_checkpoints/``) and
    ``__MACOSX/`` are skipped at every depth; so are files that are not images (both counted in
    ``index.attrs["skipped"]``).

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
    classes = check_classes(classes)
    wanted = {canonical_class(c) or c: i for i, c in enumerate(classes)}
    if not root.is_dir():
        raise DatasetLayoutError(
            f"No folder at {str(root)!r}: expected a folder of class folders "
            f"({', '.join(classes)}). Check the path."
        )
    folders = _subdirs(root)
    if not folders:
        raise DatasetLayoutError(
            f"Expected one sub-folder per class ({', '.join(classes)}) in {str(root)!r}; "
            "found no sub-folders."
        )
    names = [f.name for f in folders]
    for folder in folders:
        name = canonical_class(folder.name) or folder.name
        if name not in wanted:
            raise DatasetLayoutError(_unknown_folder_message(folder.name, root, names, classes))
    rows, skipped = [], _no_skips()
    for folder in folders:
        label = wanted[canonical_class(folder.name) or folder.name]
        rows += _class_folder_rows(folder, label, classes, split, source, skipped)
    frame = new_index(rows, classes).sort_values(["label", "path"], kind="stable")
    frame = frame.reset_index(drop=True)
    frame.attrs.update(root=str(root), skipped=skipped)
    return verify_images(frame) if verify else frame


def _unknown_folder_message(folder: str, root: Path, names: list[str], classes) -> str:
    lowered = {n.lower() for n in names}
    if {"yes", "no"} <= lowered and "tumor" not in classes:
        return (
            f"{str(root)!r} holds yes/ and no/ folders: that is the Br35H layout (tumour or not), "
            "not four classes. Read it as Br35H: source='br35h' (command line: "
            "--data.source br35h)."
        )
    if lowered & set(SPLIT_FOLDERS["train"] + SPLIT_FOLDERS["test"]):
        return _missing_split_message(root)
    aliases = sorted(a for a, c in CLASS_ALIASES.items() if c in classes and a != c)
    return (
        f"Folder {folder!r} in {str(root)!r} is not one of the classes {list(classes)} "
        f"(folder names also understood: {aliases}); found folders {names}. Rename or remove "
        "it, or pass the classes you have (classes=..., command line --data.classes)."
    )


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


def has_split_folders(root: str | os.PathLike) -> bool:
    """Whether ``root`` (or a folder in it) holds both a Training and a Testing folder."""
    root = Path(root)
    return root.is_dir() and _locate(root, SPLIT_FOLDERS) is not None


def _merge_metadata(frame: pd.DataFrame, root: Path) -> pd.DataFrame:
    """Join ``metadata.csv`` (written by the synthetic writer) onto the index by path."""
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


def read_kaggle(
    root: str | os.PathLike, classes=None, *, verify: bool = False, source: str = "kaggle"
) -> pd.DataFrame:
    """Read the Kaggle "Brain Tumor MRI Dataset" layout (also the synthetic set).

    ``root/Training/<class>/*.jpg`` and ``root/Testing/<class>/*.jpg`` (``train``/``test`` and
    any letter case accepted); ``root`` may also be the folder one level up. A ``metadata.csv``
    beside the split folders (the synthetic set) adds patient ids and metadata.

    Args:
        root: The dataset folder, or the folder that contains it.
        classes: Class names in label order (default ``CLASS_NAMES``).
        verify: Open every image and drop (and report) unreadable ones.
        source: Value of the ``source`` column (a ``metadata.csv`` may override it).

    Returns:
        The index with ``split`` ``"train"``/``"test"`` and labels into ``classes``.

    Raises:
        DatasetLayoutError: If no ``Training``/``Testing`` pair is found, or a split folder has
            an unknown or empty class folder.
    """
    root = Path(root)
    classes = check_classes(classes)
    if not root.is_dir():
        raise DatasetLayoutError(f"No dataset folder at {str(root)!r}. Check the path.")
    base = _locate(root, SPLIT_FOLDERS)
    if base is None:
        raise DatasetLayoutError(_missing_split_message(root))
    parts = [
        read_folder(_find_child(base, names), classes, split=split, source=source)
        for split, names in SPLIT_FOLDERS.items()
    ]
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs = {"classes": classes, "root": str(base), "skipped": _merge_skips(*parts)}
    frame = _merge_metadata(frame, base)
    return verify_images(frame) if verify else frame


def _missing_split_message(root: Path) -> str:
    for candidate in [root, *_subdirs(root)]:
        found = {split: _find_child(candidate, names) for split, names in SPLIT_FOLDERS.items()}
        present = [p for p in found.values() if p is not None]
        if len(present) == 1:
            have = present[0]
            missing = "Testing" if found["train"] is not None else "Training"
            return (
                f"{str(candidate)!r} has {have.name}/ but no {missing}/ folder. Add the "
                f"{missing} split, or read {have.name}/ alone as a class-per-folder tree "
                f"(source='folder', root={str(have)!r}), which splits off a test part by "
                "patient."
            )
    return (
        f"Expected Training/ and Testing/ folders (the Kaggle layout) in {str(root)!r} or one "
        f"level below; found {[p.name for p in _subdirs(root)]}."
    )


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
        raise DatasetLayoutError(f"No dataset folder at {str(root)!r}. Check the path.")
    base = _locate(root, {"yes": ("yes",), "no": ("no",)})
    if base is None:
        raise DatasetLayoutError(
            f"Expected yes/ and no/ folders (Br35H) in {str(root)!r} or one level below; "
            f"found {[p.name for p in _subdirs(root)]}."
        )
    rows, skipped = [], _no_skips()
    for label, name in enumerate(("no", "yes")):
        folder = _find_child(base, (name,))
        rows += _class_folder_rows(folder, label, BINARY_CLASSES, None, "br35h", skipped)
    frame = new_index(rows, BINARY_CLASSES)
    frame.attrs.update(root=str(base), skipped=skipped)
    return verify_images(frame) if verify else frame


def read_figshare(root: str | os.PathLike) -> pd.DataFrame:
    """Read the figshare set of Cheng et al. (``*.mat`` v7.3 files anywhere under ``root``).

    Every file is opened for its label and patient id; unreadable files and ``.mat`` files
    without ``cjdata`` (such as ``cvind.mat``) are skipped and listed in
    ``index.attrs["unreadable"]`` with a warning. Hidden files and folders are skipped.

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
        raise DatasetLayoutError(f"No dataset folder at {str(root)!r}. Check the path.")
    listing = list_images(root)
    files = [
        p
        for p in listing.unsupported
        if p.suffix.lower() == ".mat" and p.name.lower() != "cvind.mat"
    ]
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
    frame = new_index(rows, CLASS_NAMES)
    others = [str(p) for p in listing.unsupported if p.suffix.lower() != ".mat"]
    frame.attrs.update(
        root=str(root),
        skipped={"hidden": [str(p) for p in listing.hidden], "unsupported": others},
    )
    return drop_unreadable(frame, bad)


def read_dataset(
    source: str, root: str | os.PathLike, *, classes=None, verify: bool = False
) -> pd.DataFrame:
    """Read a dataset by source name.

    Args:
        source: ``"kaggle"``, ``"synthetic"`` (same layout), ``"figshare"``, ``"br35h"`` or
            ``"folder"`` (a class-per-folder tree, or a Training/Testing pair of them).
        root: Its folder.
        classes: Class names in label order for ``kaggle``, ``synthetic`` and ``folder``
            (default ``CLASS_NAMES``; the others have their own).
        verify: Open every image and drop (and report) unreadable ones (figshare files are
            always opened).

    Returns:
        The index.

    Raises:
        ValueError: If ``source`` is unknown, or ``classes`` is given for a source with fixed
            classes.
    """
    check_choice("source", source, SOURCES)
    if source in ("figshare", "br35h") and classes is not None:
        raise ValueError(f"source={source!r} has fixed classes; leave classes=None")
    if source == "figshare":
        return read_figshare(root)  # it opens every file anyway
    if source == "br35h":
        return read_br35h(root, verify=verify)
    if source == "folder" and not has_split_folders(root):
        return read_folder(root, classes, verify=verify)
    return read_kaggle(
        root, classes, verify=verify, source="folder" if source == "folder" else "kaggle"
    )
