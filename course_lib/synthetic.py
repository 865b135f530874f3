"""Synthetic brain MRI: procedurally generated coronal slices and volumes with full ground truth.

Real MRI cannot be downloaded in CI or offline, so the course's default dataset is drawn here.
Each *patient* is an implicit 3D head (skull, scalp, CSF, folded cortex, white matter, butterfly
lateral ventricles, basal ganglia, falx, sella with the pituitary gland); only the coronal slices
that are asked for are evaluated, so a patient costs a few milliseconds. A tumour of the patient's
class is placed in that head:

- ``glioma``: irregular intra-axial mass in the white matter, necrotic core, enhancing rim,
  surrounding edema, mass effect (midline shift, compressed ventricle);
- ``meningioma``: extra-axial, well circumscribed, broad base on the inner skull, homogeneous
  enhancement, a CSF cleft and a dural tail;
- ``pituitary``: an enlarged sellar mass low in the image, at the midline above the sphenoid sinus;
- ``notumor``: the anatomy alone (its normal pituitary gland and enhancing sinuses included).

The head is rendered in one of :data:`CONTRASTS` and then *acquired* at a scanner site (see
:data:`SITE_PROFILES`): smooth multiplicative bias field, blur, optional motion ghosting, Rician
noise and a site-specific intensity scale, offset, gamma and tissue contrast.

Coordinates: images are ``(H, W)`` with rows running from the top of the head (superior) down to
the skull base (inferior) and columns across the head; a volume is ``(D, H, W)`` with ``D`` running
front to back (anterior to posterior). Everything is deterministic given ``seed``; each patient has
its own child seed (:class:`numpy.random.SeedSequence`) so adding classes or patients does not
change the others.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import ndimage

from course_lib.config import CLASS_NAMES

#: The MRI contrasts (sequences) the engine renders.
CONTRASTS: tuple[str, ...] = ("T1", "T1CE", "T2", "FLAIR")

#: Tissue intensities per contrast, before acquisition (rows: tissues, values in ``CONTRASTS``
#: order). T1: fat and WM bright, CSF dark; T1CE: T1 plus enhancing tumour, dura, sinuses and
#: gland; T2: CSF and edema bright, WM darker than GM; FLAIR: T2 with CSF suppressed.
TISSUE_INTENSITIES: dict[str, tuple[float, float, float, float]] = {
    "air": (0.0, 0.0, 0.0, 0.0),
    "fat": (0.92, 0.92, 0.72, 0.62),
    "muscle": (0.34, 0.38, 0.26, 0.28),
    "bone": (0.05, 0.05, 0.04, 0.04),
    "csf": (0.1, 0.11, 0.95, 0.07),
    "gm": (0.44, 0.46, 0.6, 0.56),
    "wm": (0.6, 0.61, 0.4, 0.44),
    "dura": (0.18, 0.58, 0.14, 0.16),
    "sinus": (0.3, 0.82, 0.35, 0.3),
    "vessel": (0.03, 0.05, 0.03, 0.03),
    "gland": (0.48, 0.78, 0.52, 0.5),
    "tumor": (0.36, 0.42, 0.76, 0.72),
    "enhancing": (0.38, 0.95, 0.68, 0.7),
    "necrosis": (0.2, 0.22, 0.88, 0.5),
    "edema": (0.4, 0.41, 0.84, 0.86),
    "meningioma": (0.42, 0.95, 0.62, 0.6),
    "adenoma": (0.46, 0.85, 0.66, 0.6),
}

#: Tissues whose contrast a site's ``tissue_contrast`` stretches (the brain's own tissues).
_BRAIN_TISSUES = ("csf", "gm", "wm", "tumor", "edema", "necrosis")


@dataclass(frozen=True)
class SiteProfile:
    """How one scanner site acquires and displays an image.

    Attributes:
        scale: Multiplies the displayed intensity.
        offset: Added to the displayed intensity.
        gamma: Display gamma (``image ** gamma``); below 1 brightens the mid-tones.
        noise: Rician noise sigma, relative to the brightest tissue.
        bias: Strength of the smooth multiplicative bias field (std of its logarithm).
        blur: Gaussian point-spread sigma in pixels at 128 x 128 (scaled with the image size).
        ghosting: Amplitude of motion ghosts along the phase-encoding (row) axis; 0 for none.
        tissue_contrast: Stretch (>1) or squeeze (<1) of brain tissue intensities around their mean.
    """

    scale: float = 1.0
    offset: float = 0.0
    gamma: float = 1.0
    noise: float = 0.03
    bias: float = 0.12
    blur: float = 0.5
    ghosting: float = 0.0
    tissue_contrast: float = 1.0


#: Built-in scanner sites; ``generate_slices(sites=n)`` uses the first ``n``.
SITE_PROFILES: dict[str, SiteProfile] = {
    "site_A": SiteProfile(),
    "site_B": SiteProfile(
        scale=0.82, offset=0.05, gamma=0.75, noise=0.045, bias=0.18, blur=0.9, tissue_contrast=0.8
    ),
    "site_C": SiteProfile(
        scale=1.12,
        offset=-0.02,
        gamma=1.3,
        noise=0.03,
        bias=0.14,
        blur=0.6,
        ghosting=0.06,
        tissue_contrast=1.2,
    ),
    "site_D": SiteProfile(
        scale=0.95, offset=0.02, gamma=0.9, noise=0.06, bias=0.12, blur=1.1, tissue_contrast=0.9
    ),
    "site_E": SiteProfile(
        scale=1.05,
        offset=0.0,
        gamma=1.15,
        noise=0.02,
        bias=0.1,
        blur=0.4,
        ghosting=0.1,
        tissue_contrast=1.1,
    ),
}


@dataclass
class SyntheticSlices:
    """A generated set of 2D slices with their ground truth.

    Attributes:
        images: ``(N, H, W)`` float32 in ``[0, 1]``.
        brain_masks: ``(N, H, W)`` bool, the intracranial space (brain, CSF, ventricles, tumour).
        tumor_masks: ``(N, H, W)`` uint8: 0 none, 1 tumour, 2 edema.
        bias_fields: ``(N, H, W)`` float32, the multiplicative bias applied (mean 1 in the brain).
        metadata: One row per slice: ``label`` (int, index into ``CLASS_NAMES``), ``class_name``,
            ``patient_id``, ``site``, ``contrast``, ``slice_index`` (position in the patient),
            ``duplicate_of`` (row index this slice is a near-copy of, or -1) and
            ``tumor_pixels`` (pixels with tumour mask 1).
    """

    images: np.ndarray
    brain_masks: np.ndarray
    tumor_masks: np.ndarray
    bias_fields: np.ndarray
    metadata: pd.DataFrame

    def __len__(self) -> int:
        return len(self.images)


# ----------------------------------------------------------------------------- small pieces


def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int, got {seed!r}")


def _ramp(signed: np.ndarray, width: float) -> np.ndarray:
    """Soft inside-indicator: 1 where ``signed`` < -width/2, 0 where > width/2, linear between."""
    return np.clip(0.5 - signed * (1.0 / width), 0.0, 1.0)


def _cos_basis(coords: np.ndarray, n: int, max_freq: float, rng: np.random.Generator):
    """``(n, len(coords))`` random cosines with frequencies up to ``max_freq`` cycles per unit."""
    freqs = rng.uniform(0.0, max_freq, size=(n, 1)) * (2 * math.pi)
    phases = rng.uniform(0.0, 2 * math.pi, size=(n, 1))
    return np.cos(freqs * coords[None, :] + phases).astype(np.float32)


def _smooth_field(
    rng: np.random.Generator,
    ys: np.ndarray,
    xs: np.ndarray,
    zs: np.ndarray,
    *,
    max_freq: float,
    n: int = 5,
) -> np.ndarray:
    """A smooth random 3D field sampled on the grid ``zs x ys x xs``, about unit std.

    A sum of separable random cosines, so a slice costs two small matrix products.

    Returns:
        ``(len(zs), len(ys), len(xs))`` float32.
    """
    by = _cos_basis(ys, n, max_freq, rng)
    bx = _cos_basis(xs, n, max_freq, rng)
    bz = _cos_basis(zs, 3, max_freq / 2, rng)
    coef = rng.standard_normal((n, n, 3)).astype(np.float32)
    per_slice = np.einsum("abk,ks->sab", coef, bz)
    field = by.T[None] @ per_slice @ bx
    return field * np.float32(1.0 / math.sqrt(n * n * 3 / 8))


def simulate_bias_field(
    shape: Sequence[int], *, strength: float = 0.3, seed: int = 0
) -> np.ndarray:
    """Simulate a smooth multiplicative MRI bias field (coil inhomogeneity).

    The field is ``exp(strength * f)`` for a smooth random ``f`` with about one cycle across
    the image, divided by its mean, so it multiplies an image without changing its mean a lot.

    Args:
        shape: ``(H, W)`` or ``(D, H, W)``; each side at least 2.
        strength: Standard deviation of the field's logarithm; 0 gives a field of ones.
        seed: Seed of the random field.

    Returns:
        float32 array of ``shape``, positive, mean 1.

    Raises:
        ValueError: If ``shape`` is not 2 or 3 sides of at least 2, or ``strength`` is negative.
        TypeError: If ``seed`` is not a non-negative int.

    >>> field = simulate_bias_field((64, 64), strength=0.3, seed=1)
    >>> field.shape, field.dtype, round(float(field.mean()), 3)
    ((64, 64), dtype('float32'), 1.0)
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or min(shape) < 2:
        raise ValueError(f"shape must be (H, W) or (D, H, W) with sides >= 2, got {shape}")
    if not strength >= 0:
        raise ValueError(f"strength must be >= 0, got {strength!r}")
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    depth = shape[0] if len(shape) == 3 else 1
    height, width = shape[-2:]
    zs = np.linspace(-1, 1, depth) if depth > 1 else np.zeros(1)
    field = _smooth_field(
        rng, np.linspace(-1, 1, height), np.linspace(-1, 1, width), zs, max_freq=0.6, n=3
    )
    field = np.exp(np.float32(strength) * field)
    field /= field.mean()
    return field.reshape(shape).astype(np.float32)


