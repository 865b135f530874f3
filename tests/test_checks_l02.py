"""Lesson 02 checks: pass on reference answers, 'not answered yet' on stubs, helpful on mistakes."""

import numpy as np
import pytest

from course_lib.checks import CheckFailed, l02


def stub(*args, **kwargs):
    raise NotImplementedError("the hint from the solution block")


def dice(a, b):
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * np.logical_and(a, b).sum() / total


def zscore_in_mask(image, mask):
    inside = image[mask].astype(np.float64)
    std = inside.std()
    out = image - inside.mean()
    return (out / std if std > 0 else out).astype(np.float32)


def clip_percentiles(image, low, high):
    lo, hi = np.percentile(image, [low, high])
    return np.clip(image, lo, hi).astype(np.float32)


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (l02.check_dice, dice),
        (l02.check_zscore_in_mask, zscore_in_mask),
        (l02.check_clip_percentiles, clip_percentiles),
    ],
)
def test_checks_pass_on_solution_and_say_not_answered_on_stub(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match=r"(?s)not answered yet.*Hint: "):
        checker(stub)


def iou(a, b):
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


def dice_without_empty_case(a, b):
    with np.errstate(invalid="ignore"):  # 0 / 0 gives nan, as in a notebook
        return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def dice_clobbering(a, b):
    result = dice(a, b)
    a &= b
    return result


def zscore_whole_image(image, mask):
    image = image.astype(np.float64)
    return ((image - image.mean()) / image.std()).astype(np.float32)


def zscore_inside_only(image, mask):
    return zscore_in_mask(image, mask)[mask]


def zscore_zero_outside(image, mask):
    return np.where(mask, zscore_in_mask(image, mask), 0).astype(np.float32)


def zscore_float64(image, mask):
    return zscore_in_mask(image, mask).astype(np.float64)


def zscore_nan_when_constant(image, mask):
    inside = image[mask].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((image - inside.mean()) / inside.std()).astype(np.float32)


def clip_at_numbers(image, low, high):
    return np.clip(image, low, high).astype(np.float32)


def clip_in_place(image, low, high):
    lo, hi = np.percentile(image, [low, high])
    return np.clip(image, lo, hi, out=image).astype(np.float32)


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l02.check_dice, iou, "IoU"),
        (l02.check_dice, dice_without_empty_case, r"dice\(empty, empty\)"),
        (l02.check_dice, dice_clobbering, "changed one of its input"),
        (l02.check_zscore_in_mask, zscore_whole_image, "inside the mask: image"),
        (l02.check_zscore_in_mask, zscore_inside_only, "only the pixels inside"),
        (l02.check_zscore_in_mask, zscore_zero_outside, "not set to 0"),
        (l02.check_zscore_in_mask, zscore_float64, "float32"),
        (l02.check_zscore_in_mask, zscore_nan_when_constant, "std == 0"),
        (l02.check_clip_percentiles, clip_at_numbers, "numbers 10 and 90"),
        (l02.check_clip_percentiles, clip_in_place, "changed its input"),
    ],
)
def test_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}") as error:
        checker(wrong)
    assert "Hint:" in str(error.value)
