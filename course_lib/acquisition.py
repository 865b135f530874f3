"""How a scanner turns anatomy into an image: contrasts, tissue intensities and scanner sites.

A head is first *rendered* in one of :data:`CONTRASTS` (each tissue gets the intensity its
relaxation times give under the site's protocol and field strength, :mod:`course_lib.mr_signal`;
:data:`TISSUE_INTENSITIES` at a 1.5 T reference site), then *acquired* at a scanner site
(:data:`SITE_PROFILES`): a smooth multiplicative bias field, blur, optional motion ghosting,
Rician noise and the site's own intensity scale, offset, gamma and tissue contrast. Pure
functions on numpy arrays; randomness comes in as ``seed`` or ``rng``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from course_lib._validation import check_int, check_number, is_int
from course_lib.anatomy import smooth_field
from course_lib.mr_signal import TISSUES, signal_intensities

#: The MRI contrasts (sequences) the engine renders.
CONTRASTS: tuple[str, ...] = ("T1", "T1CE", "T2", "FLAIR")

#: Tissue intensities per contrast at a typical 1.5 T site, before acquisition (rows: tissues,
#: values in ``CONTRASTS`` order), computed from each tissue's proton density and relaxation
#: times by the signal equations of :mod:`course_lib.mr_signal`. T1: fat and WM bright, CSF dark;
#: T1CE: T1 plus enhancing tumour, dura, sinuses and gland; T2: CSF and edema bright, WM darker
#: than GM; FLAIR: T2 with CSF suppressed.
TISSUE_INTENSITIES: dict[str, tuple[float, ...]] = {
    tissue: tuple(round(signal_intensities(c)[tissue], 3) for c in CONTRASTS) for tissue in TISSUES
}

#: Tissues whose contrast a site's ``tissue_contrast`` stretches (the brain's own tissues).
_BRAIN_TISSUES = ("csf", "gm", "wm", "tumor", "edema", "necrosis")


@dataclass(frozen=True)
class SiteProfile:
    """How one scanner site acquires and displays an image.

    Attributes:
        field: Field strength in tesla (T1 lengthens with it, so the contrast changes).
        tr_scale: The site's repetition times, relative to :data:`~course_lib.mr_signal.PROTOCOLS`.
        te_scale: The site's echo times, relative to the same protocols.
        scale: Multiplies the displayed intensity.
        offset: Added to the displayed intensity.
        gamma: Display gamma (``image ** gamma``); below 1 brightens the mid-tones.
        noise: Rician noise sigma, relative to the brightest tissue.
        bias: Strength of the smooth multiplicative bias field (std of its logarithm).
        blur: Gaussian point-spread sigma in pixels at 128 x 128 (scaled with the image size).
        ghosting: Amplitude of motion ghosts along the phase-encoding (row) axis; 0 for none.
        tissue_contrast: Stretch (>1) or squeeze (<1) of brain tissue intensities around their mean.
    """

    field: float = 1.5
    tr_scale: float = 1.0
    te_scale: float = 1.0
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
        field=3.0,
        tr_scale=1.2,
        scale=0.82,
        offset=0.05,
        gamma=0.75,
        noise=0.045,
        bias=0.18,
        blur=0.9,
        tissue_contrast=0.8,
    ),
    "site_C": SiteProfile(
        tr_scale=0.9,
        te_scale=0.8,
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
        field=1.0,
        scale=0.95,
        offset=0.02,
        gamma=0.9,
        noise=0.06,
        bias=0.12,
        blur=1.1,
        tissue_contrast=0.9,
    ),
    "site_E": SiteProfile(
        field=3.0,
        te_scale=1.2,
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
        ValueError: If ``shape`` is not 2 or 3 sides of at least 2, or ``strength`` or ``seed``
            is negative.
        TypeError: If ``seed`` is not an int or ``strength`` not a number.

    >>> field = simulate_bias_field((64, 64), strength=0.3, seed=1)
    >>> field.shape, field.dtype, round(float(field.mean()), 3)
    ((64, 64), dtype('float32'), 1.0)
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or min(shape) < 2:
        raise ValueError(f"shape must be (H, W) or (D, H, W) with sides >= 2, got {shape}")
    check_number("strength", strength, minimum=0)
    check_int("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    depth = shape[0] if len(shape) == 3 else 1
    height, width = shape[-2:]
    zs = np.linspace(-1, 1, depth) if depth > 1 else np.zeros(1)
    field = smooth_field(
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
        ValueError: If ``sigma`` or ``seed`` is negative.
        TypeError: If ``image`` is not a numeric array, ``sigma`` not a number or ``seed`` not
            an int.

    >>> noisy = add_rician_noise(np.zeros((100, 100)), 0.1, seed=0)
    >>> bool(noisy.min() >= 0), round(float(noisy.mean()), 1)
    (True, 0.1)
    """
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.number) or np.issubdtype(image.dtype, np.complexfloating):
        raise TypeError(f"image must be a real numeric array, got dtype {image.dtype}")
    check_number("sigma", sigma, minimum=0)
    check_int("seed", seed, minimum=0)
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
    check_number("strength", strength, minimum=0)
    shift = image.shape[-2] // 4 if shift is None else int(shift)
    ghosts = np.roll(image, shift, axis=-2) + np.roll(image, -shift, axis=-2)
    return image + np.float32(strength) * ghosts


