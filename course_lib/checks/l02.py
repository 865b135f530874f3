"""Checks for the lesson 02 exercises: Dice, z-score, percentile clipping, Nyul-Udupa, CV, error.

Every check builds its own small inputs (fresh copies for each call, so an answer that modifies
its input cannot spoil the next test) and compares the student's answer with the right one. The
right answers come from private helpers here or from the course library, which is where the
student's function is compared with afterwards anyway.
"""

from __future__ import annotations

import numbers

import numpy as np

from course_lib.checks import check, expect, expect_array, expect_own_code, fail

# --------------------------------------------------------------------------- numbers


def _as_number(value, what: str) -> float:
    """The student's result as a float; a string, a bool, an array or None fails with a reason."""
    if value is None:
        fail(f"{what} returned None.", "Did you forget to `return` the result?")
    if isinstance(value, str):
        fail(
            f"{what} returned the text {value!r}, not a number: text cannot be averaged or "
            "compared with a threshold.",
            "Return the number itself; format it only where you print it.",
        )
    if isinstance(value, bool | np.bool_):
        fail(f"{what} returned {bool(value)}, a yes/no value, not a number.", "Return one float.")
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return float(value)
    if isinstance(value, np.ndarray):
        fail(
            f"{what} returned an array of shape {value.shape}, not one number.",
            "Reduce to a single value for the whole mask.",
        )
    if not isinstance(value, numbers.Real):
        fail(f"{what} returned a {type(value).__name__}, not a number.", "Return one float.")
    return float(value)


def _expect_shape(got, shape: tuple[int, ...], what: str) -> None:
    """Fail unless ``got`` is a NumPy array of ``shape`` (its values are checked afterwards)."""
    if got is None:
        fail(f"{what} returned None.", "Did you forget to `return` the result?")
    if not isinstance(got, np.ndarray):
        fail(
            f"{what} returned a {type(got).__name__}, not a NumPy array.",
            "Work with NumPy arrays from start to end.",
        )
    expect(
        got.shape == shape,
        f"{what} has shape {got.shape}; expected {shape}, the shape of the image.",
        "Transform every pixel; do not drop or add any.",
    )


# --------------------------------------------------------------------------- dice


def _masks() -> tuple[np.ndarray, np.ndarray]:
    """Two 4x4 masks: ``a`` has 4 pixels, ``b`` 6, they share 2 (Dice 0.4, IoU 0.25)."""
    a = np.zeros((4, 4), bool)
    a[1:3, 1:3] = True
    b = np.zeros((4, 4), bool)
    b[1:3, 2:4] = True
    b[0, 1:3] = True
    return a, b


