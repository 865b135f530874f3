"""The synthetic set on disk: written once, in the Kaggle layout, atomically, never over anything.

:func:`prepare_default` is what ``make lab`` and the notebooks call; :func:`prepare_synthetic`
writes a set with any parameters. Layout: ``out/{Training,Testing}/<class>/*.png``, tumour masks
under ``out/masks/``, ``out/metadata.csv`` (patients, sites, contrasts) and ``out/dataset.json``
(the parameters, written last).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from course_lib.config import CLASS_NAMES, data_dir, get_profile
from course_lib.synthetic import GENERATOR_VERSION, generate_slices

_MARKER = "dataset.json"
_FORMAT = f"course_lib.synthetic/{GENERATOR_VERSION}"
_SHORT = {"glioma": "gl", "meningioma": "me", "notumor": "no", "pituitary": "pi"}


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
