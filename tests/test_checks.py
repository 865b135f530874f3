"""The check machinery, and lesson 00's checks on the solution, the stub and wrong answers."""

import numpy as np
import pytest

from course_lib.checks import CheckFailed, check, expect, expect_array, fail, l00


def stub(*args, **kwargs):
    raise NotImplementedError("slice the middle")


def test_fail_message_holds_hint():
    with pytest.raises(CheckFailed, match=r"(?s)wrong.*Hint: try again"):
        fail("wrong", "try again")


def test_expect_passes_and_fails():
    expect(True, "unused")
    with pytest.raises(CheckFailed, match="bad"):
        expect(False, "bad")


@pytest.mark.parametrize(
    ("got", "message"),
    [
        (None, "returned None"),
        ([1, 2], "not a NumPy array"),
        (np.zeros(3), r"shape \(3,\)"),
        (np.array([1.0, 2.5]), "wrong values"),
    ],
)
def test_expect_array_says_what_is_wrong(got, message):
    with pytest.raises(CheckFailed, match=message):
        expect_array(got, np.array([1.0, 2.0]), what="f(x)")


def test_check_decorator_reports_stub_crash_and_pass(capsys):
    @check("demo", hint="default hint")
    def check_demo(fn):
        expect(fn(2) == 4, "fn(2) is not 4", "double it")

    check_demo(lambda x: 2 * x)
    assert "[PASS] demo" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match=r"(?s)demo: not answered yet.*Hint: slice the middle"):
        check_demo(stub)
    with pytest.raises(CheckFailed, match=r"(?s)demo: fn\(2\) is not 4.*Hint: double it"):
        check_demo(lambda x: x)
    with pytest.raises(CheckFailed, match=r"(?s)demo: your code raised ZeroDivisionError.*default"):
        check_demo(lambda x: x / 0)


# Lesson 00: reference answers, typical wrong answers -------------------------------------------


def crop_center(image, size):
    top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return image[top : top + size, left : left + size]


def normalize_minmax(image):
    image = image.astype(np.float32)
    span = image.max() - image.min()
    if span == 0:
        return np.zeros_like(image)
    return (image - image.min()) / span


def to_uint8(image):
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (l00.check_crop_center, crop_center),
        (l00.check_normalize_minmax, normalize_minmax),
        (l00.check_to_uint8, to_uint8),
    ],
)
def test_l00_checks_pass_on_solution_and_say_not_answered_on_stub(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="not answered yet"):
        checker(stub)


def crop_corner(image, size):
    return image[:size, :size]


def crop_in_place(image, size):
    image[...] = 0
    return crop_center(image, size)


def normalize_by_max(image):
    return image.astype(np.float32) / image.max()


def normalize_float64(image):
    return normalize_minmax(image).astype(np.float64)


def to_uint8_truncating(image):
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def to_uint8_unclipped(image):
    return np.round(image * 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l00.check_crop_center, crop_corner, "wrong values"),
        (l00.check_crop_center, crop_in_place, "changed its input"),
        (l00.check_normalize_minmax, normalize_by_max, r"image \+ 1000"),
        (l00.check_normalize_minmax, normalize_float64, "float32"),
        (l00.check_to_uint8, to_uint8_truncating, "rounds to 128"),
        (l00.check_to_uint8, to_uint8_unclipped, "clipped"),
    ],
)
def test_l00_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}.*|Hint:.*{message}") as error:
        checker(wrong)
    assert "Hint:" in str(error.value)
