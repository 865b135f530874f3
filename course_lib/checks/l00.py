"""Checks for the lesson 00 warm-up exercises: NumPy on an image array."""

from __future__ import annotations

import numpy as np

from course_lib.checks import check, expect, expect_array


def _image() -> np.ndarray:
    """A fresh 3x4 test image (a fresh copy each time, so a wrong answer cannot spoil it)."""
    return np.array([[0, 10, 20, 30], [40, 50, 60, 70], [80, 90, 100, 110]], dtype=np.uint16)


@check(
    "crop_center",
    hint="The top-left corner is at ((H - size) // 2, (W - size) // 2).",
)
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
    expect_array(
        crop_center(square.copy(), 2),
        square[2:4, 2:4],
        what="crop_center(6x6 image, 2)",
        hint="For a 6x6 image and size 2 the crop is rows 2-3 and columns 2-3.",
    )
    expect_array(
        crop_center(_image(), 2),
        _image()[0:2, 1:3],
        what="crop_center(3x4 image, 2)",
        hint="Rows and columns are centred separately: (3 - 2) // 2 = 0, (4 - 2) // 2 = 1.",
    )


@check(
    "normalize_minmax",
    hint="Subtract the minimum, divide by (maximum - minimum); return zeros for a constant image.",
)
def check_normalize_minmax(normalize_minmax) -> None:
    """Check ``normalize_minmax(image) -> float32 array in [0, 1]``."""
    got = normalize_minmax(_image())
    expected = _image().astype(np.float32) / 110
    expect_array(got, expected, what="normalize_minmax(image)", atol=1e-5)
    expect(
        got.dtype == np.float32,
        f"normalize_minmax returned dtype {got.dtype}; expected float32.",
        "Convert with image.astype(np.float32) before dividing.",
    )
    shifted = normalize_minmax(_image().astype(np.float32) + 1000)
    expect_array(
        shifted,
        expected,
        what="normalize_minmax(image + 1000)",
        hint="Subtract image.min(), not 0: the result must not depend on an offset.",
        atol=1e-5,
    )
    flat = normalize_minmax(np.full((3, 3), 7, dtype=np.uint8))
    expect_array(
        flat,
        np.zeros((3, 3), np.float32),
        what="normalize_minmax(constant image)",
        hint="A constant image has max - min = 0: return np.zeros_like(image, dtype=np.float32).",
    )


@check(
    "to_uint8",
    hint="Clip to [0, 1], multiply by 255, round, then .astype(np.uint8).",
)
def check_to_uint8(to_uint8) -> None:
    """Check ``to_uint8(image in [0, 1]) -> uint8 array`` with rounding and clipping."""
    values = np.array([[0.0, 0.5, 1.0], [-0.2, 1.3, 0.999]], dtype=np.float32)
    got = to_uint8(values)
    expect(
        isinstance(got, np.ndarray) and got.dtype == np.uint8,
        f"to_uint8 returned {getattr(got, 'dtype', type(got).__name__)}; expected uint8.",
        "Finish with .astype(np.uint8).",
    )
    expect_array(
        got,
        np.array([[0, 128, 255], [0, 255, 255]], dtype=np.uint8),
        what="to_uint8([[0, .5, 1], [-.2, 1.3, .999]])",
        hint="Values below 0 or above 1 must be clipped first; 0.5 * 255 = 127.5 rounds to 128.",
    )
