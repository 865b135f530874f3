"""The synthetic set on disk: written once, in the Kaggle layout, atomically, never over anything.

:func:`prepare_default` is what ``make lab`` and the notebooks call; :func:`prepare_synthetic`
writes a set with any parameters. Layout: ``out/{Training,Testing}/<class>/*.png``, tumour masks
under ``out/masks/``, ``out/metadata.csv`` (patients, sites, contrasts) and ``out/dataset.json``
(the parameters, written last).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from course_lib.config import data_dir
from course_lib.synthetic import generate_slices
from course_lib.synthetic_spec import GENERATOR_VERSION, SyntheticSpec

_MARKER = "dataset.json"
_FORMAT = f"course_lib.synthetic/{GENERATOR_VERSION}"
_SHORT = {"glioma": "gl", "meningioma": "me", "notumor": "no", "pituitary": "pi"}


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


def prepare_synthetic(out: str | os.PathLike, spec: SyntheticSpec | None = None, **fields) -> Path:
    """Write a synthetic dataset in the Kaggle layout, with ``metadata.csv`` and masks.

    Layout: ``out/{Training,Testing}/<class>/{Tr,Te}-<cl>_NNNN.png`` (uint8 grayscale),
    ``out/masks/...`` (same relative names; values of
    :data:`~course_lib.anatomy.TUMOR_LABELS`: 0 background, 1 tumour core, 2 oedema, 3 enhancing),
    ``out/metadata.csv`` and, written last, ``out/dataset.json`` (the spec). Patients are never
    split between Training and Testing. Before anything is generated the spec's split is checked
    (:meth:`SyntheticSpec.check_split`) and the folder is checked to be writable. The set is
    written under a temporary name beside ``out`` and renamed at the end, so a crash never leaves
    a complete-looking dataset, and nothing already in ``out`` is ever overwritten.

    Args:
        out: Folder to create.
        spec: What to write (default ``SyntheticSpec(**fields)``).
        **fields: Fields of a :class:`SyntheticSpec`, when ``spec`` is not given.

    Returns:
        ``out``: an existing complete dataset with the same spec is returned as is (even on a
        read-only disk).

    Raises:
        ValueError: If the spec is invalid or its split would leave Training or Testing without
            a patient of a class.
        TypeError: If both ``spec`` and ``fields`` are given, or a field has the wrong kind.
        FileExistsError: If ``out`` holds something else (another dataset or foreign files).
        PermissionError: If the folder cannot be written (read-only disk, no permission).
    """
    spec = _resolve_spec(spec, fields)
    spec.check_split()
    out = Path(out)
    existing = _check_existing(out, spec)
    if existing is not None:
        return existing
    check_writable(out.parent)
    data = generate_slices(spec)
    meta = data.metadata.reset_index(drop=True).copy()
    meta["patient_id"] = meta["patient_id"].astype(str)
    is_test = _split_patients(meta, spec.test_per_class, spec.seed)
    params = spec.params()
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
            # Someone else finished first: theirs is fine if it has our spec.
            existing = _check_existing(out, spec)
            if existing is None:
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            return existing
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _resolve_spec(spec: SyntheticSpec | None, fields: dict) -> SyntheticSpec:
    if spec is None:
        return SyntheticSpec(**fields)
    if fields:
        raise TypeError(f"give a SyntheticSpec or its fields, not both (got {sorted(fields)})")
    if not isinstance(spec, SyntheticSpec):
        raise TypeError(f"spec must be a SyntheticSpec, got {type(spec).__name__}")
    return spec


def check_writable(folder: str | os.PathLike) -> Path:
    """Make ``folder`` (and its parents) and check that a file can be written in it.

    Args:
        folder: The folder a dataset will be written into.

    Returns:
        The folder.

    Raises:
        PermissionError: If it cannot be created or written (read-only disk, no permission, a
            file in the way); the message says how to choose another data folder.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise PermissionError(
            f"Cannot write the dataset into {str(folder)!r} ({reason}). Point the course at a "
            "writable folder: set COURSE_DATA_DIR=/path/to/writable/folder (or pass --out)."
        ) from error
    return folder


def _stored_spec(found: dict) -> SyntheticSpec | None:
    try:
        return SyntheticSpec(**found.get("params", {}))
    except (TypeError, ValueError):
        return None


def _check_existing(out: Path, spec: SyntheticSpec) -> Path | None:
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
        if found.get("format") == _FORMAT and _stored_spec(found) == spec:
            return out
        if found.get("format") == _FORMAT:
            raise FileExistsError(
                f"{str(out)!r} holds a synthetic dataset with other parameters "
                f"({found.get('params')}), not {spec.params()}. Choose another folder or delete it."
            )
        if str(found.get("format", "")).startswith("course_lib.synthetic/"):
            raise FileExistsError(
                f"{str(out)!r} holds a synthetic dataset made by an older generator "
                f"({found['format']}; this is {_FORMAT}), so its images differ from what this "
                "spec gives now. Delete the folder to regenerate it, or choose another."
            )
    if any(out.iterdir()):
        raise FileExistsError(
            f"{str(out)!r} exists and is not a complete synthetic dataset (no {_MARKER} with "
            "a matching spec); it is left untouched. Choose another folder or delete it."
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


def synthetic_dir(spec: SyntheticSpec, root: str | os.PathLike | None = None) -> Path:
    """The folder under ``root`` (default ``data_dir()``) for a synthetic set with ``spec``.

    >>> synthetic_dir(SyntheticSpec.from_profile("smoke"), "/data").as_posix()[:-8]
    '/data/synthetic-64px-24pc-'
    """
    root = data_dir() if root is None else Path(root)
    return root / spec.folder_name()


def prepare_default(profile=None, **changes) -> Path:
    """Make (once) and return the default synthetic dataset for a profile.

    What ``make lab`` and the notebooks call. The folder lives under
    ``course_lib.config.data_dir()`` and is named after the spec, so each profile (and each set
    of changes) gets its own.

    Args:
        profile: A profile, its name, or ``None`` (this machine's profile).
        **changes: Fields of the :class:`SyntheticSpec` to change.

    Returns:
        The dataset folder.
    """
    spec = SyntheticSpec.from_profile(profile, **changes)
    return prepare_synthetic(synthetic_dir(spec), spec)