def add_rician_noise(image: np.ndarray, sigma: float, *, seed: int = 0) -> np.ndarray:
    """Add Rician noise, the noise of magnitude MRI images.

    The image is taken as the real part of a complex signal; independent Gaussian noise of std
    ``sigma`` is added to the real and the imaginary parts and the magnitude is returned. The
    background therefore becomes a positive noise floor (mean about ``1.25 * sigma``).

    Args:
        image: Array of any shape, float; not modified.
        sigma: Noise std, in the image's intensity units; 0 returns a float32 copy.
        seed: Seed of the noise.

    Returns:
        float32 array of ``image.shape``, non-negative.

    Raises:
        ValueError: If ``sigma`` is negative.
        TypeError: If ``image`` is not a numeric array or ``seed`` is not a non-negative int.

    >>> noisy = add_rician_noise(np.zeros((100, 100)), 0.1, seed=0)
    >>> bool(noisy.min() >= 0), round(float(noisy.mean()), 1)
    (True, 0.1)
    """
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.number) or np.issubdtype(image.dtype, np.complexfloating):
        raise TypeError(f"image must be a real numeric array, got dtype {image.dtype}")
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    return _rician(image.astype(np.float32), float(sigma), rng)


def _rician(
    image: np.ndarray, sigma: float, rng: np.random.Generator, *, pooled: bool = False
) -> np.ndarray:
    """Rician noise; ``pooled`` reads the Gaussian draws from random windows of a fixed pool.

    Drawing fresh Gaussians is the slowest step of generation; the pool (2**21 draws, made once)
    read at two random offsets per call is still seeded by ``rng`` and about four times faster.
    """
    if sigma == 0:
        return image.copy()
    s = np.float32(sigma)
    size = image.size
    if pooled and size <= _POOL_SIZE // 2:
        pool = _noise_pool()
        a, b = rng.integers(0, _POOL_SIZE - size, size=2)
        real = image + s * pool[a : a + size].reshape(image.shape)
        imag = s * pool[b : b + size].reshape(image.shape)
    else:
        real = image + s * rng.standard_normal(image.shape, dtype=np.float32)
        imag = s * rng.standard_normal(image.shape, dtype=np.float32)
    return np.sqrt(real * real + imag * imag)


_POOL_SIZE = 2**21


@functools.cache
def _noise_pool() -> np.ndarray:
    pool = np.random.default_rng(20240607).standard_normal(_POOL_SIZE, dtype=np.float32)
    pool.flags.writeable = False
    return pool


