"""Lesson 02 checks: pass on reference answers, 'not answered yet' on stubs, hints on mistakes."""

import numpy as np
import pytest
import SimpleITK as sitk
from scipy.interpolate import interp1d

from course_lib import preprocessing
from course_lib.checks import CheckFailed, l02
from course_lib.registration import rigid_motion, transform_error


def stub(*args, **kwargs):
    raise NotImplementedError("the hint")


# Reference answers and correct alternatives ------------------------------------------------------


def dice(a, b):
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def dice_numpy_float(a, b):
    total = np.count_nonzero(a) + np.count_nonzero(b)
    if total == 0:
        return np.float64(1.0)
    return 2 * np.count_nonzero(a & b) / total


def zscore_in_mask(image, mask):
    inside = image[mask].astype(np.float64)
    std = inside.std()
    out = image - inside.mean()
    return (out / std if std > 0 else out).astype(np.float32)


def zscore_sample_std(image, mask):
    """ddof=1, the sample standard deviation: accepted (on a brain it differs by < 0.1 %)."""
    image = image.astype(np.float32)
    inside = image[mask]
    std = inside.std(ddof=1)
    return (image - inside.mean()) / (std if std > 0 else 1.0)


def clip_percentiles(image, low, high):
    lo, hi = np.percentile(image, [low, high])
    return np.clip(image, lo, hi).astype(np.float32)


def clip_with_where(image, low, high):
    values = np.sort(image.ravel().astype(np.float32))
    lo, hi = np.quantile(values, [low / 100, high / 100])
    return np.where(image < lo, lo, np.where(image > hi, hi, image)).astype(np.float32)


def standardize_histogram(image, mask, landmarks):
    source = np.percentile(image[mask], landmarks.percentiles)
    target = landmarks.values
    out = np.interp(image, source, target)
    low = target[0] + (image - source[0]) * (target[1] - target[0]) / (source[1] - source[0])
    high = target[-1] + (image - source[-1]) * (target[-1] - target[-2]) / (source[-1] - source[-2])
    out = np.where(image < source[0], low, out)
    return np.where(image > source[-1], high, out).astype(np.float32)


def standardize_with_scipy(image, mask, landmarks):
    source = np.percentile(image[mask].astype(np.float64), landmarks.percentiles)
    return interp1d(source, landmarks.values, fill_value="extrapolate")(image.astype(np.float64))


def cv_in_mask(image, mask):
    inside = image[mask].astype(np.float64)
    return float(inside.std() / inside.mean())


def cv_sample_std(image, mask):
    inside = image[mask].astype(np.float32)
    return np.std(inside, ddof=1) / np.mean(inside)


def registration_error(fitted, motion, mask):
    rows, cols = np.nonzero(mask)
    distances = []
    for x, y in zip(cols.astype(float), rows.astype(float), strict=True):
        bx, by = motion.TransformPoint(fitted.TransformPoint((x, y)))
        distances.append(np.hypot(bx - x, by - y))
    return float(np.mean(distances))


def registration_error_matrices(fitted, motion, mask):
    """Vectorised with the transforms' matrices: p -> A (p - c) + c + t."""

    def apply(transform, points):
        matrix = np.array(transform.GetMatrix()).reshape(2, 2)
        center, shift = np.array(transform.GetCenter()), np.array(transform.GetTranslation())
        return (points - center) @ matrix.T + center + shift

    points = np.argwhere(mask)[:, ::-1].astype(float)
    return np.linalg.norm(apply(motion, apply(fitted, points)) - points, axis=1).mean()


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (l02.check_dice, dice),
        (l02.check_dice, dice_numpy_float),
        (l02.check_zscore_in_mask, zscore_in_mask),
        (l02.check_zscore_in_mask, zscore_sample_std),
        (l02.check_clip_percentiles, clip_percentiles),
        (l02.check_clip_percentiles, clip_with_where),
        (l02.check_standardize_histogram, standardize_histogram),
        (l02.check_standardize_histogram, standardize_with_scipy),
        (l02.check_standardize_histogram_more, standardize_histogram),
        (l02.check_standardize_histogram_more, standardize_with_scipy),
        (l02.check_cv_in_mask, cv_in_mask),
        (l02.check_cv_in_mask, cv_sample_std),
        (l02.check_registration_error, registration_error),
        (l02.check_registration_error, registration_error_matrices),
    ],
)
def test_checks_pass_on_solution_and_say_not_answered_on_stub(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match=r"(?s)not answered yet.*Hint: "):
        checker(stub)


