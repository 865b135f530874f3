"""course_lib._validation: one rule, TypeError for the wrong kind and ValueError for a bad value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_lib._validation import (
    check_choice,
    check_int,
    check_interval,
    check_number,
    check_type,
    is_int,
    is_number,
)


def test_kinds():
    assert is_int(np.int64(3)) and not is_int(True) and not is_int(3.0)
    assert is_number(np.float32(0.5)) and is_number(2) and not is_number("2")
    assert not is_number(None)


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "match"),
    [
        (2.0, {}, TypeError, "n must be an int, got 2.0"),
        (True, {}, TypeError, "n must be an int"),
        ("3", {}, TypeError, "n must be an int"),
        (0, {"minimum": 1}, ValueError, "n must be >= 1, got 0"),
        (9, {"maximum": 5}, ValueError, "n must be <= 5, got 9"),
        (9, {"minimum": 1, "maximum": 5}, ValueError, "n must be between 1 and 5, got 9"),
    ],
)
def test_check_int(value, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_int("n", value, **kwargs)


def test_check_int_returns_a_python_int():
    value = check_int("n", np.int32(4), minimum=0)
    assert value == 4 and type(value) is int


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "match"),
    [
        ("0.1", {}, TypeError, "x must be a number"),
        (False, {}, TypeError, "x must be a number"),
        (float("nan"), {}, ValueError, "finite"),
        (float("inf"), {"minimum": 0}, ValueError, "finite"),
        (0.0, {"above": 0}, ValueError, "x must be > 0, got 0.0"),
        (0.9, {"above": 0, "maximum": 0.5}, ValueError, "x must be > 0 and <= 0.5"),
        (-1, {"minimum": 0}, ValueError, "x must be >= 0"),
    ],
)
def test_check_number(value, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_number("x", value, **kwargs)


def test_check_number_accepts_ints_and_numpy():
    assert check_number("x", 1, minimum=0) == 1.0
    assert check_number("x", np.float32(0.25), above=0, maximum=0.5) == 0.25


@pytest.mark.parametrize(
    ("value", "closed", "ok"),
    [
        (0.0, "both", True),
        (1.0, "both", True),
        (1.0, "left", False),
        (0.0, "right", False),
        (0.0, "neither", False),
        (0.5, "neither", True),
    ],
)
def test_check_interval(value, closed, ok):
    if ok:
        assert check_interval("p", value, 0, 1, closed=closed) == value
    else:
        with pytest.raises(ValueError, match="p must be in"):
            check_interval("p", value, 0, 1, closed=closed)


def test_check_interval_rejects_a_wrong_kind_and_an_unknown_closed():
    with pytest.raises(TypeError, match="p must be a number"):
        check_interval("p", "0.5", 0, 1)
    with pytest.raises(ValueError, match="closed"):
        check_interval("p", 0.5, 0, 1, closed="open")


def test_check_choice_and_type():
    assert check_choice("mode", "max", ("max", "min")) == "max"
    with pytest.raises(ValueError, match=r"mode must be one of \['max', 'min'\], got 'up'"):
        check_choice("mode", "up", ("max", "min"))
    with pytest.raises(ValueError, match="mode must be one of"):
        check_choice("mode", ["unhashable"], {"max", "min"})
    frame = pd.DataFrame()
    assert check_type("index", frame, pd.DataFrame, "a DataFrame") is frame
    with pytest.raises(TypeError, match="index must be a DataFrame, got list"):
        check_type("index", [], pd.DataFrame, "a DataFrame")
