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

from course_lib.anatomy import (
    PixelGrid,
    _smooth_field,
    head_layers,
    sample_anatomy,
    sample_tumor,
)
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
#: Bump whenever a change makes the generator draw different images for the same arguments:
#: datasets written to disk are named after it, so an old set is never mistaken for a new one.
GENERATOR_VERSION = 2

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