@check(
    "dice",
    hint="Three counts: the pixels the masks share and the pixels of each mask. Decide first "
    "what two empty masks score.",
)
def check_dice(dice) -> None:
    """Check ``dice(a, b) -> float`` on overlapping, identical, disjoint, empty and 3D masks."""
    expect_own_code(dice, "dice", exercise="dice")
    a, b = _masks()
    got = _as_number(dice(a.copy(), b.copy()), "dice(a, b)")
    wrong = {
        0.25: "is the IoU (Jaccard index), the overlap over the union. Dice divides twice the "
        "overlap by the sum of the two areas",
        0.2: "is the overlap over the sum of the areas: the factor 2 is missing, so two "
        "identical masks would score only 0.5",
        0.5: "is twice the overlap over the union; Dice divides by the sum of the two areas",
    }
    for value, problem in wrong.items():
        if abs(got - value) < 1e-6:
            fail(
                f"dice(a, b) returned {got:.4f}, which {problem}.",
                "Count |A|, |B| and the shared pixels, then read the formula again.",
            )
    expect(
        abs(got - 0.4) < 1e-6,
        f"dice(a, b) returned {got:.4f} for masks of 4 and 6 pixels that share 2 pixels.",
        "Count the shared pixels with a logical operation on the two masks, not by comparing "
        "them for equality (that also counts the background they share).",
    )
    scratch_a, scratch_b = a.copy(), b.copy()
    dice(scratch_a, scratch_b)
    expect(
        np.array_equal(scratch_a, a) and np.array_equal(scratch_b, b),
        "dice changed one of its input masks.",
        "An in-place operator (&=, |=) writes into the mask; compute a new array instead.",
    )
    for what, x, y, expected in [
        ("dice(a, a)", a, a, 1.0),
        ("dice(a, not a)", a, ~a, 0.0),
        ("dice(a, all False)", a, np.zeros_like(a), 0.0),
    ]:
        value = _as_number(dice(x.copy(), y.copy()), what)
        expect(
            abs(value - expected) < 1e-6,
            f"{what} returned {value:.4f}; identical masks score 1 and masks that share no "
            "pixel score 0.",
            "Use the formula as it stands; no special case is needed here.",
        )
    empty = np.zeros((3, 3), bool)
    value = _as_number(dice(empty.copy(), empty.copy()), "dice(empty, empty)")
    expect(
        value == 1.0,
        f"dice(empty, empty) returned {value}: two empty masks agree perfectly (a slice with "
        "no brain, and a stripper that found none), and 0 / 0 is not a number.",
        "Handle the case where both masks are empty before you divide.",
    )
    cube_a = np.zeros((3, 4, 5), bool)
    cube_a[1:, 1:3, 1:4] = True  # 12 voxels
    cube_b = np.zeros((3, 4, 5), bool)
    cube_b[:2, 2:4, 2:5] = True  # 12 voxels, 2 shared
    value = _as_number(dice(cube_a.copy(), cube_b.copy()), "dice(3D masks)")
    expect(
        abs(value - 1 / 6) < 1e-6,
        f"dice on two 3D masks of 12 voxels sharing 2 returned {value:.4f}.",
        "Count over every axis: the masks can be volumes, not only slices.",
    )


# --------------------------------------------------------------------------- zscore_in_mask


def _zscore_case() -> tuple[np.ndarray, np.ndarray]:
    image = np.array([[0, 0, 0, 0], [0, 2, 4, 0], [0, 6, 8, 0], [0, 0, 0, 100]], dtype=np.uint8)
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True
    return image, mask


def _zscore(image: np.ndarray, mask: np.ndarray, ddof: int) -> np.ndarray:
    inside = image[mask].astype(np.float64)
    std = inside.std(ddof=ddof)
    out = image.astype(np.float64) - inside.mean()
    return (out / std if std > 0 else out).astype(np.float32)


def _zscore_problem(got: np.ndarray, image: np.ndarray, mask: np.ndarray) -> tuple[str, str]:
    """The specific mistake of a wrong z-score of the right shape, as (problem, hint)."""
    whole = image.astype(np.float64)
    if any(np.allclose(got, (whole - whole.mean()) / whole.std(ddof=d), atol=1e-4) for d in (0, 1)):
        return (
            "you used the mean and standard deviation of the whole image: the dark background "
            "drags the mean down and inflates the spread.",
            "Measure the two statistics on the pixels inside the mask only.",
        )
    if np.allclose(got[mask], _zscore(image, mask, 0)[mask], atol=1e-4):
        return (
            "the pixels inside the mask are right, but those outside it are not transformed "
            "(set to 0 or left as they were).",
            "Measure inside the mask, but apply the result to every pixel of the image.",
        )
    if np.allclose(got, (whole - image[mask].mean()), atol=1e-4):
        return (
            "you subtracted the mean but did not divide by the standard deviation.",
            "A z-score has unit spread inside the mask: divide as well.",
        )
    return (
        "zscore_in_mask(image, mask) has the right shape but wrong values.",
        "Subtract the mean inside the mask, then divide by the standard deviation inside it.",
    )


