"""Checks for the lesson 00 exercises: NumPy on an image array, and choosing a profile."""

from __future__ import annotations

import numpy as np

from course_lib.checks import check, expect, expect_array, expect_own_code


def _image() -> np.ndarray:
    """A fresh 3x4 test image (a fresh copy each time, so a wrong answer cannot spoil it)."""
    return np.array([[0, 10, 20, 30], [40, 50, 60, 70], [80, 90, 100, 110]], dtype=np.uint16)


@check("crop_center", hint="Find the crop's first row and first column from the margins.")
def check_crop_center(crop_center) -> None:
    """Check ``crop_center(image, size) -> (size, size) array`` from the image's centre."""
    square = np.arange(36, dtype=np.float32).reshape(6, 6)
    scratch = square.copy()
    crop_center(scratch, 4)
    expect(
        np.array_equal(scratch, square),
        "crop_center changed its input image.",
        "Slicing returns a view; do not assign into it.",
    )
    got = crop_center(square.copy(), 2)
    expect(
        getattr(got, "shape", None) == (2, 2),
        f"crop_center(6x6 image, 2) has shape {getattr(got, 'shape', None)}; expected (2, 2).",
        "Each slice must be `size` long: start:start + size.",
    )
    expect_array(
        got,
        square[2:4, 2:4],
        what="crop_center(6x6 image, 2)",
        hint="A 6x6 image cropped to 2 leaves a margin of 4 on each axis: 2 before the crop.",
    )
    expect_array(
        crop_center(_image(), 2),
        _image()[0:2, 1:3],
        what="crop_center(3x4 image, 2)",
        hint="Centre rows and columns separately: the height and the width differ here.",
    )


@check(
    "normalize_minmax",
    hint="The smallest value must become 0 and the largest 1; a constant image has no range.",
)
def check_normalize_minmax(normalize_minmax) -> None:
    """Check ``normalize_minmax(image) -> float32 array in [0, 1]``."""
    original = _image()
    got = normalize_minmax(original)
    expect(
        np.array_equal(original, _image()),
        "normalize_minmax changed its input image.",
        "Work on a converted copy (astype makes one).",
    )
    expected = _image().astype(np.float32) / 110
    expect_array(got, expected, what="normalize_minmax(image)", atol=1e-5)
    expect(
        got.dtype == np.float32,
        f"normalize_minmax returned dtype {got.dtype}; expected float32.",
        "Convert the image to float32 before the arithmetic.",
    )
    shifted = normalize_minmax(_image().astype(np.float32) + 1000)
    expect_array(
        shifted,
        expected,
        what="normalize_minmax(image + 1000)",
        hint="Subtract the smallest value, not 0: the result must not depend on an offset.",
        atol=1e-5,
    )
    small = np.array([[3, 4], [5, 6]], dtype=np.uint8)
    expect_array(
        normalize_minmax(small),
        np.array([[0, 1 / 3], [2 / 3, 1]], dtype=np.float32),
        what="normalize_minmax(uint8 image [[3, 4], [5, 6]])",
        hint="An 8-bit image must work too: do the arithmetic in float32.",
        atol=1e-5,
    )
    flat = normalize_minmax(np.full((3, 3), 7, dtype=np.uint8))
    expect_array(
        flat,
        np.zeros((3, 3), np.float32),
        what="normalize_minmax(constant image)",
        hint="A constant image has no range: return an array of zeros of its shape.",
    )


def _expect_uint8(got, what: str) -> None:
    expect(
        isinstance(got, np.ndarray) and got.dtype == np.uint8,
        f"{what} returned {getattr(got, 'dtype', type(got).__name__)}; expected uint8.",
        "Change the dtype as the last step.",
    )