def add_motion_ghosting(image: np.ndarray, strength: float, *, shift: int | None = None):
    """Add motion ghosts: faint copies of the image shifted along the phase-encoding axis.

    Args:
        image: ``(H, W)`` or ``(N, H, W)`` float array; rows are the phase-encoding axis.
            Not modified.
        strength: Amplitude of each of the two ghosts relative to the image; 0 for none.
        shift: Ghost offset in rows (default ``H // 4``).

    Returns:
        float32 array of ``image.shape``.

    Raises:
        ValueError: If ``image`` is not 2D or 3D or ``strength`` is negative.

    >>> image = np.zeros((8, 8), np.float32); image[2, 3] = 1.0
    >>> ghosted = add_motion_ghosting(image, 0.1, shift=2)
    >>> [round(float(v), 2) for v in ghosted[:, 3]]
    [0.1, 0.0, 1.0, 0.0, 0.1, 0.0, 0.0, 0.0]
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (N, H, W), got shape {image.shape}")
    if not strength >= 0:
        raise ValueError(f"strength must be >= 0, got {strength!r}")
    shift = image.shape[-2] // 4 if shift is None else int(shift)
    ghosts = np.roll(image, shift, axis=-2) + np.roll(image, -shift, axis=-2)
    return image + np.float32(strength) * ghosts


def tissue_intensities(contrast: str, site: SiteProfile | None = None) -> dict[str, float]:
    """Intensity of each tissue in one contrast, optionally with a site's tissue contrast.

    Args:
        contrast: One of :data:`CONTRASTS`.
        site: A :class:`SiteProfile`; its ``tissue_contrast`` stretches the brain tissues around
            their mean.

    Returns:
        ``{tissue: intensity}`` for every tissue in :data:`TISSUE_INTENSITIES`.

    Raises:
        ValueError: If ``contrast`` is unknown.

    >>> t1, t2 = tissue_intensities("T1"), tissue_intensities("T2")
    >>> t1["csf"] < t1["gm"] < t1["wm"], t2["csf"] > t2["gm"] > t2["wm"]
    (True, True)
    """
    if contrast not in CONTRASTS:
        raise ValueError(f"contrast must be one of {CONTRASTS}, got {contrast!r}")
    k = CONTRASTS.index(contrast)
    values = {name: row[k] for name, row in TISSUE_INTENSITIES.items()}
    if site is not None and site.tissue_contrast != 1.0:
        mean = float(np.mean([values[t] for t in _BRAIN_TISSUES]))
        for t in _BRAIN_TISSUES:
            values[t] = float(np.clip(mean + site.tissue_contrast * (values[t] - mean), 0, 1))
    return values


def render_contrast(
    layers: Sequence[tuple[str, np.ndarray]], contrast: str, *, site: SiteProfile | None = None
) -> np.ndarray:
    """Paint tissue layers into an image of one contrast (before acquisition).

    Layers are painted in order, each over the ones before it:
    ``image = image * (1 - alpha) + intensity[tissue] * alpha``.

    Args:
        layers: ``(tissue, alpha)`` pairs; ``alpha`` arrays of one shape (any, e.g. ``(N, H, W)``)
            with values in ``[0, 1]`` (partial volume at the edges). A layer may also be
            ``(tissue, alpha, (rows, cols))``: then ``alpha`` covers only that box of the last two
            axes (small structures are painted without touching the rest). The first layer
            must cover the whole image.
        contrast: One of :data:`CONTRASTS`.
        site: Optional :class:`SiteProfile` whose ``tissue_contrast`` applies.

    Returns:
        float32 array of the alphas' shape.

    Raises:
        ValueError: If ``layers`` is empty, a tissue is unknown, or ``contrast`` is unknown.

    >>> alpha = np.array([[0.0, 1.0]], np.float32)
    >>> image = render_contrast([("wm", np.ones((1, 2), np.float32)), ("csf", alpha)], "T2")
    >>> [round(v, 2) for v in image[0].tolist()]
    [0.4, 0.95]
    """
    values = tissue_intensities(contrast, site)
    if not layers:
        raise ValueError("layers must hold at least one (tissue, alpha) pair")
    image = None
    for tissue, alpha, *box in layers:
        if tissue not in values:
            raise ValueError(f"unknown tissue {tissue!r}; choose from {sorted(values)}")
        value = np.float32(values[tissue])
        if image is None:
            image = np.asarray(alpha, dtype=np.float32) * value
        elif box:
            rows, cols = box[0]
            part = image[..., rows, cols]
            part += alpha * (value - part)
        else:
            image += alpha * (value - image)
    return image.astype(np.float32, copy=False)


# ----------------------------------------------------------------------------- anatomy


def sample_anatomy(rng: np.random.Generator) -> dict:
    """Draw the parameters of one patient's head (shape, cortex, ventricles, pose, fields).

    Args:
        rng: The patient's random generator.

    Returns:
        A dict of floats (and a ``"field_seed"`` int) that :func:`head_layers` reads.
    """
    anat = {
        "ax": rng.uniform(0.6, 0.7),  # brain half-width
        "ay": rng.uniform(0.56, 0.64),  # brain half-height above its centre
        "cy": rng.uniform(-0.08, -0.02),  # brain centre row
        "notch": rng.uniform(0.34, 0.42),  # sellar notch between the temporal lobes
        "temporal": rng.uniform(0.08, 0.15),
        "harm": rng.normal(0.0, 0.018, size=(3, 2, 2)),  # k=2..4, cos/sin, const/z
        "n_gyri": rng.uniform(22.0, 30.0),
        "sulcal_depth": rng.uniform(0.05, 0.09),
        "gm_thick": rng.uniform(0.035, 0.05),
        "csf_thick": rng.uniform(0.012, 0.03),
        "bone_thick": rng.uniform(0.03, 0.05),
        "scalp_thick": rng.uniform(0.07, 0.11),
        "marrow": rng.uniform(0.0, 0.8),
        "sylvian": rng.uniform(1.05, 1.2),
        "midline": rng.normal(0.0, 0.01),
        "vent_size": rng.uniform(0.75, 1.4),
        "vent_angle": rng.uniform(0.35, 0.75),
        "vent_z": rng.uniform(-0.12, 0.08),
        "gland_w": rng.uniform(0.045, 0.06),
        "gland_h": rng.uniform(0.022, 0.032),
        "sinus": rng.uniform(0.7, 1.2),  # size of the sphenoid sinus
        "pose": (rng.normal(0.0, 0.05), *rng.uniform(-0.04, 0.04, 2), rng.uniform(0.76, 0.9)),
        "field_seed": int(rng.integers(2**32)),
    }
    # Python floats and float32 arrays keep every image float32 (NumPy scalars would promote).
    return {
        key: value.astype(np.float32)
        if isinstance(value, np.ndarray)
        else tuple(float(v) for v in value)
        if isinstance(value, tuple)
        else value
        if isinstance(value, int)
        else float(value)
        for key, value in anat.items()
    }


def _harmonics(cos_t, sin_t, coef, z=0.0):
    """``1 + sum_k a_k(z) cos(k t) + b_k(z) sin(k t)`` for k = 2..4 from cos t and sin t."""
    c2, s2 = cos_t * cos_t - sin_t * sin_t, 2 * cos_t * sin_t
    c3, s3 = c2 * cos_t - s2 * sin_t, s2 * cos_t + c2 * sin_t
    c4, s4 = c2 * c2 - s2 * s2, 2 * c2 * s2
    const = 1.0 + sum(
        coef[i, 0, 0] * c + coef[i, 1, 0] * s
        for i, (c, s) in enumerate([(c2, s2), (c3, s3), (c4, s4)])
    )
    slope = sum(
        coef[i, 0, 1] * c + coef[i, 1, 1] * s
        for i, (c, s) in enumerate([(c2, s2), (c3, s3), (c4, s4)])
    )
    return const + np.asarray(z, dtype=np.float32) * slope


def _brain_radius_at(anat: dict, theta: float, z: float) -> float:
    """The brain's outer radius along one direction (radians from straight down) at depth z."""
    c, s = math.cos(theta), math.sin(theta)
    ax, ay = anat["ax"], anat["ay"]
    rell = ax * ay / math.hypot(ay * s, ax * c)
    shape = (
        1
        - anat["notch"] * math.exp(-((theta / 0.38) ** 2))
        + anat["temporal"] * math.exp(-(((abs(theta) - 0.8) / 0.35) ** 2))
    )
    harm = float(_harmonics(np.float32(c), np.float32(s), anat["harm"], z))
    return rell * shape * harm * _z_extent(z)