def test_references_agree_with_the_library():
    image, mask = l02._nyul_case()
    landmarks = preprocessing.fit_histogram_standardization([image, image**1.1], [mask, mask])
    np.testing.assert_allclose(
        standardize_histogram(image, mask, landmarks),
        preprocessing.apply_histogram_standardization(image, landmarks, mask),
        rtol=1e-5,
        atol=1e-4,
    )
    assert cv_in_mask(image, mask) == pytest.approx(
        preprocessing.coefficient_of_variation(image, mask)
    )
    motion = rigid_motion(mask.shape, angle=5, shift=(1.0, 2.0))
    fitted = rigid_motion(mask.shape, angle=-4, shift=(-1.0, -1.5))
    assert registration_error(fitted, motion, mask) == pytest.approx(
        transform_error(fitted, motion, mask)
    )


reference_dice, reference_clip = dice, clip_percentiles  # other names: see expect_own_code


# Typical wrong answers -------------------------------------------------------------------------


def dice_as_text(a, b):
    """The known hole: a formatted string passed float()."""
    return f"{reference_dice(a, b):.3f}"


def iou(a, b):
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else np.logical_and(a, b).sum() / union


def dice_without_two(a, b):
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else np.logical_and(a, b).sum() / total


def dice_over_union(a, b):
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else 2 * np.logical_and(a, b).sum() / union


def dice_by_equality(a, b):
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * (a == b).sum() / total


def dice_without_empty_case(a, b):
    with np.errstate(invalid="ignore"):  # 0 / 0 gives nan, as in a notebook
        return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def dice_empty_is_zero(a, b):
    total = a.sum() + b.sum()
    return 0.0 if total == 0 else reference_dice(a, b)


def dice_clobbering(a, b):
    result = reference_dice(a, b)
    a &= b
    return result


def dice_per_row(a, b):
    return np.array([reference_dice(x, y) for x, y in zip(a, b, strict=True)])


def dice_first_slice_only(a, b):
    return reference_dice(a[0], b[0]) if a.ndim == 3 else reference_dice(a, b)


def dice_with_library(a, b):
    return preprocessing.dice(a, b)


def zscore_whole_image(image, mask):
    image = image.astype(np.float64)
    return ((image - image.mean()) / image.std()).astype(np.float32)


def zscore_inside_only(image, mask):
    return zscore_in_mask(image, mask)[mask]


def zscore_zero_outside(image, mask):
    return np.where(mask, zscore_in_mask(image, mask), 0).astype(np.float32)


def zscore_no_division(image, mask):
    return (image - image[mask].mean()).astype(np.float32)


def zscore_float64(image, mask):
    return zscore_in_mask(image, mask).astype(np.float64)


def zscore_nan_when_constant(image, mask):
    inside = image[mask].astype(np.float64)
    return ((image - inside.mean()) / inside.std()).astype(np.float32)


def zscore_in_place(image, mask):
    result = zscore_in_mask(image, mask)
    image[~mask] = 0
    return result


def zscore_with_library(image, mask):
    return preprocessing.normalize_zscore(image, mask)


def clip_at_numbers(image, low, high):
    return np.clip(image, low, high).astype(np.float32)


def clip_mirrored_high(image, low, high):
    """The known hole: the upper limit at 100 - low (right for 10/90, wrong for 5/80)."""
    lo, hi = np.percentile(image, [low, 100 - low])
    return np.clip(image, lo, hi).astype(np.float32)


def clip_mirrored_low(image, low, high):
    """The known hole, the other way: the lower limit at 100 - high."""
    lo, hi = np.percentile(image, [100 - high, high])
    return np.clip(image, lo, hi).astype(np.float32)


def clip_swapped(image, low, high):
    lo, hi = np.percentile(image, [high, low])
    return np.clip(image, lo, hi).astype(np.float32)


def clip_fractions(image, low, high):
    lo, hi = np.percentile(image, [low / 100, high / 100])
    return np.clip(image, lo, hi).astype(np.float32)


def clip_float64(image, low, high):
    return reference_clip(image, low, high).astype(np.float64)


def clip_in_place(image, low, high):
    lo, hi = np.percentile(image, [low, high])
    return np.clip(image, lo, hi, out=image).astype(np.float32)


def clip_with_library(image, low, high):
    return preprocessing.clip_percentiles(image, low, high)


def nyul_clamped(image, mask, landmarks):
    source = np.percentile(image[mask], landmarks.percentiles)
    return np.interp(image, source, landmarks.values).astype(np.float32)


def nyul_whole_image(image, mask, landmarks):
    return standardize_histogram(image, np.ones_like(mask), landmarks)