@check("to_uint8", hint="Clip first, then scale so that 1 becomes 255, then round.")
def check_to_uint8(to_uint8) -> None:
    """Check ``to_uint8(image in [0, 1]) -> uint8 array`` with rounding and clipping."""
    inside = np.array([[0.0, 0.5, 1.0], [0.8, 0.999, 0.25]], dtype=np.float32)
    got = to_uint8(inside)
    _expect_uint8(got, "to_uint8")
    truncated = (inside * 255).astype(np.uint8)
    expect(
        not np.array_equal(got, truncated),
        "to_uint8 truncates: 0.999 became 254 and 0.5 became 127.",
        "Round to the nearest integer before you change the dtype.",
    )
    expect(
        int(got[1, 0]) != 205,
        "to_uint8(0.8) gave 205; expected 204 (0.8 x 255 = 204).",
        "A uint8 holds 0 to 255: scale by 255, so that 1.0 maps to 255 exactly.",
    )
    expect_array(
        got,
        np.array([[0, 128, 255], [204, 255, 64]], dtype=np.uint8),
        what="to_uint8 on values inside [0, 1]",
        hint="Scale so that 1 becomes 255, then round to the nearest integer.",
    )
    outside = np.array([[-0.2, 1.3, -5.0]], dtype=np.float32)
    got = to_uint8(outside)
    _expect_uint8(got, "to_uint8")
    expect_array(
        got,
        np.array([[0, 255, 0]], dtype=np.uint8),
        what="to_uint8 on values outside [0, 1]",
        hint="Clip to [0, 1] before converting: uint8 wraps negative and large values around.",
    )


@check("to_uint8 (more cases)", hint="Clip, scale to 255, round, then change the dtype.")
def check_to_uint8_more(to_uint8) -> None:
    """Hidden cases: an input that is not changed, a float64 input, a 3D stack."""
    image = np.linspace(-0.5, 1.5, 24).reshape(2, 3, 4)
    before = image.copy()
    got = to_uint8(image)
    expect(np.array_equal(image, before), "to_uint8 changed its input.", "Work on a copy.")
    expected = np.round(np.clip(before, 0, 1) * 255).astype(np.uint8)
    expect_array(
        got,
        expected,
        what="to_uint8(2x3x4 float64 stack)",
        hint="It must work for any shape and for float64, and clip before it converts.",
    )
    _expect_uint8(got, "to_uint8")


@check("choose_profile", hint="Apply the three rules in the order given, one `if` each.")
def check_choose_profile(choose_profile) -> None:
    """Check ``choose_profile(environ, cuda) -> str`` against the rules of lesson 00."""
    expect_own_code(
        choose_profile, "profile_name_from_env", "get_profile", exercise="choose_profile"
    )
    cases = [
        ({}, False, "cpu", "With no variable set and no GPU, it is 'cpu'."),
        ({}, True, "gpu", "With no variable set and a GPU, it is 'gpu'."),
        ({"CI": "true"}, True, "smoke", "CI set and a GPU: rule 2 comes before rule 3."),
        ({"CI": "1"}, False, "smoke", "CI may be any value other than the four 'off' values."),
        ({"CI": "false"}, True, "gpu", "CI='false' means CI is off."),
        ({"CI": "FALSE"}, False, "cpu", "Compare CI's value in lower case."),
        ({"CI": "0"}, False, "cpu", "CI='0' means CI is off."),
        ({"CI": ""}, True, "gpu", "An empty CI is not set."),
        ({"COURSE_PROFILE": "cpu", "CI": "true"}, True, "cpu", "COURSE_PROFILE wins over CI."),
        ({"COURSE_PROFILE": " gpu "}, False, "gpu", "Strip the spaces around COURSE_PROFILE."),
        ({"COURSE_PROFILE": "  ", "CI": "yes"}, False, "smoke", "A blank COURSE_PROFILE is unset."),
    ]
    for environ, cuda, expected, hint in cases:
        got = choose_profile(dict(environ), cuda)
        expect(
            got == expected,
            f"choose_profile({environ}, cuda={cuda}) returned {got!r}; expected {expected!r}.",
            hint,
        )