def _z_extent(z):
    return np.sqrt(np.clip(1.0 - (np.asarray(z) / 0.95) ** 2, 0.05, 1.0))


def _ellipse(x, y, cx, cy, rx, ry):
    """Approximate signed distance to an axis-aligned ellipse (negative inside)."""
    dx, dy = (x - cx) / rx, (y - cy) / ry
    return (np.sqrt(dx * dx + dy * dy) - 1.0) * np.minimum(rx, ry)


class PixelGrid:
    """Anatomy coordinates of every pixel of an ``(H, W)`` image in one patient's pose.

    The image spans -1 to 1 along its rows (top to bottom) and ``-W/H`` to ``W/H`` along its
    columns; the pose ``(angle, shift_x, shift_y, scale)`` rotates, shifts and scales the head
    in that frame. ``x`` and ``y`` are ``(H, W)`` float32 anatomy coordinates.

    Args:
        height: Image rows.
        width: Image columns.
        pose: ``(angle in radians, shift_x, shift_y, scale)``, as in ``sample_anatomy()["pose"]``.
    """

    def __init__(self, height: int, width: int, pose) -> None:
        angle, tx, ty, scale = pose
        ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)
        xs = np.linspace(-1.0, 1.0, width, dtype=np.float32) * np.float32(width / height)
        self.ys, self.xs = ys, xs
        c, s = math.cos(angle), math.sin(angle)
        self.rot = (c, s, tx, ty, scale)
        gx, gy = xs[None, :] - tx, ys[:, None] - ty
        self.x = ((c * gx + s * gy) / scale).astype(np.float32)
        self.y = ((-s * gx + c * gy) / scale).astype(np.float32)
        self.pixel = 2.0 / (height * scale)  # one pixel in anatomy units
        self.shape = (height, width)

    def box(self, cx: float, cy: float, half: float, half_y: float | None = None):
        """Row and column slices of the image covering an anatomy-space rectangle."""
        c, s, tx, ty, scale = self.rot
        half_y = half if half_y is None else half_y
        ix = (c * cx - s * cy) * scale + tx
        iy = (s * cx + c * cy) * scale + ty
        h, w = self.shape
        px = max(half, half_y) * abs(s) * scale * h / 2
        half_c = half * scale * h / 2 * 1.05 + px + 2
        half_r = half_y * scale * h / 2 * 1.05 + px + 2
        row = (iy + 1) * (h - 1) / 2
        col = (ix / (w / h) + 1) * (w - 1) / 2
        rows = slice(max(0, int(row - half_r)), max(0, min(h, int(row + half_r) + 2)))
        cols = slice(max(0, int(col - half_c)), max(0, min(w, int(col + half_c) + 2)))
        return rows, cols

    def crop(self, cx: float, cy: float, half: float, half_y: float | None = None):
        """``(box, x, y)``: a box from :meth:`box` and the anatomy coordinates inside it."""
        box = self.box(cx, cy, half, half_y)
        return box, self.x[box], self.y[box]