@check(
    "zscore_in_mask",
    hint="Two statistics measured inside the mask, applied to the whole image; mind the case "
    "with no spread.",
)
def check_zscore_in_mask(zscore_in_mask) -> None:
    """Check ``zscore_in_mask(image, mask) -> float32`` with statistics from inside the mask.

    Both standard deviations are accepted: NumPy's default (``ddof=0``, the spread of these
    pixels) and the sample one (``ddof=1``); on a brain mask of thousands of pixels they differ by
    less than 0.1 %.
    """
    expect_own_code(zscore_in_mask, "normalize_zscore", exercise="zscore_in_mask")
    image, mask = _zscore_case()
    got = zscore_in_mask(image.copy(), mask.copy())
    if isinstance(got, np.ndarray) and got.shape == (int(mask.sum()),):
        fail(
            f"zscore_in_mask returned only the pixels inside the mask (shape {got.shape}).",
            "Measure inside the mask, but return the whole (H, W) image, transformed.",
        )
    _expect_shape(got, image.shape, "zscore_in_mask(image, mask)")
    right = [_zscore(image, mask, ddof) for ddof in (0, 1)]
    if not any(np.allclose(got.astype(np.float64), r, atol=1e-4) for r in right):
        fail(*_zscore_problem(got.astype(np.float64), image, mask))
    expect(
        got.dtype == np.float32,
        f"zscore_in_mask returned dtype {got.dtype}; expected float32.",
        "Change the dtype at the end: float32 is what a network takes.",
    )
    scratch = image.copy()
    zscore_in_mask(scratch, mask.copy())
    expect(
        np.array_equal(scratch, image),
        "zscore_in_mask changed its input image.",
        "Compute a new array; do not write into the image.",
    )
    flat = np.full((3, 3), 5.0)
    flat[0, 0] = 9.0
    inner = np.zeros((3, 3), bool)
    inner[1:, 1:] = True
    with np.errstate(divide="ignore", invalid="ignore"):
        got = zscore_in_mask(flat.copy(), inner.copy())
    expect_array(
        got,
        (flat - 5.0).astype(np.float32),
        what="zscore_in_mask(image that is constant inside the mask)",
        hint="When the standard deviation is 0 there is nothing to divide by: only subtract "
        "the mean.",
    )


# --------------------------------------------------------------------------- clip_percentiles


def _ramp() -> np.ndarray:
    """0, 2, ..., 198 and one bright outlier: percentile k of its 101 values is value k."""
    ramp = np.arange(101, dtype=np.float64).reshape(1, 101) * 2.0
    ramp[0, 100] = 5000.0  # as a vessel or an artefact would be
    return ramp


