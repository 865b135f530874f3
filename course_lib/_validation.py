"""Argument checks shared by every module (internal: import these, do not re-write them).

One rule for the two exceptions:

- ``TypeError`` when the argument is of the wrong *kind*: a string, a float or a bool where an
  integer is asked for, a string where a number is asked for, an object that is not a DataFrame;
- ``ValueError`` when it is of the right kind but its *value* is not allowed: out of range, not one
  of the choices, an empty list.

``bool`` is never accepted as a number (``True`` is an ``int`` to Python, not to a user), numpy
integers count as integers, and integers count as numbers. Every message names the argument, says
what it must be and shows the value it got.

>>> check_int("epochs", 3, minimum=1)
3
>>> check_int("epochs", 0, minimum=1)
Traceback (most recent call last):
...
ValueError: epochs must be >= 1, got 0
>>> check_int("epochs", 2.5)
Traceback (most recent call last):
...
TypeError: epochs must be an int, got 2.5
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import TypeVar

T = TypeVar("T")


def is_int(value) -> bool:
    """Whether ``value`` is an integer (numpy integers too), but not a bool.

    >>> is_int(3), is_int(True), is_int(3.0)
    (True, False, False)
    """
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """Whether ``value`` is a real number (int or float, numpy's too), but not a bool.

    >>> is_number(0.5), is_number(2), is_number("2"), is_number(False)
    (True, True, False, False)
    """
    return isinstance(value, Real) and not isinstance(value, bool)


def _range_text(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f"between {minimum} and {maximum}"
    if minimum is not None:
        return f">= {minimum}"
    return f"<= {maximum}"


def check_int(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check that ``value`` is an int within ``[minimum, maximum]`` and return it as an ``int``.

    Args:
        name: The argument's name, for the message.
        value: What the caller passed.
        minimum: Smallest allowed value (``None``: no bound).
        maximum: Largest allowed value (``None``: no bound).

    Returns:
        ``int(value)``.

    Raises:
        TypeError: If ``value`` is not an int (a bool, a float or a string is not).
        ValueError: If it is out of range.
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {_range_text(minimum, maximum)}, got {value!r}")
    return int(value)


def check_number(
    name: str,
    value,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
) -> float:
    """Check that ``value`` is a finite number in range and return it as a ``float``.

    Args:
        name: The argument's name, for the message.
        value: What the caller passed.
        minimum: Smallest allowed value, inclusive.
        maximum: Largest allowed value, inclusive.
        above: A bound the value must be strictly greater than (``above=0``: positive).

    Returns:
        ``float(value)``.

    Raises:
        TypeError: If ``value`` is not a number.
        ValueError: If it is NaN, infinite or out of range.

    >>> check_number("lr", 0.1, above=0)
    0.1
    >>> check_number("lr", 0, above=0)
    Traceback (most recent call last):
    ...
    ValueError: lr must be > 0, got 0
    """
    if not is_number(value):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if above is not None and (not value > above or (maximum is not None and value > maximum)):
        bound = f"> {above}" if maximum is None else f"> {above} and <= {maximum}"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {_range_text(minimum, maximum)}, got {value!r}")
    return float(value)


def check_choice(name: str, value: T, choices: Iterable) -> T:
    """Check that ``value`` is one of ``choices`` and return it.

    Raises:
        ValueError: If it is not (the message lists the choices).

    >>> check_choice("mode", "max", ("max", "min"))
    'max'
    >>> check_choice("mode", "up", ("max", "min"))
    Traceback (most recent call last):
    ...
    ValueError: mode must be one of ['max', 'min'], got 'up'
    """
    choices = list(choices)
    try:
        allowed = value in choices
    except TypeError:  # an unhashable or incomparable value is simply not a choice
        allowed = False
    if not allowed:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_type(name: str, value: T, kinds: type | tuple[type, ...], what: str) -> T:
    """Check that ``value`` is an instance of ``kinds`` and return it.

    Args:
        name: The argument's name.
        value: What the caller passed.
        kinds: A type or a tuple of types.
        what: How to say the expected kind in the message (``"a pandas DataFrame"``).

    Raises:
        TypeError: If it is not.

    >>> check_type("names", ("a",), (list, tuple), "a list or tuple")
    ('a',)
    """
    if not isinstance(value, kinds):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__} {value!r:.60}")
    return value


_BRACKETS = {"both": "[]", "left": "[)", "right": "(]", "neither": "()"}


def check_interval(name: str, value, low: float, high: float, *, closed: str = "both") -> float:
    """Check that ``value`` is a finite number in the interval from ``low`` to ``high``.

    For the bounds that ``check_number`` cannot say: a half-open interval such as ``[0, 1)``.

    Args:
        name: The argument's name, for the message.
        value: What the caller passed.
        low: Lower end of the interval.
        high: Upper end of the interval.
        closed: Which ends belong to the interval: ``"both"`` (``[low, high]``), ``"left"``
            (``[low, high)``), ``"right"`` (``(low, high]``) or ``"neither"`` (``(low, high)``),
            as in ``pandas.Interval``.

    Returns:
        ``float(value)``.

    Raises:
        TypeError: If ``value`` is not a number.
        ValueError: If it is NaN, infinite or outside the interval, or ``closed`` is unknown.

    >>> check_interval("dropout", 0.5, 0, 1, closed="left")
    0.5
    >>> check_interval("dropout", 1.0, 0, 1, closed="left")
    Traceback (most recent call last):
    ...
    ValueError: dropout must be in [0, 1), got 1.0
    """
    brackets = _BRACKETS[check_choice("closed", closed, _BRACKETS)]
    number = check_number(name, value)
    above_low = number >= low if brackets[0] == "[" else number > low
    below_high = number <= high if brackets[1] == "]" else number < high
    if not (above_low and below_high):
        raise ValueError(
            f"{name} must be in {brackets[0]}{low}, {high}{brackets[1]}, got {value!r}"
        )
    return number
