"""Tiny seeded test images and phantoms (no dependency on course_lib.synthetic)."""

import numpy as np
from scipy import ndimage


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