def _clipped(image: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.clip(image, *np.percentile(image, [low, high])).astype(np.float64)


@check(
    "clip_percentiles",
    hint="First find the two intensities at the given percentiles, then limit the image to them.",
)
def check_clip_percentiles(clip_percentiles) -> None:
    """Check ``clip_percentiles(image, low, high) -> float32`` clipped at the percentiles."""
    expect_own_code(clip_percentiles, "clip_percentiles", exercise="clip_percentiles")
    ramp = _ramp()
    got = clip_percentiles(ramp.copy(), 5, 80)
    _expect_shape(got, ramp.shape, "clip_percentiles(ramp, 5, 80)")
    got64 = got.astype(np.float64)
    if np.allclose(got64, np.clip(ramp, 5, 80)):
        fail(
            "you clipped at the numbers 5 and 80 themselves. low and high are percentiles: "
            "the 80th percentile is the intensity that 80 % of the pixels lie below.",
            "Turn the two percentiles into intensities of this image first.",
        )
    mirrored = {
        (5, 95): "your upper limit is the 95th percentile, 100 - low: the two ends are not "
        "symmetric, use high for the upper one",
        (20, 80): "your lower limit is the 20th percentile, 100 - high: the two ends are not "
        "symmetric, use low for the lower one",
        (80, 5): "the two limits are swapped: the lower one must be the low-th percentile",
    }
    for (lo, hi), problem in mirrored.items():
        wrong = np.clip(ramp, np.percentile(ramp, lo), np.percentile(ramp, hi))
        if np.allclose(got64, wrong):
            fail(
                f"clip_percentiles(ramp, 5, 80) is wrong: {problem}.",
                "Pass each percentile on to where it belongs.",
            )
    if np.allclose(got64, np.clip(ramp, *np.percentile(ramp, [0.05, 0.80]))):
        fail(
            "you passed fractions (0.05 and 0.8) where percentiles go: the limits are the "
            "0.05th and the 0.8th percentile, so almost the whole image is clipped.",
            "A percentile runs from 0 to 100, as low and high already do.",
        )
    expect_array(
        got,
        _clipped(ramp, 5, 80),
        what="clip_percentiles(ramp with an outlier, 5, 80)",
        hint="The pixels below the low-th percentile become that intensity, those above the "
        "high-th become that one, and the rest stay as they are.",
    )
    expect(
        got.dtype == np.float32,
        f"clip_percentiles returned dtype {got.dtype}; expected float32.",
        "Change the dtype at the end.",
    )
    scratch = ramp.copy()
    clip_percentiles(scratch, 5, 80)
    expect(
        np.array_equal(scratch, ramp),
        "clip_percentiles changed its input image.",
        "Clipping can write into its input if you ask it to; return a new array instead.",
    )
    image = np.array([[0, 10, 20], [30, 40, 250]], dtype=np.uint8)
    expect_array(
        clip_percentiles(image.copy(), 0, 100),
        image.astype(np.float32),
        what="clip_percentiles(uint8 image, 0, 100)",
        hint="The 0th and 100th percentiles are the minimum and the maximum: nothing changes.",
    )


# --------------------------------------------------------------------------- standardize_histogram


def _landmarks(percentiles, values):
    from course_lib.preprocessing import HistogramLandmarks  # lazy: no answer as l02 name

    return HistogramLandmarks(
        percentiles=np.asarray(percentiles, dtype=np.float64),
        values=np.asarray(values, dtype=np.float64),
    )


def _nyul_case(shape=(16, 16), seed=0) -> tuple[np.ndarray, np.ndarray]:
    """A dark background and a skewed brain (gamma-distributed intensities, a few bright ones)."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(0.0, 5.0, size=shape)
    mask = np.zeros(shape, bool)
    mask[..., 2:-2, 3:-2] = True
    image[mask] = 40 + 15 * rng.gamma(2.0, 1.0, size=int(mask.sum()))
    return image, mask


def _nyul(image, mask, landmarks, *, use_mask=True, clamp=False) -> np.ndarray:
    """The landmark mapping (the library's, or a typical mistake of it)."""
    from course_lib.preprocessing import (  # lazy: no answer as l02 name
        apply_histogram_standardization,
    )

    if clamp:
        source = np.percentile(image[mask], landmarks.percentiles)
        return np.interp(image, source, landmarks.values)
    mapped = apply_histogram_standardization(image, landmarks, mask if use_mask else None)
    return mapped.astype(np.float64)


def _nyul_mistake(got, image, mask, landmarks) -> None:
    """Fail with the specific mistake of a wrong mapping, when it is a known one."""
    source = np.percentile(image[mask], landmarks.percentiles)
    if np.allclose(got, _nyul(image, mask, landmarks, clamp=True), atol=1e-3):
        fail(
            "pixels darker than the first landmark or brighter than the last were clamped to "
            "the end values of the standard scale, so every bright tumour pixel above the 99th "
            "percentile gets the same value.",
            "Beyond the first and the last landmark, continue the first and the last line "
            "segment of the mapping.",
        )
    if np.allclose(got, _nyul(image, mask, landmarks, use_mask=False), atol=1e-3):
        fail(
            "you measured the image's percentiles on the whole image: the background, not the "
            "brain, then decides where the landmarks sit.",
            "Measure the percentiles on the pixels inside the mask; map every pixel.",
        )
    target = _landmarks(landmarks.percentiles, landmarks.percentiles)
    if np.allclose(got, _nyul(image, mask, target), atol=1e-3):
        fail(
            "you mapped onto the percentiles themselves (1, 10, ...), not onto the standard "
            "scale's values.",
            "The percentiles say where to measure the image; landmarks.values says where "
            "those intensities go.",
        )
    if np.allclose(got, np.interp(image, landmarks.values, source), atol=1e-3):
        fail(
            "the mapping runs the wrong way: from the standard scale to the image's intensities.",
            "The image's own landmark intensities are the inputs of the mapping.",
        )


@check(
    "standardize_histogram",
    hint="Measure the image's intensities at the landmark percentiles (inside the mask), then "
    "map them onto the standard values with straight lines between neighbouring landmarks.",
)
def check_standardize_histogram(standardize_histogram) -> None:
    """Check ``standardize_histogram(image, mask, landmarks) -> float array`` (Nyul-Udupa)."""
    expect_own_code(
        standardize_histogram,
        "apply_histogram_standardization",
        "fit_histogram_standardization",
        exercise="standardize_histogram",
    )
    landmarks = _landmarks([1, 10, 50, 90, 99], [0.0, 12.0, 45.0, 80.0, 100.0])
    image, mask = _nyul_case()
    before_image, before_mask = image.copy(), mask.copy()
    got = standardize_histogram(image, mask, landmarks)
    expect(
        np.array_equal(image, before_image) and np.array_equal(mask, before_mask),
        "standardize_histogram changed the image or the mask it was given.",
        "Compute a new array.",
    )
    if isinstance(got, np.ndarray) and got.shape == (int(mask.sum()),):
        fail(
            f"standardize_histogram returned only the pixels inside the mask (shape {got.shape}).",
            "Measure inside the mask, but map every pixel of the image.",
        )
    _expect_shape(got, image.shape, "standardize_histogram(image, mask, landmarks)")
    expect(
        got.dtype.kind == "f",
        f"standardize_histogram returned dtype {got.dtype}; expected floating point.",
        "The standard scale has fractions: do not round to integers.",
    )
    got64 = got.astype(np.float64)
    right = _nyul(image, mask, landmarks)
    if not np.allclose(got64, right, atol=1e-3):
        _nyul_mistake(got64, image, mask, landmarks)
        inside = np.allclose(got64[mask], right[mask], atol=1e-3)
        fail(
            "standardize_histogram(image, mask, landmarks) is wrong "
            + ("outside the mask" if inside else "inside the mask")
            + f" (largest difference {float(np.max(np.abs(got64 - right))):.3g}).",
            "At the landmark percentiles the result must equal landmarks.values exactly; "
            "between two landmarks it follows the straight line that joins them.",
        )


@check(
    "standardize_histogram (more cases)",
    hint="Any number of landmarks, any dtype, a volume as well as a slice.",
)
def check_standardize_histogram_more(standardize_histogram) -> None:
    """Hidden cases: three landmarks, a uint8 volume, another mask."""
    landmarks = _landmarks([2, 50, 98], [-1.0, 0.0, 3.0])
    image, mask = _nyul_case(shape=(3, 12, 14), seed=1)
    image = np.round(image).astype(np.uint8)
    got = standardize_histogram(image.copy(), mask.copy(), landmarks)
    expect_array(
        np.asarray(got, dtype=np.float64),
        _nyul(image, mask, landmarks),
        what="standardize_histogram(uint8 volume, mask, 3 landmarks)",
        hint="It must work for any number of landmarks, for volumes and for 8-bit images.",
        atol=1e-3,
    )


# --------------------------------------------------------------------------- cv_in_mask


def _cv_case() -> tuple[np.ndarray, np.ndarray]:
    """A brain-like region (mean 50, spread 10) on a dark background."""
    image = np.zeros((6, 6), dtype=np.float64)
    mask = np.zeros((6, 6), bool)
    mask[1:5, 1:5] = True
    spread = np.linspace(-1.0, 1.0, 16) ** 3
    image[mask] = 50 + 10 * (spread - spread.mean()) / spread.std()
    image[0, 0] = 3.0
    return image, mask


@check(
    "cv_in_mask",
    hint="The spread of one tissue's intensities relative to their level: two statistics of "
    "the pixels inside the mask.",
)
def check_cv_in_mask(cv_in_mask) -> None:
    """Check ``cv_in_mask(image, mask) -> float``: std / mean inside the mask (ddof 0 or 1)."""
    expect_own_code(cv_in_mask, "coefficient_of_variation", exercise="cv_in_mask")
    image, mask = _cv_case()
    before = image.copy()
    got = _as_number(cv_in_mask(image, mask.copy()), "cv_in_mask(image, mask)")
    expect(
        np.array_equal(image, before),
        "cv_in_mask changed its input image.",
        "Only read from the image.",
    )
    inside = image[mask]
    right = [inside.std(ddof=d) / inside.mean() for d in (0, 1)]
    if not any(np.isclose(got, r, rtol=1e-4) for r in right):
        whole = [image.std(ddof=d) / image.mean() for d in (0, 1)]
        mistakes = [
            (
                whole,
                "you measured the whole image, background included: that is the contrast "
                "between brain and air, not how uniform one tissue is.",
                "Take the statistics of the pixels inside the mask only.",
            ),
            (
                [1 / r for r in right],
                "you divided the mean by the standard deviation (that is a signal-to-noise "
                "ratio); the CV is the other way round.",
                "The spread goes on top of the fraction.",
            ),
            (
                [inside.var(ddof=d) / inside.mean() for d in (0, 1)],
                "you divided the variance by the mean: the variance has squared units, so the "
                "result changes when the image is scaled.",
                "Use the standard deviation, which has the units of the intensities.",
            ),
            (
                [100 * r for r in right],
                "you returned a percentage; return the plain ratio (0.2, not 20).",
                "Leave out the factor 100.",
            ),
        ]
        for values, problem, hint in mistakes:
            if any(np.isclose(got, v, rtol=1e-4) for v in values):
                fail(problem, hint)
        fail(
            f"cv_in_mask returned {got:.4f} for a region with mean 50 and standard deviation 10.",
            "The coefficient of variation is the standard deviation over the mean.",
        )
    scaled = _as_number(cv_in_mask(2.5 * image, mask.copy()), "cv_in_mask(2.5 * image, mask)")
    expect(
        np.isclose(scaled, got, rtol=1e-4),
        "cv_in_mask changed when the image was multiplied by 2.5: a global gain must not "
        "change the CV.",
        "Divide the spread by the mean of the same pixels.",
    )
    eight_bit = np.round(image).astype(np.uint8)
    got = _as_number(cv_in_mask(eight_bit, mask.copy()), "cv_in_mask(uint8 image, mask)")
    values = eight_bit[mask].astype(np.float64)
    expect(
        any(np.isclose(got, values.std(ddof=d) / values.mean(), rtol=1e-4) for d in (0, 1)),
        "cv_in_mask is wrong on an 8-bit image.",
        "Do the arithmetic in floating point: uint8 sums and differences wrap around.",
    )


# --------------------------------------------------------------------------- registration_error


def _motions():
    """A rigid motion, an imperfect correction, a mask that is not symmetric, on a 12x16 grid."""
    from course_lib.registration import rigid_motion  # lazy: no answer as l02 name

    shape = (12, 16)
    motion = rigid_motion(shape, angle=10, shift=(1.5, -2.0))
    fitted = rigid_motion(shape, angle=-7, shift=(-2.5, 1.0))
    mask = np.zeros(shape, bool)
    mask[2:7, 3:13] = True
    mask[7:10, 5:8] = True
    return motion, fitted, mask


def _moved(outer, inner, points: np.ndarray) -> np.ndarray:
    return np.array([outer.TransformPoint(inner.TransformPoint(tuple(p))) for p in points])


def _distances(outer, inner, points: np.ndarray) -> np.ndarray:
    return np.linalg.norm(_moved(outer, inner, points) - points, axis=1)


def _error_mistake(got: float, fitted, motion, mask) -> None:
    """Fail with the specific mistake of a wrong registration error, when it is a known one."""
    xy = np.argwhere(mask)[:, ::-1].astype(float)
    everywhere = np.argwhere(np.ones_like(mask))[:, ::-1].astype(float)
    right = _distances(motion, fitted, xy)
    mistakes = [
        (
            _distances(fitted, motion, xy).mean(),
            "the two transforms are applied in the wrong order. The fitted transform takes a "
            "point of the fixed image into the moving one; the motion then takes it back to "
            "where it started, if the fit is right.",
            "Apply the fitted transform first, then the motion.",
        ),
        (
            _distances(motion, fitted, xy[:, ::-1]).mean(),
            "the points are (row, column); a SimpleITK transform takes (x, y), the column first.",
            "Swap the two coordinates of each pixel before you transform it.",
        ),
        (
            _distances(motion, fitted, everywhere).mean(),
            "you averaged over every pixel of the image, not over the mask.",
            "Only the mask's pixels count: the brain, not the air around it.",
        ),
        (
            float(np.sqrt((right**2).mean())),
            "you returned the root mean square distance; the exercise asks for the mean.",
            "Average the distances themselves, not their squares.",
        ),
        (
            float(right.max()),
            "you returned the largest distance; the exercise asks for the mean.",
            "Average over the mask's pixels.",
        ),
        (
            float(right.sum()),
            "you returned the sum of the distances; divide by the number of pixels.",
            "Average over the mask's pixels.",
        ),
        (
            float(np.abs(_moved(motion, fitted, xy) - xy).sum(axis=1).mean()),
            "you added the absolute x and y differences (the city-block distance); the "
            "distance a pixel moved is the straight-line (Euclidean) one.",
            "Pythagoras: the square root of the sum of the squared differences.",
        ),
    ]
    for value, problem, hint in mistakes:
        if np.isclose(got, value, rtol=1e-4):
            fail(problem, hint)


@check(
    "registration_error",
    hint="Send each pixel of the mask through both transforms, measure how far it ends up from "
    "where it started, and average.",
)
def check_registration_error(registration_error) -> None:
    """Check ``registration_error(fitted, motion, mask) -> float`` against ``transform_error``."""
    from course_lib.registration import (  # lazy: no answer as l02 name
        rigid_motion,
        transform_error,
    )

    expect_own_code(
        registration_error, "transform_error", "recover_motion", exercise="registration_error"
    )
    motion, fitted, mask = _motions()
    before = mask.copy()
    got = _as_number(
        registration_error(fitted, motion, mask), "registration_error(fitted, motion, mask)"
    )
    expect(
        np.array_equal(mask, before),
        "registration_error changed the mask it was given.",
        "Only read from the mask.",
    )
    right = transform_error(fitted, motion, mask)
    if not np.isclose(got, right, rtol=1e-4):
        _error_mistake(got, fitted, motion, mask)
        fail(
            f"registration_error gave {got:.3f} px for a correction that is 3 degrees and a "
            "few pixels off.",
            "For each mask pixel (x = column, y = row): the fitted transform, then the motion, "
            "then the distance to the pixel's own position; then the mean.",
        )
    perfect = _as_number(
        registration_error(motion.GetInverse(), motion, mask.copy()),
        "registration_error(exact inverse, motion, mask)",
    )
    expect(
        abs(perfect) < 1e-6,
        f"a correction that undoes the motion exactly gave {perfect:.3g} px; expected 0.",
        "A perfect fit sends every pixel back to where it was.",
    )
    square = np.zeros((9, 9), bool)
    square[2:7, 2:7] = True
    shifted = rigid_motion(square.shape, angle=0, shift=(3.0, 4.0))
    identity = rigid_motion(square.shape, angle=0)
    value = _as_number(
        registration_error(identity, shifted, square.copy()),
        "registration_error(no correction, a shift of (3, 4), mask)",
    )
    expect(
        np.isclose(value, 5.0, rtol=1e-6),
        f"with no correction, a shift of 3 pixels right and 4 down gave {value:.3f} px.",
        "Every pixel moved by the same straight-line distance; the mean is that distance.",
    )
