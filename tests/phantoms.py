"""Tiny seeded test images, phantoms and dataset trees (no dependency on course_lib.synthetic)."""

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from course_lib.config import CLASS_NAMES


def make_head(size=64, depth=None, seed=0):
    """A head phantom: textured elliptical brain, dark CSF gap, bright skull ring, noise."""
    rng = np.random.default_rng(seed)
    if depth is None:
        yy, xx = np.mgrid[:size, :size] / (size - 1) * 2 - 1
        r = np.sqrt((xx / 0.8) ** 2 + (yy / 0.9) ** 2)
    else:
        zz, yy, xx = np.mgrid[:depth, :size, :size].astype(float)
        zz, yy, xx = zz / (depth - 1) * 2 - 1, yy / (size - 1) * 2 - 1, xx / (size - 1) * 2 - 1
        r = np.sqrt((xx / 0.8) ** 2 + (yy / 0.9) ** 2 + (zz / 0.9) ** 2)
    brain = r < 0.72
    img = np.where(brain, 0.55 + 0.1 * np.cos(6 * xx) * np.sin(5 * yy), 0.0)
    img = np.where((r > 0.8) & (r < 0.92), 1.0, img)
    img = np.clip(img + rng.normal(0, 0.02, img.shape), 0, None)
    return img.astype(np.float32), brain


def blob(seed: int, size: int = 32) -> np.ndarray:
    """A distinct uint8 test image: Gaussian blobs over a smooth random texture."""
    rng = np.random.default_rng(seed)
    texture = ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 32)
    yy, xx = np.mgrid[:size, :size] / size
    image = np.zeros((size, size))
    for _ in range(4):
        cy, cx, s = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.2)
        image += rng.uniform(0.3, 1) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    image = image / image.max() + 0.5 * texture / np.abs(texture).max()
    return np.round(255 * (image - image.min()) / np.ptp(image)).astype(np.uint8)


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


def kaggle_tree(root: Path, n: int = 2) -> Path:
    for s, split in enumerate(("Training", "Testing")):
        make_tree(root / split, {c: n for c in CLASS_NAMES}, ext="jpg", seed=1000 * s)
    return root


def make_index(root, patients_per_class=(2, 2, 2, 2), slices=2, size=24, ids=True):
    """An index of blob PNGs under ``root``: patients per class, slices per patient."""
    rows, seed = [], 0
    for label, n_patients in enumerate(patients_per_class):
        for p in range(n_patients):
            for s in range(slices):
                path = root / f"{label}_{p}_{s}.png"
                Image.fromarray(blob(seed, size)).save(path)
                seed += 1
                rows.append(
                    {
                        "path": str(path),
                        "label": label,
                        "class_name": CLASS_NAMES[label],
                        "split": "train",
                        "patient_id": f"c{label}p{p}" if ids else pd.NA,
                        "source": "folder",
                    }
                )
    frame = pd.DataFrame(rows)
    frame["patient_id"] = frame["patient_id"].astype("string")
    return frame