def head_layers(anat: dict, zs: np.ndarray, grid: PixelGrid, tumor: dict | None = None):
    """Build the tissue layers of one patient's head at coronal positions ``zs``.

    Args:
        anat: Parameters from :func:`sample_anatomy`.
        zs: ``(S,)`` coronal positions (about -0.9 front to 0.9 back; 0 is the sella).
        grid: The pixel grid in the patient's pose.
        tumor: Parameters from :func:`sample_tumor`, or ``None``.

    Returns:
        ``(layers, brain_mask, tumor_mask, texture)``: ``layers`` a list of ``(tissue, alpha)``
        or ``(tissue, alpha, box)`` for :func:`render_contrast` (``(S, H, W)`` float32 alphas,
        or ``(S, h, w)`` inside ``box``); ``brain_mask`` ``(S, H, W)`` bool; ``tumor_mask``
        ``(S, H, W)`` uint8 (0 none, 1 tumour, 2 edema); ``texture`` ``(S, H, W)`` float32
        multiplicative tissue texture (about 1) to apply to the rendered image.
    """
    n = len(zs)
    height, width = grid.shape
    z = np.asarray(zs, dtype=np.float32)[:, None, None]
    x, y, w = grid.x, grid.y, np.float32(grid.pixel)
    rng = np.random.default_rng(anat["field_seed"])
    fields = {
        name: _smooth_field(rng, grid.ys, grid.xs, np.asarray(zs), max_freq=f, n=5)
        for name, f in (("warp", 1.6), ("texture", 3.0))
    }
    coarse = rng.standard_normal((24, 24)).astype(np.float32)
    skull_base = ndimage.zoom(coarse, (height / 24, width / 24), order=1)[:height, :width]
    skull_base = ndimage.uniform_filter(skull_base, max(3, height // 40))
    skull_base *= np.float32(1.0 / (skull_base.std() + 1e-6))

    tumor = tumor or {}
    midline = anat["midline"] + tumor.get("midline_shift", 0.0)
    cy = anat["cy"]
    dy = y - cy
    r = np.sqrt(x * x + dy * dy) + np.float32(1e-6)
    cos_t, sin_t = dy / r, x / r
    theta = np.arctan2(x, dy)
    abs_t = np.abs(theta)
    ax, ay = anat["ax"], anat["ay"]
    rell = ax * ay / np.sqrt((ay * sin_t) ** 2 + (ax * cos_t) ** 2)
    shape2d = (
        1
        - anat["notch"] * np.exp(-((theta / 0.38) ** 2))
        + anat["temporal"] * np.exp(-(((abs_t - 0.8) / 0.35) ** 2))
    )
    harm = _harmonics(cos_t, sin_t, anat["harm"], z)
    extent = _z_extent(z).astype(np.float32)
    r_brain = (rell * shape2d)[None] * harm * extent  # (S, H, W)
    csf_t, bone_t = anat["csf_thick"], anat["bone_thick"]

    # Head outline: follows the brain dome above, widens into face and neck below.
    t_head = csf_t + bone_t + anat["scalp_thick"]
    ayh = np.where(cos_t < 0, ay + t_head, 1.25).astype(np.float32)
    axh = ax + t_head
    r_head = axh * ayh / np.sqrt((ayh * sin_t) ** 2 + (axh * cos_t) ** 2)
    head = _ramp(r - r_head, w)
    lower = np.clip((y - (cy + 0.25)) / 0.15, 0.0, 1.0)
    layers = [
        ("fat", head),
        ("muscle", _ramp(r - r_head + 0.035, w) * (1 - lower)),
        ("muscle", lower * np.clip(0.9 - 0.25 * skull_base, 0, 1) * head),
        ("air", lower * np.clip(-2.6 - skull_base * 1.2, 0, 0.8) * head),
    ]
    layers = [(t, np.broadcast_to(a, (n, height, width))) for t, a in layers]
    # Skull with its marrow, then the CSF around the brain.
    layers.append(("bone", _ramp(r - r_brain - (csf_t + bone_t), w)))
    marrow = np.abs(r - r_brain - (csf_t + 0.5 * bone_t)) - 0.22 * bone_t
    layers.append(("fat", anat["marrow"] * _ramp(marrow, w) * (1 - lower)))
    # Sella: bone block, sphenoid sinus (air) and the suprasellar cistern.
    sella = _sella(anat, grid, z, midline=anat["midline"], w=w)
    layers += sella["below"]
    intracranial = _ramp(r - r_brain - csf_t, w)
    layers.append(("csf", intracranial))
    # Cortex: folded outer surface with sulci, the Sylvian fissure and the midline fissure.
    fold = np.cos(anat["n_gyri"] * theta + 2.2 * fields["warp"])
    sylvian = np.exp(-(((abs_t - anat["sylvian"]) / 0.05) ** 2)) * (abs_t > 0.6)
    depth = anat["sulcal_depth"]
    depth = depth * (1 + 0.45 * fields["texture"])
    indent = depth * np.clip((fold - 0.8) * 5.0, 0.0, 1.0) + 0.22 * sylvian
    vent_y = cy - 0.12
    cc_top = vent_y - 0.09
    fbox, fx, fy = grid.crop(midline, (cc_top - 1.0) / 2, 0.07, (cc_top + 1.0) / 2 + 0.05)
    fbox3 = (slice(None), *fbox)
    fissure = _ramp(np.abs(fx - midline) - 0.012, w) * _ramp(fy - cc_top, w)
    gm = _ramp(r - r_brain + indent, w)
    gm[fbox3] *= 1 - fissure
    layers.append(("gm", gm))
    wm_fissure = _ramp(np.abs(fx - midline) - 0.012 - anat["gm_thick"], w) * _ramp(
        fy - cc_top - anat["gm_thick"], w
    )
    wm_depth = (
        anat["gm_thick"]
        + depth * (0.5 + 0.5 * fold) ** 2
        + 0.3 * np.exp(-(((abs_t - anat["sylvian"]) / 0.12) ** 2))
    )
    wm = _ramp(r - r_brain + wm_depth, w)
    wm[fbox3] *= 1 - wm_fissure
    layers.append(("wm", wm))
    dura = _ramp(np.abs(fx - midline) - 0.003, w) * fissure * intracranial[fbox3]
    layers.append(("dura", dura, fbox))
    layers += _deep_structures(anat, grid, z, midline, vent_y, w, tumor)
    layers += sella["above"]

    tumor_mask = np.zeros((n, height, width), np.uint8)
    if tumor:
        tumor_layers, tumor_mask = _tumor_layers(
            tumor, grid, z, r_brain, wm, r, intracranial, csf_t
        )
        layers += tumor_layers
    texture = 1 + np.float32(0.035) * fields["texture"]
    layers = [(t, a.astype(np.float32, copy=False), *b) for t, a, *b in layers]
    brain_mask = intracranial > 0.5
    return layers, brain_mask, tumor_mask, texture


def _sella(anat, grid, z, *, midline, w):
    """Bone, sphenoid sinus, cistern (below the brain) and gland, sinuses, carotids (above)."""
    floor = anat["cy"] + anat["ay"] * (1 - anat["notch"]) + anat["csf_thick"] + 0.085
    box, x, y = grid.crop(midline, floor + 0.02, 0.21, 0.22)
    zf = np.sqrt(np.clip(1 - (z / 0.18) ** 2, 0.0, 1.0))
    gw, gh = anat["gland_w"], anat["gland_h"]
    sin_rx, sin_ry = 0.11 * anat["sinus"], 0.07 * anat["sinus"]
    below = [
        ("bone", _ramp(_ellipse(x, y, midline, floor + 0.07, 0.2, 0.13), w)),
        ("air", _ramp(_ellipse(x, y, midline, floor + 0.1, sin_rx, sin_ry), w) * zf),
        ("csf", _ramp(_ellipse(x, y, midline, floor - 0.06, 0.11, 0.075), w)),
    ]
    above = []
    for side in (-1, 1):
        cx = midline + side * (gw + 0.035)
        above.append(("sinus", _ramp(_ellipse(x, y, cx, floor - 0.035, 0.04, 0.045), w) * zf))
        above.append(("vessel", _ramp(_ellipse(x, y, cx, floor - 0.04, 0.017, 0.017), w) * zf))
    gland = _ramp(_ellipse(x, y, midline, floor - gh, gw * zf + 1e-3, gh * zf + 1e-3), w)
    above.append(("gland", gland))
    n = len(z)
    below = [(t, np.broadcast_to(a, (n, *a.shape[-2:])), box) for t, a in below]
    above = [(t, np.broadcast_to(a, (n, *a.shape[-2:])), box) for t, a in above]
    return {"below": below, "above": above, "floor": floor}


def _deep_structures(anat, grid, z, midline, vent_y, w, tumor):
    """Lateral ventricles (butterfly), caudate heads, putamina and the third ventricle."""
    layers = []
    n = len(z)

    def add(tissue, alpha, box):
        layers.append((tissue, np.broadcast_to(alpha, (n, *alpha.shape[-2:])), box))

    size = anat["vent_size"] * np.sqrt(np.clip(1 - ((z - anat["vent_z"]) / 0.45) ** 2, 0, 1))
    a = anat["vent_angle"]
    ca, sa = math.cos(a), math.sin(a)
    gap = 0.006
    for side in (-1, 1):
        squeeze = tumor.get("ventricle_squeeze", 1.0) if side == tumor.get("side") else 1.0
        length, breadth = 0.12 * size * squeeze + 1e-3, 0.05 * size * squeeze + 1e-3
        cx = midline + side * (gap + 0.075 * ca)
        cy = vent_y + 0.075 * sa * 0.6
        box, x, y = grid.crop(cx, cy + 0.03, 0.13, 0.12)
        dx, dy = x - cx, y - cy
        u = side * ca * dx + sa * dy
        v = -side * sa * dx + ca * dy
        inside = (np.sqrt((u / length) ** 2 + (v / breadth) ** 2) - 1) * breadth
        medial = _ramp(gap - side * (x - midline), w)
        caudate = _ellipse(x, y, cx + side * 0.06, cy + 0.07, 0.045, 0.055)
        add("gm", _ramp(caudate, w) * (size > 0.3), box)
        add("csf", _ramp(inside, w) * medial, box)
        px, py = midline + side * 0.42 * anat["ax"], anat["cy"] + 0.08
        box, x, y = grid.crop(px, py, 0.06, 0.12)
        putamen = _ellipse(x, y, px, py, 0.05, 0.11)
        add("gm", _ramp(putamen, w) * np.sqrt(np.clip(1 - (z / 0.5) ** 2, 0, 1)), box)
    box, x, y = grid.crop(midline, vent_y + 0.16, 0.03, 0.08)
    third = _ramp(np.abs(x - midline) - 0.008, w) * _ramp(np.abs(y - vent_y - 0.16) - 0.06, w)
    add("csf", third * (np.abs(z - 0.15) < 0.12), box)
    return layers


# ----------------------------------------------------------------------------- tumours


def sample_tumor(
    class_name: str, rng: np.random.Generator, anat: dict, *, z_center: float, difficulty: float
) -> dict | None:
    """Draw a tumour of one class for a patient, or ``None`` for ``"notumor"``.

    Args:
        class_name: One of ``CLASS_NAMES``.
        rng: The patient's random generator.
        anat: The patient's anatomy from :func:`sample_anatomy`.
        z_center: Coronal position of the middle of the patient's slices.
        difficulty: 0 gives large, strongly enhancing tumours; larger values give smaller and
            subtler ones (1 is the calibrated default).

    Returns:
        A dict of tumour parameters for :func:`head_layers`, or ``None``.

    Raises:
        ValueError: If ``class_name`` is not a class.
    """
    if class_name not in CLASS_NAMES:
        raise ValueError(f"class_name must be one of {CLASS_NAMES}, got {class_name!r}")
    if class_name == "notumor":
        return None
    size = rng.uniform(1.0 - 0.25 * difficulty, 1.25 - 0.15 * difficulty)
    subtle = 1.0 - min(0.9, 0.3 * difficulty) * rng.uniform() ** 2  # enhancement strength
    shape = rng.normal(0.0, 0.1, size=(4, 2))
    if class_name == "glioma":
        side = int(rng.choice([-1, 1]))
        radius = rng.uniform(0.11, 0.2) * size
        cx = anat["midline"] + side * rng.uniform(0.18, 0.38) * anat["ax"] / 0.65
        cy = anat["cy"] + rng.uniform(-0.33, 0.08)
        return {
            "kind": "glioma",
            "side": side,
            "center": (cx, cy, z_center + rng.uniform(-0.03, 0.03)),
            "radius": radius,
            "radius_z": radius * rng.uniform(1.0, 1.6),
            "shape": shape * 1.6,
            "necrosis": rng.uniform(0.3, 0.7) if rng.uniform() < 0.85 else 0.0,
            "edema": rng.uniform(0.35, 1.0),
            "enhancement": subtle,
            "midline_shift": -side * 1.5 * radius**2,
            "ventricle_squeeze": float(np.clip(1.2 - 3.0 * radius, 0.45, 1.0)),
        }
    if class_name == "meningioma":
        side = int(rng.choice([-1, 1]))
        theta = side * rng.uniform(1.35, math.pi - 0.12)
        radius = rng.uniform(0.13, 0.22) * size
        zc = z_center + rng.uniform(-0.03, 0.03)
        rb = _brain_radius_at(anat, theta, zc) + anat["csf_thick"] - 0.45 * radius
        return {
            "kind": "meningioma",
            "side": side,
            "center": (rb * math.sin(theta), anat["cy"] + rb * math.cos(theta), zc),
            "radius": radius,
            "radius_z": radius * rng.uniform(1.1, 1.6),
            "shape": shape * 0.4,
            "edema": rng.uniform(0.2, 0.5) if rng.uniform() < 0.3 else 0.0,
            "enhancement": subtle,
            "ventricle_squeeze": 1.0,
        }
    floor = anat["cy"] + anat["ay"] * (1 - anat["notch"]) + anat["csf_thick"] + 0.085
    half_w = rng.uniform(0.1, 0.16) * size
    half_h = rng.uniform(0.1, 0.19) * size
    return {
        "kind": "pituitary",
        "center": (anat["midline"], floor - half_h * 0.9, z_center + rng.uniform(-0.02, 0.02)),
        "radius": half_h,
        "radius_w": half_w,
        "radius_z": max(half_w, 0.06) * rng.uniform(1.1, 1.5),
        "shape": shape * 0.5,
        "enhancement": subtle,
    }


def _tumor_layers(tumor, grid, z, r_brain, wm, r, intracranial, csf_thick):
    """Layers and mask of a tumour, computed inside its bounding box only."""
    n = z.shape[0]
    height, width = grid.shape
    kind = tumor["kind"]
    cx, cy, cz = tumor["center"]
    radius = tumor["radius"]
    reach = radius * (2.2 + tumor.get("edema", 0.0) * 1.5)
    rows, cols = grid.box(cx, cy, reach)
    x, y = grid.x[rows, cols], grid.y[rows, cols]
    w = np.float32(grid.pixel)
    dx, dy = x - cx, y - cy
    rt = np.sqrt(dx * dx + dy * dy) + np.float32(1e-6)
    rx = tumor.get("radius_w", radius)
    # Irregular outline: radius modulated by harmonics of the in-plane angle.
    cos_t, sin_t = dy / rt, dx / rt
    coef = np.zeros((3, 2, 2))
    coef[:, :, 0] = tumor["shape"][:3]
    c1 = tumor["shape"][3, 0] * cos_t + tumor["shape"][3, 1] * sin_t
    outline = _harmonics(cos_t, sin_t, coef) + c1
    planar = (dx / rx) ** 2 + (dy / radius) ** 2
    q = np.sqrt(planar / outline**2 + ((z - cz) / tumor["radius_z"]) ** 2)  # (S, h, w)
    body = _ramp((q - 1) * radius, w)
    box = (slice(None), rows, cols)
    layers = []

    def add(tissue, alpha):
        layers.append((tissue, np.broadcast_to(alpha, (n, *alpha.shape[-2:])), (rows, cols)))

    edema = np.zeros_like(body)
    if tumor.get("edema", 0.0) > 0:
        limit = 1 + tumor["edema"] * (1 + 0.35 * c1 / 0.1)
        edema = _ramp((q - limit) * radius, w) * wm[box] * (1 - body)
        add("edema", edema)
    enhancement = np.float32(tumor["enhancement"])
    if kind == "glioma":
        add("tumor", body)
        add("enhancing", body * enhancement)
        if tumor["necrosis"] > 0:
            add("necrosis", _ramp((q - tumor["necrosis"]) * radius, w))
    elif kind == "meningioma":
        inner_table = intracranial[box]
        cleft = _ramp((q - 1.12) * radius, w) * inner_table
        add("csf", cleft)
        body = body * inner_table
        add("meningioma", body * (0.55 + 0.45 * enhancement))
        add("tumor", body * (0.45 - 0.45 * enhancement))
        # Dural tail: a thin enhancing strip along the inner table either side of the base.
        band = np.abs(r[rows, cols] - r_brain[box] - 0.6 * csf_thick) - 0.006
        tail = _ramp(band, w) * _ramp((q - 1.9) * radius, w) * (1 - body)
        add("dura", tail)
    else:
        add("adenoma", body)
        add("gland", body * (enhancement - 0.5).clip(0, 1) * 0.5)
    mask = np.zeros((n, height, width), np.uint8)
    mask[box] = np.where(body > 0.5, 1, np.where(edema > 0.5, 2, 0)).astype(np.uint8)
    return layers, mask


# ----------------------------------------------------------------------------- acquisition


def site_names(sites: int | Sequence[str]) -> tuple[str, ...]:
    """Resolve a ``sites`` argument to site names.

    Args:
        sites: How many of the built-in sites to use (1 to 5), or their names.

    Returns:
        The site names, in order.

    Raises:
        ValueError: If the count is out of range or a name is not in :data:`SITE_PROFILES`.
        TypeError: If ``sites`` is neither an int nor a sequence of names.

    >>> site_names(2)
    ('site_A', 'site_B')
    """
    if isinstance(sites, bool):
        raise TypeError(f"sites must be an int or a sequence of site names, got {sites!r}")
    if isinstance(sites, (int, np.integer)):
        if not 1 <= sites <= len(SITE_PROFILES):
            raise ValueError(f"sites must be between 1 and {len(SITE_PROFILES)}, got {sites}")
        return tuple(SITE_PROFILES)[: int(sites)]
    if isinstance(sites, str) or not isinstance(sites, Sequence):
        raise TypeError(f"sites must be an int or a sequence of site names, got {sites!r}")
    unknown = [s for s in sites if s not in SITE_PROFILES]
    if unknown or not sites:
        raise ValueError(f"unknown or no sites {list(sites)!r}; choose from {list(SITE_PROFILES)}")
    return tuple(sites)


def acquire(
    image: np.ndarray,
    bias: np.ndarray,
    site: SiteProfile,
    rng: np.random.Generator,
) -> np.ndarray:
    """Acquire a rendered ``(S, H, W)`` stack at a site: bias, blur, ghosts, noise, display.

    Args:
        image: ``(S, H, W)`` float32 rendered tissue intensities; not modified.
        bias: ``(S, H, W)`` float32 multiplicative bias field.
        site: The site's :class:`SiteProfile`.
        rng: Random generator for the noise.

    Returns:
        ``(S, H, W)`` float32 in ``[0, 1]``.
    """
    signal = image * bias
    sigma = site.blur * image.shape[-1] / 128
    if sigma > 0.05:
        signal = ndimage.gaussian_filter(signal, (0, sigma, sigma), truncate=2.5)
    if site.ghosting > 0:
        signal = add_motion_ghosting(signal, site.ghosting)
    signal = _rician(signal, site.noise, rng, pooled=True)
    out = np.power(signal, np.float32(site.gamma)) * np.float32(site.scale)
    out += np.float32(site.offset)
    return np.clip(out, 0.0, 1.0, out=out)


def _jittered(site: SiteProfile, rng: np.random.Generator) -> SiteProfile:
    """A patient's own variant of a site profile (scanner drift, patient size)."""
    return replace(
        site,
        scale=site.scale * rng.uniform(0.9, 1.1),
        offset=site.offset + rng.uniform(-0.02, 0.02),
        gamma=site.gamma * rng.uniform(0.92, 1.08),
        noise=site.noise * rng.uniform(0.75, 1.25),
        bias=site.bias * rng.uniform(0.7, 1.3),
    )


def _patient(class_name, seed_seq, *, zs_count, image_size, site, contrasts, difficulty, dz=None):
    """Render one patient: dict of images per contrast and the ground truth stacks."""
    rng = np.random.default_rng(seed_seq)
    anat = sample_anatomy(rng)
    if dz is None:
        dz = rng.uniform(0.035, 0.05)
        z_center = rng.uniform(-0.05, 0.05)
        zs = z_center + (np.arange(zs_count) - (zs_count - 1) / 2) * dz
    else:
        z_center, zs = 0.0, dz
    tumor = sample_tumor(class_name, rng, anat, z_center=z_center, difficulty=difficulty)
    height, width = image_size
    grid = PixelGrid(height, width, anat["pose"])
    layers, brain, tumor_mask, texture = head_layers(anat, zs, grid, tumor)
    profile = _jittered(SITE_PROFILES[site], rng)
    bias = _smooth_field(
        rng, grid.ys, grid.xs, np.asarray(zs) * 1.5, max_freq=0.6, n=3
    ) * np.float32(profile.bias)
    bias = np.exp(bias)
    bias /= bias[brain].mean() if brain.any() else bias.mean()
    images = {}
    for contrast in contrasts:
        rendered = render_contrast(layers, contrast, site=profile) * texture
        images[contrast] = acquire(rendered, bias, profile, rng)
    return images, brain, tumor_mask, bias.astype(np.float32)


# ----------------------------------------------------------------------------- public API


def _check_contrasts(contrast) -> tuple[str, ...]:
    names = (contrast,) if isinstance(contrast, str) else tuple(contrast)
    bad = [c for c in names if c not in CONTRASTS]
    if bad or not names:
        raise ValueError(
            f"contrast must be one of {CONTRASTS} or a sequence of them, got {contrast!r}"
        )
    return names


def _check_number(name, value, low, high=math.inf, *, integer=False):
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an int" if integer else "a number"
        raise TypeError(f"{name} must be {kind}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value!r}")


def _class_counts(per_class) -> dict[str, int]:
    if isinstance(per_class, Mapping):
        unknown = sorted(set(per_class) - set(CLASS_NAMES))
        if unknown:
            raise ValueError(f"per_class has unknown classes {unknown}; use {CLASS_NAMES}")
        counts = {c: per_class.get(c, 0) for c in CLASS_NAMES}
    else:
        counts = dict.fromkeys(CLASS_NAMES, per_class)
    for name, count in counts.items():
        _check_number(f"per_class[{name!r}]", count, 0, integer=True)
    if sum(counts.values()) == 0:
        raise ValueError(f"per_class asks for no slices at all: {per_class!r}")
    return {c: int(n) for c, n in counts.items()}


def generate_slices(
    per_class: int | Mapping[str, int] = 100,
    *,
    image_size: int = 128,
    slices_per_patient: int = 4,
    sites: int | Sequence[str] = 3,
    contrast: str | Sequence[str] = "T1CE",
    difficulty: float = 1.0,
    duplicates: float = 0.0,
    seed: int = 0,
) -> SyntheticSlices:
    """Generate a labelled set of synthetic coronal brain-MRI slices, grouped by patient.

    Each class gets ``ceil(count / slices_per_patient)`` patients; each patient contributes
    neighbouring slices of one 3D head, scanned at one site (sites are assigned in turn within a
    class, so every class is spread evenly over the sites) in one contrast (a sequence of
    contrasts is cycled over patients). Rows are ordered class by class, patient by patient.

    Args:
        per_class: Slices per class: one int for all, or ``{class_name: count}`` (missing classes
            get 0), which makes an imbalanced set.
        image_size: Side of the square slices in pixels (at least 16).
        slices_per_patient: Neighbouring slices per patient (at least 1).
        sites: Number of built-in sites (1 to 5) or a sequence of names from
            :data:`SITE_PROFILES`.
        contrast: One of :data:`CONTRASTS`, or a sequence of them cycled over patients.
        difficulty: 0 (large, bright tumours) to 3 (small, subtle ones); 1 is calibrated so that
            a linear model on pixels does poorly and a small CNN does well.
        duplicates: Fraction (0 to 1) of the slices to append again as near-duplicates (an
            intensity change and fresh noise, under a new patient id ``D<row>`` as in scraped
            public sets); ``metadata.duplicate_of`` names the source.
        seed: Seed; each patient uses its own child seed, so a patient does not change when
            other classes or counts change.

    Returns:
        A :class:`SyntheticSlices` with ``(N, H, W)`` float32 images in ``[0, 1]``.

    Raises:
        ValueError: If a count, size, difficulty, fraction, site or contrast is out of range.
        TypeError: If an argument has the wrong type.

    >>> data = generate_slices(2, image_size=32, slices_per_patient=2, seed=0)
    >>> data.images.shape, data.images.dtype, list(data.metadata["class_name"][::2])
    ((8, 32, 32), dtype('float32'), ['glioma', 'meningioma', 'notumor', 'pituitary'])
    """
    counts = _class_counts(per_class)
    _check_number("image_size", image_size, 16, 2048, integer=True)
    _check_number("slices_per_patient", slices_per_patient, 1, 256, integer=True)
    _check_number("difficulty", difficulty, 0.0, 3.0)
    _check_number("duplicates", duplicates, 0.0, 1.0)
    _check_seed(seed)
    site_list = site_names(sites)
    contrasts = _check_contrasts(contrast)

    images, brains, tumors, biases, rows = [], [], [], [], []
    n_patients = sum(math.ceil(n / slices_per_patient) for n in counts.values())
    ids = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(99,))).permutation(
        n_patients
    )
    patient = 0
    for label, class_name in enumerate(CLASS_NAMES):
        remaining = counts[class_name]
        k = 0
        while remaining > 0:
            n = min(slices_per_patient, remaining)
            site = site_list[(k + label) % len(site_list)]
            seq = contrasts[(k + label) % len(contrasts)]
            imgs, brain, tumor, bias = _patient(
                class_name,
                np.random.SeedSequence(seed, spawn_key=(label, k)),
                zs_count=slices_per_patient,
                image_size=(image_size, image_size),
                site=site,
                contrasts=(seq,),
                difficulty=float(difficulty),
            )
            images.append(imgs[seq][:n])
            brains.append(brain[:n])
            tumors.append(tumor[:n])
            biases.append(bias[:n])
            for i in range(n):
                rows.append(
                    {
                        "label": label,
                        "class_name": class_name,
                        "patient_id": f"P{ids[patient]:04d}",
                        "site": site,
                        "contrast": seq,
                        "slice_index": i,
                        "duplicate_of": -1,
                        "tumor_pixels": int((tumor[i] == 1).sum()),
                    }
                )
            remaining -= n
            k += 1
            patient += 1
    data = SyntheticSlices(
        images=np.concatenate(images),
        brain_masks=np.concatenate(brains),
        tumor_masks=np.concatenate(tumors),
        bias_fields=np.concatenate(biases),
        metadata=pd.DataFrame(rows),
    )
    if duplicates > 0:
        data = _add_duplicates(data, duplicates, np.random.SeedSequence(seed, spawn_key=(98,)))
    return data


