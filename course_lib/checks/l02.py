"""Checks for the lesson 02 exercises: Dice by hand, z-score inside a mask, percentile clipping.

Every check builds its own small inputs (fresh copies for each call, so an answer that modifies
its input cannot spoil the next test) and compares the student's answer with the right one.
"""

from __future__ import annotations

import numpy as np

from course_lib.checks import check, expect, expect_array, fail


def _masks() -> tuple[np.ndarray, np.ndarray]:
    """Two 4x4 masks: ``a`` has 4 pixels, ``b`` 6, they share 2 (Dice 4/10, IoU 2/8)."""
    a = np.zeros((4, 4), bool)
    a[1:3, 1:3] = True
    b = np.zeros((4, 4), bool)
    b[1:3, 2:4] = True
    b[0, 1:3] = True
    return a, b


def _as_float(value, what: str) -> float:
    if value is None:
        fail(f"{what} returned None.", "Did you forget to `return` the result?")
    try:
        return float(value)
    except (TypeError, ValueError):
        fail(f"{what} returned {value!r}, not a number.", "Return one float.")
    return float("nan")  # unreachable: fail raises


@check(
    "dice",
    hint="Dice = 2 * |A and B| / (|A| + |B|): np.logical_and(a, b).sum(), a.sum(), b.sum(); "
    "return 1.0 when both masks are empty.",
)
def check_dice(dice) -> None:
    """Check ``dice(a, b) -> float`` on overlapping, identical, disjoint and empty masks."""
    a, b = _masks()
    got = _as_float(dice(a.copy(), b.copy()), "dice(a, b)")
    if abs(got - 2 / 8) < 1e-6:
        fail(
            f"dice(a, b) returned {got:.4f}, which is the IoU (Jaccard index) |A and B| / "
            "|A or B|; Dice is 0.4 here.",
            "Dice divides twice the overlap by the SUM of the two areas: 2 * 2 / (4 + 6).",
        )
    expect(
        abs(got - 0.4) < 1e-6,
        f"dice(a, b) returned {got:.4f} for masks of 4 and 6 pixels sharing 2; expected 0.4.",
        "2 * overlap / (area of a + area of b) = 2 * 2 / (4 + 6).",
    )
    scratch_a, scratch_b = a.copy(), b.copy()
    dice(scratch_a, scratch_b)
    expect(
        np.array_equal(scratch_a, a) and np.array_equal(scratch_b, b),
        "dice changed one of its input masks.",
        "Compute with np.logical_and(a, b); do not assign into a or b.",
    )
    for what, x, y, expected in [
        ("dice(a, a)", a, a, 1.0),
        ("dice(a, ~a)", a, ~a, 0.0),
        ("dice(a, all False)", a, np.zeros_like(a), 0.0),
    ]:
        value = _as_float(dice(x.copy(), y.copy()), what)
        expect(
            abs(value - expected) < 1e-6,
            f"{what} returned {value:.4f}; expected {expected}.",
            "Identical masks score 1, masks that share no pixel score 0.",
        )
    empty = np.zeros((3, 3), bool)
    value = _as_float(dice(empty.copy(), empty.copy()), "dice(empty, empty)")
    expect(
        value == 1.0,
        f"dice(empty, empty) returned {value}; expected 1.0 (two empty masks agree perfectly, "
        "e.g. a slice with no brain and a stripper that found none).",
        "Before dividing, return 1.0 when a.sum() + b.sum() == 0 (0 / 0 is not a number).",
    )


def _zscore_case() -> tuple[np.ndarray, np.ndarray]:
    image = np.array([[0, 0, 0, 0], [0, 2, 4, 0], [0, 6, 8, 0], [0, 0, 0, 100]], dtype=np.uint8)
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True
    return image, mask


def _zscore_hint(got: np.ndarray, image: np.ndarray, mask: np.ndarray) -> str:
    """A targeted hint for a wrong z-score: whole-image statistics, or zeros outside the mask."""
    whole = image.astype(np.float64)
    if np.allclose(got, (whole - whole.mean()) / whole.std(), atol=1e-4):
        return "You used the whole image's mean and std; take them inside the mask: image[mask]."
    if np.allclose(got[~mask], 0):
        return "Pixels outside the mask must be transformed too, not set to 0."
    return "mean = image[mask].mean(), std = image[mask].std(), then (image - mean) / std."


