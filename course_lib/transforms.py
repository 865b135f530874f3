"""Seeded albumentations pipelines for grayscale MRI slices, and thin wrappers over preprocessing.

Pipelines take ``(H, W)`` ``uint8`` grayscale slices (``image=...``) and return
``out["image"]`` as ``float32`` ``(H, W)`` normalised with :data:`MEAN` and :data:`STD`.
albumentations pipelines do not see a global seed (``course_lib.config.seed_everything``): pass
``seed=`` to get repeatable augmentation.

The wrappers (:class:`SkullStrip`, :class:`PercentileClip`, :class:`ZScore`,
:class:`RandomBiasField`, :class:`N4Correct`) only delegate to :mod:`course_lib.preprocessing`,
so a pipeline and a notebook calling the functions directly give the same pixels.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A  # noqa: E402

from course_lib import preprocessing as P  # noqa: E402
from course_lib._validation import check_choice, check_int  # noqa: E402

__all__ = [
    "MEAN",
    "STD",
    "STRENGTHS",
    "N4Correct",
    "PercentileClip",
    "RandomBiasField",
    "SkullStrip",
    "ZScore",
    "eval_transform",
    "train_transform",
]

#: Mean of pixel values scaled to ``[0, 1]``, measured on the course's real sample of 80 Kaggle
#: "Brain Tumor MRI" slices (0.189) and rounded; mostly dark background pulls it low.
MEAN: float = 0.19
#: Standard deviation of the same pixels (0.206), rounded. ``(x / 255 - MEAN) / STD`` makes a
#: typical slice roughly zero-mean with unit variance, which keeps early activations sane.
STD: float = 0.21

#: Augmentation strengths :func:`train_transform` accepts; ``"none"`` is the eval pipeline.
STRENGTHS: tuple[str, ...] = ("none", "light", "medium", "strong")

# Per strength: affine rotation (degrees), scale range, translation (fraction), elastic alpha,
# brightness/contrast limit, gamma range (percent), noise std range (fraction of 255), blur
# sigma range, bias-field strength, and the probability of each step.
_SETTINGS = {
    "light": dict(rot=5, scale=0.05, shift=0.03, alpha=0, bc=0.1, gamma=(90, 110),
                  noise=(0.0, 0.02), sigma=(0.1, 0.5), bias=0.1, p=0.3),
    "medium": dict(rot=10, scale=0.1, shift=0.05, alpha=20, bc=0.2, gamma=(80, 120),
                   noise=(0.01, 0.04), sigma=(0.1, 0.8), bias=0.2, p=0.5),
    "strong": dict(rot=15, scale=0.15, shift=0.08, alpha=40, bc=0.3, gamma=(70, 140),
                   noise=(0.02, 0.06), sigma=(0.1, 1.2), bias=0.3, p=0.7),
}  # fmt: skip


def _normalize() -> A.Normalize:
    return A.Normalize(mean=MEAN, std=STD, max_pixel_value=255.0)


def eval_transform(image_size: int) -> A.Compose:
    """Resize and normalise only: the deterministic pipeline for validation, test and inference.

    Args:
        image_size: Output side in pixels (square, ``>= 8``).

    Returns:
        An ``A.Compose``; ``pipeline(image=x)["image"]`` maps a ``(H, W)`` ``uint8`` slice to
        a ``float32`` ``(image_size, image_size)`` array ``(x / 255 - MEAN) / STD``.

    Raises:
        TypeError: If ``image_size`` is not an int.
        ValueError: If ``image_size`` is below 8.

    >>> out = eval_transform(32)(image=np.zeros((64, 48), np.uint8))["image"]
    >>> out.shape, out.dtype, round(float(out[0, 0]), 4)
    ((32, 32), dtype('float32'), -0.9048)
    """
    size = check_int("image_size", image_size, minimum=8)
    return A.Compose([A.Resize(size, size), _normalize()])


def train_transform(
    image_size: int, *, seed: int | None = None, strength: str = "medium"
) -> A.Compose:
    """Random augmentation for training slices, then the same resize and normalisation as eval.

    Geometric: a small ``Affine`` (rotation, isotropic scale, shift), ``ElasticTransform``
    (``medium`` and ``strong``) and ``HorizontalFlip``: brains are roughly left-right symmetric,
    so a mirrored slice is a plausible patient; an upside-down one is not, so there is no
    vertical flip. Intensity: brightness/contrast, gamma, Gaussian noise, Gaussian blur and a
    simulated scanner bias field (:class:`RandomBiasField`).

    Args:
        image_size: Output side in pixels (square, ``>= 8``).
        seed: Seed of the pipeline's own random generator (``None``: not repeatable).
        strength: One of :data:`STRENGTHS`; ``"none"`` returns :func:`eval_transform`.

    Returns:
        An ``A.Compose`` mapping a ``(H, W)`` ``uint8`` slice to ``float32``
        ``(image_size, image_size)``.

    Raises:
        ValueError: If ``strength`` is unknown (the message lists the choices) or
            ``image_size`` is below 8.
        TypeError: If ``image_size`` is not an int.

    >>> t = train_transform(32, seed=0)
    >>> t(image=np.zeros((40, 40), np.uint8))["image"].shape
    (32, 32)
    """
    size = check_int("image_size", image_size, minimum=8)
    check_choice("strength", strength, STRENGTHS)
    if strength == "none":
        return A.Compose(eval_transform(size).transforms, seed=seed)
    s = _SETTINGS[strength]
    steps = [
        A.Affine(
            rotate=(-s["rot"], s["rot"]),
            scale=(1 - s["scale"], 1 + s["scale"]),
            translate_percent=(-s["shift"], s["shift"]),
            border_mode=0,
            fill=0,
            p=s["p"],
        ),
    ]
    if s["alpha"] > 0:
        steps.append(A.ElasticTransform(alpha=s["alpha"], sigma=6, border_mode=0, p=s["p"] / 2))
    steps += [
        A.HorizontalFlip(p=0.5),
        # The coil's bias field multiplies the signal (air stays black), so it comes before the
        # brightness/contrast/gamma changes that also shift the background.
        RandomBiasField(strength=s["bias"], p=s["p"]),
        A.RandomBrightnessContrast(brightness_limit=s["bc"], contrast_limit=s["bc"], p=s["p"]),
        A.RandomGamma(gamma_limit=s["gamma"], p=s["p"]),
        A.GaussianBlur(sigma_limit=s["sigma"], blur_limit=0, p=s["p"] / 2),
        A.GaussNoise(std_range=s["noise"], p=s["p"]),
        A.Resize(size, size),
        _normalize(),
    ]
    return A.Compose(steps, seed=seed)


def _like_input(result: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Cast a float result back to the input's dtype (clipping to ``[0, 255]`` for ``uint8``)."""
    if image.dtype == np.uint8:
        return np.clip(np.rint(result), 0, 255).astype(np.uint8)
    return result.astype(image.dtype, copy=False)