def _add_duplicates(data: SyntheticSlices, fraction: float, seed_seq) -> SyntheticSlices:
    """Append near-copies of a random ``fraction`` of the slices, as public sets hold them.

    A copy is the same slice saved again (a small gain change and a little extra noise, as
    re-encoding leaves) under a *new* patient id ``D<source row>``: in scraped datasets the copy
    carries no link to its patient, so a patient-level split can still put the two on opposite
    sides. Perceptual hashing finds them; ``metadata.duplicate_of`` is the ground truth.
    """
    rng = np.random.default_rng(seed_seq)
    count = int(round(fraction * len(data)))
    if count == 0:
        return data
    sources = np.sort(rng.choice(len(data), size=count, replace=False))
    copies = []
    for src in sources:
        image = data.images[src] * rng.uniform(0.97, 1.03)
        image = image + rng.normal(0.0, 0.01, image.shape).astype(np.float32)
        copies.append(np.clip(image, 0, 1).astype(np.float32))
    meta = data.metadata.iloc[sources].copy()
    meta["duplicate_of"] = sources
    meta["patient_id"] = [f"D{src:04d}" for src in sources]
    return SyntheticSlices(
        images=np.concatenate([data.images, np.stack(copies)]),
        brain_masks=np.concatenate([data.brain_masks, data.brain_masks[sources]]),
        tumor_masks=np.concatenate([data.tumor_masks, data.tumor_masks[sources]]),
        bias_fields=np.concatenate([data.bias_fields, data.bias_fields[sources]]),
        metadata=pd.concat([data.metadata, meta], ignore_index=True),
    )