@check(
    "zscore_in_mask",
    hint="mean = image[mask].mean(), std = image[mask].std(); return "
    "((image - mean) / std).astype(np.float32) for the WHOLE image.",
)
def check_zscore_in_mask(zscore_in_mask) -> None:
    """Check ``zscore_in_mask(image, mask) -> float32`` with statistics from inside the mask."""
    image, mask = _zscore_case()
    inside = image[mask].astype(np.float64)
    expected = ((image - inside.mean()) / inside.std()).astype(np.float32)
    got = zscore_in_mask(image.copy(), mask.copy())
    if isinstance(got, np.ndarray) and got.shape == (int(mask.sum()),):
        fail(
            f"zscore_in_mask returned only the pixels inside the mask (shape {got.shape}).",
            "Measure mean and std with image[mask], but transform the whole image: "
            "(image - mean) / std keeps the (H, W) shape.",
        )
    hint = "mean = image[mask].mean(), std = image[mask].std(), then (image - mean) / std."
    if isinstance(got, np.ndarray) and got.shape == image.shape:
        hint = _zscore_hint(got.astype(np.float64), image, mask)
    expect_array(got, expected, what="zscore_in_mask(image, mask)", atol=1e-5, hint=hint)
    expect(
        got.dtype == np.float32,
        f"zscore_in_mask returned dtype {got.dtype}; expected float32.",
        "Finish with .astype(np.float32).",
    )
    scratch = image.copy()
    zscore_in_mask(scratch, mask.copy())
    expect(
        np.array_equal(scratch, image),
        "zscore_in_mask changed its input image.",
        "Compute a new array; do not write into image.",
    )
    flat = np.full((3, 3), 5.0)
    flat[0, 0] = 9.0
    inner = np.zeros((3, 3), bool)
    inner[1:, 1:] = True
    expect_array(
        zscore_in_mask(flat.copy(), inner.copy()),
        (flat - 5.0).astype(np.float32),
        what="zscore_in_mask(image that is constant inside the mask)",
        hint="When std == 0 there is nothing to divide by: return (image - mean) (zeros inside).",
    )


@check(
    "clip_percentiles",
    hint="lo, hi = np.percentile(image, [low, high]); return "
    "np.clip(image, lo, hi).astype(np.float32).",
)
def check_clip_percentiles(clip_percentiles) -> None:
    """Check ``clip_percentiles(image, low, high) -> float32`` clipped at the percentiles."""
    ramp = np.arange(101, dtype=np.float64).reshape(1, 101) * 2.0  # 0, 2, ..., 200
    ramp[0, 100] = 5000.0  # one bright outlier, as a vessel or an artefact would be
    got = clip_percentiles(ramp.copy(), 10, 90)
    hint = "Clip at the intensities np.percentile(image, [low, high]) returns, not at low and high."
    if isinstance(got, np.ndarray) and got.shape == ramp.shape and np.isclose(got.max(), 90):
        hint = (
            "You clipped at the numbers 10 and 90 themselves; clip at the 10th and 90th "
            "percentile intensities: lo, hi = np.percentile(image, [low, high])."
        )
    expected = np.clip(ramp, *np.percentile(ramp, [10, 90])).astype(np.float32)
    expect_array(got, expected, what="clip_percentiles(ramp with an outlier, 10, 90)", hint=hint)
    expect(
        got.dtype == np.float32,
        f"clip_percentiles returned dtype {got.dtype}; expected float32.",
        "Finish with .astype(np.float32).",
    )
    scratch = ramp.copy()
    clip_percentiles(scratch, 10, 90)
    expect(
        np.array_equal(scratch, ramp),
        "clip_percentiles changed its input image.",
        "np.clip(image, lo, hi) returns a new array; do not pass out=image.",
    )
    image = np.array([[0, 10, 20], [30, 40, 250]], dtype=np.uint8)
    expect_array(
        clip_percentiles(image.copy(), 0, 100),
        image.astype(np.float32),
        what="clip_percentiles(uint8 image, 0, 100)",
        hint="The 0th and 100th percentiles are the minimum and maximum: nothing is clipped.",
    )