def nyul_onto_percentiles(image, mask, landmarks):
    target = preprocessing.HistogramLandmarks(landmarks.percentiles, landmarks.percentiles)
    return standardize_histogram(image, mask, target)


def nyul_backwards(image, mask, landmarks):
    source = np.percentile(image[mask], landmarks.percentiles)
    return np.interp(image, landmarks.values, source)


def nyul_inside_only(image, mask, landmarks):
    return standardize_histogram(image, mask, landmarks)[mask]


def nyul_rounded(image, mask, landmarks):
    return np.round(standardize_histogram(image, mask, landmarks)).astype(np.int64)


def nyul_in_place(image, mask, landmarks):
    result = standardize_histogram(image, mask, landmarks)
    image[~mask] = 0
    return result


def nyul_five_landmarks_only(image, mask, landmarks):
    """Hard-codes the visible check's landmarks (fails the hidden check)."""
    fixed = preprocessing.HistogramLandmarks(
        np.array([1.0, 10, 50, 90, 99]), np.array([0.0, 12, 45, 80, 100])
    )
    return standardize_histogram(image, mask, fixed)


def nyul_with_library(image, mask, landmarks):
    return preprocessing.apply_histogram_standardization(image, landmarks, mask)


def cv_whole_image(image, mask):
    return float(image.std() / image.mean())


def cv_inverted(image, mask):
    inside = image[mask].astype(np.float64)
    return float(inside.mean() / inside.std())


def cv_variance(image, mask):
    inside = image[mask].astype(np.float64)
    return float(inside.var() / inside.mean())


def cv_percent(image, mask):
    return 100 * cv_in_mask(image, mask)


def cv_as_text(image, mask):
    return f"{cv_in_mask(image, mask):.3f}"


def cv_per_pixel(image, mask):
    inside = image[mask].astype(np.float64)
    return np.abs(inside - inside.mean()) / inside.mean()


def cv_uint8_arithmetic(image, mask):
    inside = image[mask]
    mean = inside.sum(dtype=inside.dtype) / inside.size  # uint8 sums wrap around
    return float(np.sqrt(((inside - mean) ** 2).mean()) / mean)


def cv_with_library(image, mask):
    return preprocessing.coefficient_of_variation(image, mask)


def error_wrong_order(fitted, motion, mask):
    return registration_error(motion, fitted, mask)


def error_row_col(fitted, motion, mask):
    points = np.argwhere(mask).astype(float)
    back = np.array([motion.TransformPoint(fitted.TransformPoint(tuple(p))) for p in points])
    return float(np.linalg.norm(back - points, axis=1).mean())


def error_every_pixel(fitted, motion, mask):
    return registration_error(fitted, motion, np.ones_like(mask))


def error_rms(fitted, motion, mask):
    points = np.argwhere(mask)[:, ::-1].astype(float)
    back = np.array([motion.TransformPoint(fitted.TransformPoint(tuple(p))) for p in points])
    return float(np.sqrt((np.linalg.norm(back - points, axis=1) ** 2).mean()))


def error_max(fitted, motion, mask):
    points = np.argwhere(mask)[:, ::-1].astype(float)
    back = np.array([motion.TransformPoint(fitted.TransformPoint(tuple(p))) for p in points])
    return float(np.linalg.norm(back - points, axis=1).max())


def error_city_block(fitted, motion, mask):
    points = np.argwhere(mask)[:, ::-1].astype(float)
    back = np.array([motion.TransformPoint(fitted.TransformPoint(tuple(p))) for p in points])
    return float(np.abs(back - points).sum(axis=1).mean())


def error_fitted_only(fitted, motion, mask):
    return registration_error(fitted, sitk.Transform(2, sitk.sitkIdentity), mask)