@functools.lru_cache(maxsize=64)
def _site_signal(contrast: str, field: float, tr_scale: float, te_scale: float):
    values = signal_intensities(contrast, field=field, tr_scale=tr_scale, te_scale=te_scale)
    return tuple(values.items())


def tissue_intensities(contrast: str, site: SiteProfile | None = None) -> dict[str, float]:
    """Intensity of each tissue in one contrast, at the reference site or at a given one.

    Args:
        contrast: One of :data:`CONTRASTS`.
        site: A :class:`SiteProfile`: its field strength and protocol set the intensities
            (:func:`course_lib.mr_signal.signal_intensities`), then its ``tissue_contrast``
            stretches the brain tissues around their mean. ``None`` gives
            :data:`TISSUE_INTENSITIES`.

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
    if site is None:
        k = CONTRASTS.index(contrast)
        values = {name: row[k] for name, row in TISSUE_INTENSITIES.items()}
    else:
        values = dict(_site_signal(contrast, site.field, site.tr_scale, site.te_scale))
    if site is not None and site.tissue_contrast != 1.0:
        mean = float(np.mean([values[t] for t in _BRAIN_TISSUES]))
        for t in _BRAIN_TISSUES:
            values[t] = float(np.clip(mean + site.tissue_contrast * (values[t] - mean), 0, 1))
    return values


#: Tissues a domain-randomised head keeps apart from the brain around them (a tumour drawn with
#: the brain's own intensity would be invisible, and its label noise).
_LESION_TISSUES = ("tumor", "enhancing", "meningioma", "adenoma", "edema")


def random_tissue_intensities(
    rng: np.random.Generator, strength: float = 1.0, *, contrast: str = "T1CE"
) -> dict[str, float]:
    """Tissue intensities drawn at random, as SynthSeg draws them (Billot et al. 2023).

    A network that only ever sees a tissue's shape, never a fixed intensity, cannot lean on one
    scanner's contrast; trained on many random contrasts it can work on any real one. Each
    tissue gets ``(1 - strength) * its contrast's value + strength * U(0, 1)``; air stays black,
    and each lesion tissue is kept at least ``0.12 * strength`` away from the mean of grey and
    white matter.

    Args:
        rng: Random generator (one draw per patient).
        strength: 0 gives :func:`tissue_intensities` of ``contrast``; 1 fully random values.
        contrast: The contrast the values are drawn around.

    Returns:
        ``{tissue: intensity in [0, 1]}`` for every tissue in :data:`TISSUE_INTENSITIES`.

    Raises:
        ValueError: If ``strength`` is outside 0 to 1 or ``contrast`` is unknown.

    >>> values = random_tissue_intensities(np.random.default_rng(0))
    >>> values["air"], all(0 <= v <= 1 for v in values.values())
    (0.0, True)
    """
    check_number("strength", strength, minimum=0, maximum=1)
    base = tissue_intensities(contrast)
    draws = rng.uniform(0.0, 1.0, size=len(base))
    values = {
        t: float((1 - strength) * v + strength * d)
        for (t, v), d in zip(base.items(), draws, strict=True)
    }
    values["air"] = 0.0
    brain = 0.5 * (values["gm"] + values["wm"])
    least = 0.12 * strength
    for t in _LESION_TISSUES:
        gap = values[t] - brain
        if abs(gap) < least:
            side = 1.0 if (gap >= 0 and brain < 1 - least) or brain < least else -1.0
            values[t] = float(np.clip(brain + side * least, 0.0, 1.0))
    return values


def random_site(
    rng: np.random.Generator, strength: float = 1.0, *, around: SiteProfile | None = None
) -> SiteProfile:
    """A scanner drawn at random: resolution, noise, bias, ghosting and display.

    The acquisition half of domain randomisation: blur from none to 1.6 pixels (a scan of about
    half the resolution), noise, a bias field up to 0.45, ghosts in one scan of five,
    display gamma and scale. ``strength`` moves each value from ``around``'s (0) to the drawn
    one (1).

    Args:
        rng: Random generator (one draw per patient).
        strength: 0 to 1.
        around: The profile to start from (default: site A's); its ``tissue_contrast`` is kept.

    Returns:
        A :class:`SiteProfile`.

    Raises:
        ValueError: If ``strength`` is outside 0 to 1.

    >>> site = random_site(np.random.default_rng(0))
    >>> 0 <= site.blur <= 1.6, site.tissue_contrast
    (True, 1.0)
    """
    check_number("strength", strength, minimum=0, maximum=1)
    base = SiteProfile() if around is None else around
    drawn = SiteProfile(
        scale=rng.uniform(0.75, 1.2),
        # a negative offset is a display window that sets the noise floor to black
        offset=rng.uniform(-0.1, 0.06),
        gamma=float(np.exp(rng.normal(0.0, 0.3))),
        noise=rng.uniform(0.005, 0.06),
        bias=rng.uniform(0.0, 0.45),
        blur=rng.uniform(0.0, 1.6),
        ghosting=rng.uniform(0.0, 0.1) if rng.uniform() < 0.2 else 0.0,
    )
    mix = {
        name: float((1 - strength) * getattr(base, name) + strength * getattr(drawn, name))
        for name in ("scale", "offset", "gamma", "noise", "bias", "blur", "ghosting")
    }
    return replace(base, **mix)


def render_contrast(
    layers: Sequence[tuple[str, np.ndarray]],
    contrast: str,
    *,
    site: SiteProfile | None = None,
    values: dict[str, float] | None = None,
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
        values: ``{tissue: intensity}`` to paint with instead of the contrast's table (e.g.
            from :func:`random_tissue_intensities`); ``site`` then does not apply.

    Returns:
        float32 array of the alphas' shape.

    Raises:
        ValueError: If ``layers`` is empty, a tissue is unknown, or ``contrast`` is unknown.

    >>> alpha = np.array([[0.0, 1.0]], np.float32)
    >>> image = render_contrast([("wm", np.ones((1, 2), np.float32)), ("csf", alpha)], "T2")
    >>> [round(v, 2) for v in image[0].tolist()]
    [0.31, 0.95]
    """
    values = tissue_intensities(contrast, site) if values is None else values
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
    if is_int(sites):
        count = check_int("sites", sites, minimum=1, maximum=len(SITE_PROFILES))
        return tuple(SITE_PROFILES)[:count]
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


def jittered_site(site: SiteProfile, rng: np.random.Generator) -> SiteProfile:
    """A patient's own variant of a site profile (scanner drift, patient size).

    Args:
        site: The site's profile.
        rng: Random generator.

    Returns:
        A new :class:`SiteProfile` with scale, offset, gamma, noise and bias drawn around the
        site's.
    """
    return replace(
        site,
        scale=site.scale * rng.uniform(0.9, 1.1),
        offset=site.offset + rng.uniform(-0.02, 0.02),
        gamma=site.gamma * rng.uniform(0.92, 1.08),
        noise=site.noise * rng.uniform(0.75, 1.25),
        bias=site.bias * rng.uniform(0.7, 1.3),
    )


def contrast_names(contrast: str | Sequence[str]) -> tuple[str, ...]:
    """Resolve a ``contrast`` argument (one name or a sequence of them) to contrast names.

    Raises:
        ValueError: If a name is not in :data:`CONTRASTS`, or the sequence is empty.
        TypeError: If ``contrast`` is neither a string nor a sequence of strings.

    >>> contrast_names("T1CE"), contrast_names(["T1", "T2"])
    (('T1CE',), ('T1', 'T2'))
    """
    if isinstance(contrast, str):
        names = (contrast,)
    elif isinstance(contrast, Sequence) and all(isinstance(c, str) for c in contrast):
        names = tuple(contrast)
    else:
        raise TypeError(f"contrast must be a name or a sequence of names, got {contrast!r}")
    if not names or any(c not in CONTRASTS for c in names):
        raise ValueError(
            f"contrast must be one of {CONTRASTS} or a sequence of them, got {contrast!r}"
        )
    return names