def generate_volume(
    class_name: str,
    *,
    shape: Sequence[int] = (32, 128, 128),
    contrasts: Sequence[str] = CONTRASTS,
    site: str = "site_A",
    difficulty: float = 1.0,
    seed: int = 0,
) -> dict:
    """Generate one patient's 3D head in several co-registered contrasts.

    The ``D`` coronal slices run from front (-0.45) to back (0.45) through the ventricles and
    the sella; the tumour sits near the middle.

    Args:
        class_name: One of ``CLASS_NAMES``.
        shape: ``(D, H, W)``, each at least 2 (H and W at least 16).
        contrasts: Contrast names from :data:`CONTRASTS`.
        site: A site name from :data:`SITE_PROFILES`.
        difficulty: As in :func:`generate_slices`.
        seed: Seed of the patient.

    Returns:
        ``{"images": {contrast: (D, H, W) float32 in [0, 1]}, "brain_mask": (D, H, W) bool,
        "tumor_mask": (D, H, W) uint8, "bias_field": (D, H, W) float32}``.

    Raises:
        ValueError: If an argument is out of range or names nothing known.
        TypeError: If ``seed`` is not a non-negative int.

    >>> vol = generate_volume("glioma", shape=(4, 32, 32), contrasts=("T1", "FLAIR"))
    >>> vol["images"]["FLAIR"].shape, vol["tumor_mask"].dtype, sorted(vol["images"])
    ((4, 32, 32), dtype('uint8'), ['FLAIR', 'T1'])
    """
    if class_name not in CLASS_NAMES:
        raise ValueError(f"class_name must be one of {CLASS_NAMES}, got {class_name!r}")
    shape = tuple(shape)
    if len(shape) != 3 or shape[0] < 2 or min(shape[1:]) < 16:
        raise ValueError(f"shape must be (D, H, W) with D >= 2 and H, W >= 16, got {shape}")
    names = _check_contrasts(contrasts)
    if site not in SITE_PROFILES:
        raise ValueError(f"site must be one of {list(SITE_PROFILES)}, got {site!r}")
    _check_number("difficulty", difficulty, 0.0, 3.0)
    _check_seed(seed)
    zs = np.linspace(-0.45, 0.45, shape[0])
    images, brain, tumor, bias = _patient(
        class_name,
        np.random.SeedSequence(seed),
        zs_count=shape[0],
        image_size=shape[1:],
        site=site,
        contrasts=names,
        difficulty=float(difficulty),
        dz=zs,
    )
    return {"images": images, "brain_mask": brain, "tumor_mask": tumor, "bias_field": bias}
