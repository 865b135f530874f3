"""The check machinery, and lesson 00's checks on the solution, the stub and wrong answers."""

import numpy as np
import pytest

from course_lib import checks
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


def _demo_check():
    @check("demo", hint="default hint")
    def check_demo(fn):
        expect(fn(2) == 4, "fn(2) is not 4", "double it")

    return check_demo


def test_check_decorator_reports_stub_crash_and_pass(capsys):
    check_demo = _demo_check()
    check_demo(lambda x: 2 * x)
    assert "[PASS] demo" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match=r"(?s)demo: not answered yet.*Hint: default hint"):
        check_demo(stub)
    with pytest.raises(CheckFailed, match=r"(?s)demo: fn\(2\) is not 4.*Hint: double it"):
        check_demo(lambda x: x)
    with pytest.raises(CheckFailed, match=r"(?s)demo: your code raised ZeroDivisionError.*default"):
        check_demo(lambda x: x / 0)


def test_in_a_notebook_a_failed_check_prints_to_stderr_and_does_not_raise(monkeypatch, capsys):
    monkeypatch.setattr(checks, "RAISE_FAILURES", False)
    check_demo = _demo_check()
    assert check_demo(lambda x: x) is None
    out = capsys.readouterr()
    assert out.out == "" and out.err.startswith("[FAIL] demo: fn(2) is not 4")
    check_demo(stub)
    assert capsys.readouterr().err.startswith("[NOT ANSWERED] demo: not answered yet")
    assert check_demo(lambda x: 2 * x) is None
    assert capsys.readouterr().err == ""


def test_needs_answer_skips_a_stub_and_lets_other_errors_through(capsys):
    with checks.needs_answer("crop_center"):
        stub()
    assert "uses your crop_center" in capsys.readouterr().out
    with pytest.raises(ZeroDivisionError), checks.needs_answer("f"):
        print(1 / 0)


def test_expect_own_code_sees_names_in_nested_functions():
    def answer(environ):
        def inner():
            return profile_name_from_env(environ)  # noqa: F821 (never called)

        return inner

    with pytest.raises(CheckFailed, match="calls profile_name_from_env"):
        checks.expect_own_code(answer, "profile_name_from_env", exercise="x")
    checks.expect_own_code(lambda env: env, "profile_name_from_env", exercise="x")


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


def choose_profile(environ, cuda):
    chosen = environ.get("COURSE_PROFILE", "").strip()
    if chosen:
        return chosen
    if environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return "smoke"
    return "gpu" if cuda else "cpu"


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (l00.check_crop_center, crop_center),
        (l00.check_normalize_minmax, normalize_minmax),
        (l00.check_to_uint8, to_uint8),
        (l00.check_to_uint8_more, to_uint8),
        (l00.check_choose_profile, choose_profile),
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


def to_uint8_times_256(image):  # the hole: x256 then clip passed
    return np.clip(np.round(image * 256), 0, 255).astype(np.uint8)


def to_uint8_float(image):
    return np.round(np.clip(image, 0, 1) * 255)


def profile_ignoring_ci(environ, cuda):
    return environ.get("COURSE_PROFILE", "").strip() or ("gpu" if cuda else "cpu")


def profile_ci_any_value(environ, cuda):
    if environ.get("COURSE_PROFILE", "").strip():
        return environ["COURSE_PROFILE"].strip()
    return "smoke" if "CI" in environ and environ["CI"] else ("gpu" if cuda else "cpu")


def profile_gpu_before_ci(environ, cuda):
    if environ.get("COURSE_PROFILE", "").strip():
        return environ["COURSE_PROFILE"].strip()
    if cuda:
        return "gpu"
    return "smoke" if environ.get("CI", "").lower() not in ("", "0", "false", "no") else "cpu"


def profile_unstripped(environ, cuda):
    if environ.get("COURSE_PROFILE"):
        return environ["COURSE_PROFILE"]
    return choose_profile({k: v for k, v in environ.items() if k != "COURSE_PROFILE"}, cuda)


def profile_from_library(environ, cuda):
    from course_lib.config import profile_name_from_env

    return profile_name_from_env(environ, cuda)


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l00.check_crop_center, crop_corner, "wrong values"),
        (l00.check_crop_center, crop_in_place, "changed its input"),
        (l00.check_normalize_minmax, normalize_by_max, r"image \+ 1000"),
        (l00.check_normalize_minmax, normalize_float64, "float32"),
        (l00.check_to_uint8, to_uint8_truncating, "truncates"),
        (l00.check_to_uint8, to_uint8_unclipped, "outside"),
        (l00.check_to_uint8, to_uint8_times_256, "gave 205; expected 204"),
        (l00.check_to_uint8, to_uint8_float, "expected uint8"),
        (l00.check_to_uint8_more, to_uint8_unclipped, "wrong values"),
        (l00.check_choose_profile, profile_ignoring_ci, r"'CI': 'true'.*expected 'smoke'"),
        (l00.check_choose_profile, profile_ci_any_value, r"'CI': 'false'.*expected 'gpu'"),
        (l00.check_choose_profile, profile_gpu_before_ci, "rule 2 comes before rule 3"),
        (l00.check_choose_profile, profile_unstripped, "Strip the spaces"),
        (l00.check_choose_profile, profile_from_library, "calls profile_name_from_env"),
    ],
)
def test_l00_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}") as error:
        checker(wrong)
    assert "Hint:" in str(error.value)