def error_with_library(fitted, motion, mask):
    return transform_error(fitted, motion, mask)


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l02.check_dice, dice_as_text, "returned the text '0.400', not a number"),
        (l02.check_dice, iou, "IoU"),
        (l02.check_dice, dice_without_two, "factor 2 is missing"),
        (l02.check_dice, dice_over_union, "over the union"),
        (l02.check_dice, dice_by_equality, "comparing them for equality"),
        (l02.check_dice, dice_without_empty_case, r"dice\(empty, empty\)"),
        (l02.check_dice, dice_empty_is_zero, "agree perfectly"),
        (l02.check_dice, dice_clobbering, "changed one of its input"),
        (l02.check_dice, dice_per_row, "an array of shape"),
        (l02.check_dice, dice_first_slice_only, "3D masks"),
        (l02.check_dice, dice_with_library, "calls dice from course_lib"),
        (l02.check_zscore_in_mask, zscore_whole_image, "of the whole image"),
        (l02.check_zscore_in_mask, zscore_inside_only, "only the pixels inside"),
        (l02.check_zscore_in_mask, zscore_zero_outside, "those outside it are not transformed"),
        (l02.check_zscore_in_mask, zscore_no_division, "did not divide"),
        (l02.check_zscore_in_mask, zscore_float64, "float32"),
        (l02.check_zscore_in_mask, zscore_nan_when_constant, "constant inside the mask"),
        (l02.check_zscore_in_mask, zscore_in_place, "changed its input"),
        (l02.check_zscore_in_mask, zscore_with_library, "calls normalize_zscore"),
        (l02.check_clip_percentiles, clip_at_numbers, "numbers 5 and 80 themselves"),
        (l02.check_clip_percentiles, clip_mirrored_high, "95th percentile, 100 - low"),
        (l02.check_clip_percentiles, clip_mirrored_low, "20th percentile, 100 - high"),
        (l02.check_clip_percentiles, clip_swapped, "swapped"),
        (l02.check_clip_percentiles, clip_fractions, "fractions"),
        (l02.check_clip_percentiles, clip_float64, "float32"),
        (l02.check_clip_percentiles, clip_in_place, "changed its input"),
        (l02.check_clip_percentiles, clip_with_library, "calls clip_percentiles"),
        (l02.check_standardize_histogram, nyul_clamped, "clamped"),
        (l02.check_standardize_histogram, nyul_whole_image, "on the whole image"),
        (l02.check_standardize_histogram, nyul_onto_percentiles, "onto the percentiles"),
        (l02.check_standardize_histogram, nyul_backwards, "wrong way"),
        (l02.check_standardize_histogram, nyul_inside_only, "only the pixels inside"),
        (l02.check_standardize_histogram, nyul_rounded, "floating point"),
        (l02.check_standardize_histogram, nyul_in_place, "changed the image"),
        (l02.check_standardize_histogram, nyul_with_library, "calls apply_histogram"),
        (l02.check_standardize_histogram_more, nyul_five_landmarks_only, "3 landmarks"),
        (l02.check_cv_in_mask, cv_whole_image, "background included"),
        (l02.check_cv_in_mask, cv_inverted, "signal-to-noise"),
        (l02.check_cv_in_mask, cv_variance, "variance"),
        (l02.check_cv_in_mask, cv_percent, "percentage"),
        (l02.check_cv_in_mask, cv_as_text, "not a number"),
        (l02.check_cv_in_mask, cv_per_pixel, "an array of shape"),
        (l02.check_cv_in_mask, cv_uint8_arithmetic, "8-bit"),
        (l02.check_cv_in_mask, cv_with_library, "calls coefficient_of_variation"),
        (l02.check_registration_error, error_wrong_order, "wrong order"),
        (l02.check_registration_error, error_row_col, r"\(row, column\)"),
        (l02.check_registration_error, error_every_pixel, "every pixel of the image"),
        (l02.check_registration_error, error_rms, "root mean square"),
        (l02.check_registration_error, error_max, "largest distance"),
        (l02.check_registration_error, error_city_block, "city-block"),
        (l02.check_registration_error, error_fitted_only, "3 degrees"),
        (l02.check_registration_error, error_with_library, "calls transform_error"),
    ],
)
def test_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=message) as error:
        checker(wrong)
    assert "Hint:" in str(error.value)


def test_messages_show_no_numpy_reprs():
    """Failure messages format numbers as plain Python numbers, never np.float64(...)."""
    wrongs = [
        (l02.check_dice, dice_without_empty_case),
        (l02.check_dice, dice_by_equality),
        (l02.check_standardize_histogram_more, nyul_five_landmarks_only),
        (l02.check_cv_in_mask, cv_uint8_arithmetic),
        (l02.check_registration_error, error_fitted_only),
    ]
    for checker, wrong in wrongs:
        with pytest.raises(CheckFailed) as error:
            checker(wrong)
        assert "np." not in str(error.value)


def test_checks_are_quick():
    """All of lesson 02's checks together take well under two seconds on a CPU."""
    import time

    start = time.perf_counter()
    for checker, answer in [
        (l02.check_dice, dice),
        (l02.check_zscore_in_mask, zscore_in_mask),
        (l02.check_clip_percentiles, clip_percentiles),
        (l02.check_standardize_histogram, standardize_histogram),
        (l02.check_standardize_histogram_more, standardize_histogram),
        (l02.check_cv_in_mask, cv_in_mask),
        (l02.check_registration_error, registration_error),
    ]:
        checker(answer)
    assert time.perf_counter() - start < 2.0
