"""Immediate feedback for the exercise notebooks.

One module per lesson (``course_lib.checks.l00``, ``l01``, ...) holds that lesson's checks. A check
takes the student's function or value, tries it, and either prints a short pass message or raises
:class:`CheckFailed` that says what is wrong and how to fix it. A check handed the untouched stub
(which raises ``NotImplementedError``) says "not answered yet" with the check's hint.

Write a check with the :func:`check` decorator::

    @check("crop_center")
    def check_crop_center(crop_center):
        got = crop_center(np.arange(16).reshape(4, 4), 2)
        expect_array(got, np.array([[5, 6], [9, 10]]), what="crop_center(4x4 image, 2)",
                     hint="Where does the crop start, measured from the top edge?")

In a notebook a check never stops "Run All": a wrong or missing answer prints ``[FAIL] ...`` (or
``[NOT ANSWERED] ...``) to stderr and the notebook goes on. nbgrader scores a test cell that wrote
to stderr 0 points, so the same check grades. Tests set :data:`RAISE_FAILURES` to get
:class:`CheckFailed` instead. A later cell that uses an answer runs inside :func:`needs_answer`,
which says so, instead of a traceback, when the answer is still the stub.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator

import numpy as np

__all__ = [
    "RAISE_FAILURES",
    "CheckFailed",
    "check",
    "expect",
    "expect_array",
    "expect_own_code",
    "fail",
    "needs_answer",
    "passed",
]

#: Raise :class:`CheckFailed` from a failed check instead of printing it (the test suite sets it).
RAISE_FAILURES = False


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


def names_used(code) -> set[str]:
    """Return the global and attribute names a code object uses, nested functions included."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= names_used(const)
    return names


def expect_own_code(answer: Callable, *forbidden: str, exercise: str) -> None:
    """Fail when the student's function calls a course_lib function that does the exercise.

    The test reads the names the function's code uses (``module.name`` and plain ``name`` both
    count), so importing the library's version under its own name is caught too.

    Args:
        answer: The student's function.
        forbidden: Names of the library functions that solve the exercise.
        exercise: How to name the exercise in the message.

    Raises:
        CheckFailed: If the function's code uses one of ``forbidden``.

    >>> def mine(env):
    ...     return profile_name_from_env(env)
    >>> expect_own_code(mine, "profile_name_from_env", exercise="choose_profile")
    Traceback (most recent call last):
    ...
    course_lib.checks.CheckFailed: choose_profile calls profile_name_from_env from course_lib.
    Hint: The exercise is to write it yourself; the library's version is for checking afterwards.
    """
    code = getattr(answer, "__code__", None)
    used = names_used(code) if code is not None else set()
    for name in forbidden:
        expect(
            name not in used,
            f"{exercise} calls {name} from course_lib.",
            "The exercise is to write it yourself; the library's version is for checking "
            "afterwards.",
        )


def _report(message: str) -> None:
    """Print a failed check to stderr (nbgrader: 0 points), or raise it under RAISE_FAILURES."""
    if RAISE_FAILURES:
        raise CheckFailed(message)
    label = "[NOT ANSWERED]" if ": not answered yet." in message else "[FAIL]"
    print(f"{label} {message}", file=sys.stderr)


def check(name: str, hint: str = "") -> Callable:
    """Make a check function that reports a wrong answer, a stub or a crash without raising.

    The wrapped function runs the student's answer and raises :class:`CheckFailed` when it is
    wrong; the wrapper then prints ``[FAIL] <name>: <why>`` to stderr (or raises, when
    :data:`RAISE_FAILURES` is set). When the body returns, it prints ``[PASS] <name>: well done.``
    The wrapper returns ``None`` either way, so a test cell shows no value.

    Args:
        name: The exercise's name, shown in every message.
        hint: Shown when the student's function is still the stub or crashes.
    """

    def decorate(body: Callable) -> Callable:
        @functools.wraps(body)
        def run(*args, **kwargs) -> None:
            try:
                body(*args, **kwargs)
            except CheckFailed as error:
                _report(f"{name}: {error}")
                return
            except NotImplementedError:
                detail = f"\nHint: {hint}" if hint else ""
                _report(
                    f"{name}: not answered yet. Replace the `raise NotImplementedError` line "
                    f"with your code.{detail}"
                )
                return
            except Exception as error:  # the student's code crashed: say where, keep it short
                detail = f"\nHint: {hint}" if hint else ""
                _report(f"{name}: your code raised {type(error).__name__}: {error}{detail}")
                return
            passed(f"{name}: well done.")

        return run

    return decorate


@contextlib.contextmanager
def needs_answer(*names: str) -> Iterator[None]:
    """Run a cell that uses the student's answers; if one is still the stub, say so and go on.

    Only ``NotImplementedError`` (the stub) is caught: any other error in the cell shows as usual.

    Args:
        names: The answers the cell uses, e.g. ``"crop_center"``, for the message.

    >>> def crop_center(image, size):
    ...     raise NotImplementedError("not answered yet")
    >>> with needs_answer("crop_center"):
    ...     crop_center(None, 2)
    (skipped: this cell uses your crop_center from above; answer it first, then run this cell again)
    """
    try:
        yield
    except NotImplementedError:
        answers = ", ".join(names) or "answer"
        print(
            f"(skipped: this cell uses your {answers} from above; answer it first, "
            "then run this cell again)"
        )