class SkullStrip(A.ImageOnlyTransform):
    """Zero everything outside :func:`course_lib.preprocessing.strip_skull`'s brain mask.

    Keeps the input's dtype and shape ``(H, W)``.

    Args:
        erosion_radius: Passed to ``strip_skull``.
        p: Probability of applying.
    """

    def __init__(self, erosion_radius: int = 2, p: float = 1.0):
        super().__init__(p=p)
        self.erosion_radius = erosion_radius

    def apply(self, img: np.ndarray, **params) -> np.ndarray:
        """Strip the skull of one image."""
        mask = P.strip_skull(img, erosion_radius=self.erosion_radius)
        return P.apply_mask(img, mask)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        """Arguments shown in ``repr`` and serialisation."""
        return ("erosion_radius",)


class PercentileClip(A.ImageOnlyTransform):
    """Clip to percentiles with :func:`course_lib.preprocessing.clip_percentiles`.

    Keeps the input's dtype and shape ``(H, W)`` (does not rescale).

    Args:
        low: Lower percentile.
        high: Upper percentile.
        p: Probability of applying.
    """

    def __init__(self, low: float = 1.0, high: float = 99.0, p: float = 1.0):
        super().__init__(p=p)
        self.low, self.high = low, high

    def apply(self, img: np.ndarray, **params) -> np.ndarray:
        """Clip one image."""
        return _like_input(P.clip_percentiles(img, self.low, self.high), img)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        """Arguments shown in ``repr`` and serialisation."""
        return ("low", "high")


class ZScore(A.ImageOnlyTransform):
    """Per-image z-score with :func:`course_lib.preprocessing.normalize_zscore`.

    Returns ``float32`` ``(H, W)``; use it *instead of* ``A.Normalize``, as the last step.
    With ``brain_only=True`` the statistics come from the :func:`strip_skull` mask (the whole
    image when it finds none).

    Args:
        brain_only: Measure mean and std inside the brain only.
        p: Probability of applying.
    """

    def __init__(self, brain_only: bool = False, p: float = 1.0):
        super().__init__(p=p)
        self.brain_only = brain_only

    def apply(self, img: np.ndarray, **params) -> np.ndarray:
        """Normalise one image."""
        mask = P.strip_skull(img) if self.brain_only else None
        return P.normalize_zscore(img, mask if mask is not None and mask.any() else None)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        """Arguments shown in ``repr`` and serialisation."""
        return ("brain_only",)


class RandomBiasField(A.ImageOnlyTransform):
    """Multiply by a random :func:`course_lib.preprocessing.simulate_bias_field`.

    The field's seed is drawn from the pipeline's generator, so a seeded ``A.Compose`` repeats.
    Keeps the input's dtype and shape ``(H, W)`` (``uint8`` is clipped to ``[0, 255]``).

    Args:
        strength: Standard deviation of the field's logarithm.
        p: Probability of applying.
    """

    def __init__(self, strength: float = 0.3, p: float = 0.5):
        super().__init__(p=p)
        self.strength = strength

    def get_params(self) -> dict:
        """Draw the field's seed from the pipeline's random generator."""
        return {"field_seed": int(self.random_generator.integers(2**31))}

    def apply(self, img: np.ndarray, field_seed: int = 0, **params) -> np.ndarray:
        """Apply one random field."""
        field = P.simulate_bias_field(img.shape, strength=self.strength, seed=field_seed)
        return _like_input(P.apply_bias_field(img, field), img)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        """Arguments shown in ``repr`` and serialisation."""
        return ("strength",)


class N4Correct(A.ImageOnlyTransform):
    """N4 bias-field correction with :func:`course_lib.preprocessing.correct_bias_field`.

    Slow (tens of milliseconds per slice): prefer correcting once, offline, before training.
    Keeps the input's dtype and shape ``(H, W)``.

    Args:
        shrink_factor: Passed to ``correct_bias_field``.
        p: Probability of applying.
    """

    def __init__(self, shrink_factor: int = 2, p: float = 1.0):
        super().__init__(p=p)
        self.shrink_factor = shrink_factor

    def apply(self, img: np.ndarray, **params) -> np.ndarray:
        """Correct one image."""
        corrected, _ = P.correct_bias_field(img, shrink_factor=self.shrink_factor)
        return _like_input(corrected, img)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        """Arguments shown in ``repr`` and serialisation."""
        return ("shrink_factor",)
