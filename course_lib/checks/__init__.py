"""Immediate feedback for the exercise notebooks.

One module per lesson (``course_lib.checks.l00``, ``l01``, ...) holds that lesson's checks. A check
takes the student's function or value, tries it, and either prints a short pass message or raises
:class:`CheckFailed` that says what is wrong and how to fix it. A check handed the untouched stub
(which raises ``NotImplementedError``) says "not answered yet" with the stub's hint.

Write a check with the :func:`check` decorator::

    @check("crop_center")
    def check_crop_center(crop_center):
        got = crop_center(np.arange(16).reshape(4, 4), 2)
        expect_array(got, np.array([[5, 6], [9, 10]]), what="crop_center(4x4 image, 2)",
                     hint="Take rows and columns from (H - size) // 2.")
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

__all__ = ["CheckFailed", "check", "expect", "expect_array", "fail", "passed"]


class CheckFailed(Exception):
    """A student's answer is not right yet; the message says why and gives a hint."""


def passed(message: str) -> None:
    """Print a pass message."""
    print(f"[PASS] {message}")


def fail(problem: str, hint: str = "") -> None:
    """Raise :class:`CheckFailed` with the problem and a hint.

    Raises:
        CheckFailed: Always.

    >>> fail("shape is (3, 3)", "expected (2, 2)")
    Traceback (most recent call last):
    ...
    course_lib.checks.CheckFailed: shape is (3, 3)
    Hint: expected (2, 2)
    """
    message = problem if not hint else f"{problem}\nHint: {hint}"
    raise CheckFailed(message)


def expect(condition: bool, problem: str, hint: str = "") -> None:
    """Fail with ``problem`` and ``hint`` unless ``condition`` holds.

    Raises:
        CheckFailed: If ``condition`` is false.
    """
    if not condition:
        fail(problem, hint)


def expect_array(
    got, expected: np.ndarray, *, what: str, hint: str = "", atol: float = 1e-6
) -> None:
    """Compare an answer with the expected array: type, shape, then values.

    Args:
        got: The student's result.
        expected: The right result.
        what: How to name the result in a message, e.g. ``"normalise(image)"``.
        hint: What to try when it is wrong.
        atol: Absolute tolerance for the values.

    Raises:
        CheckFailed: If ``got`` is not an array, has another shape, or other values.
    """
    if got is None:
        fail(f"{what} returned None.", "Did you forget to `return` the result?")
    if not isinstance(got, np.ndarray):
        fail(f"{what} returned a {type(got).__name__}, not a NumPy array.", hint)
    expect(
        got.shape == expected.shape,
        f"{what} has shape {got.shape}; expected {expected.shape}.",
        hint,
    )
    if not np.allclose(got.astype(np.float64), expected.astype(np.float64), atol=atol):
        worst = float(np.max(np.abs(got.astype(np.float64) - expected.astype(np.float64))))
        fail(f"{what} has the right shape but wrong values (largest difference {worst:.4g}).", hint)


def check(name: str, hint: str = "") -> Callable:
    """Make a check function that reports stubs and errors as :class:`CheckFailed`.

    The wrapped function runs the student's answer and raises :class:`CheckFailed` when it is
    wrong; when it returns, the wrapper prints ``[PASS] <name>: well done``.

    Args:
        name: The exercise's name, shown in every message.
        hint: Shown when the student's function is still the stub or crashes.
    """

    def decorate(body: Callable) -> Callable:
        @functools.wraps(body)
        def run(*args, **kwargs):
            try:
                body(*args, **kwargs)
            except CheckFailed as error:
                raise CheckFailed(f"{name}: {error}") from None
            except NotImplementedError as error:
                detail = str(error) or hint
                raise CheckFailed(
                    f"{name}: not answered yet. Replace the `raise NotImplementedError` line with "
                    f"your code.\nHint: {detail}"
                ) from None
            except Exception as error:  # the student's code crashed: say where, keep it short
                raise CheckFailed(
                    f"{name}: your code raised {type(error).__name__}: {error}\nHint: {hint}"
                ) from error
            passed(f"{name}: well done.")

        return run

    return decorate
