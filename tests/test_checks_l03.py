"""Lesson 03 checks: pass on reference answers, 'not answered yet' on stubs, helpful on mistakes."""

import numpy as np
import pytest

from course_lib.checks import CheckFailed, l03


def stub(*args, **kwargs):
    raise NotImplementedError("the hint from the solution block")


def flip_pair(image, mask):
    return np.fliplr(image).copy(), np.fliplr(mask).copy()


def choose_safe_augmentations():
    return {
        "horizontal_flip",
        "small_rotation",
        "brightness_contrast",
        "bias_field",
        "gaussian_noise",
        "elastic",
    }


def images_per_second(batch_sizes, seconds, warmup=1):
    if warmup >= len(batch_sizes):
        raise ValueError("no batch left after the warm-up")
    return sum(batch_sizes[warmup:]) / sum(seconds[warmup:])


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (l03.check_flip_pair, flip_pair),
        (l03.check_choose_safe_augmentations, choose_safe_augmentations),
        (l03.check_images_per_second, images_per_second),
    ],
)
def test_checks_pass_on_solution_and_say_not_answered_on_stub(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match=r"(?s)not answered yet.*the hint from the solution"):
        checker(stub)


def test_every_candidate_is_judged():
    assert set(l03._SAFE) | set(l03._UNSAFE) == set(l03.AUGMENTATIONS)
    assert not set(l03._SAFE) & set(l03._UNSAFE)


def flip_up_down(image, mask):
    return np.flipud(image).copy(), np.flipud(mask).copy()


def flip_image_only(image, mask):
    return np.fliplr(image).copy(), mask


def flip_views(image, mask):
    return image[:, ::-1], mask[:, ::-1]


def flip_one(image, mask):
    return np.fliplr(image).copy()


def with_vertical_flip():
    return choose_safe_augmentations() | {"vertical_flip"}


def with_cutout():
    return choose_safe_augmentations() | {"large_cutout"}


def without_flip():
    return choose_safe_augmentations() - {"horizontal_flip"}


def with_typo():
    return choose_safe_augmentations() | {"mixup"}


def counting_warmup(batch_sizes, seconds, warmup=1):
    return sum(batch_sizes) / sum(seconds)


def mean_of_rates(batch_sizes, seconds, warmup=1):
    rates = [s / t for s, t in zip(batch_sizes[warmup:], seconds[warmup:], strict=True)]
    return sum(rates) / len(rates)


def seconds_per_image(batch_sizes, seconds, warmup=1):
    return sum(seconds[warmup:]) / sum(batch_sizes[warmup:])


def no_error_when_empty(batch_sizes, seconds, warmup=1):
    return sum(batch_sizes[warmup:]) / max(sum(seconds[warmup:]), 1e-9)


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l03.check_flip_pair, flip_up_down, "top to bottom"),
        (l03.check_flip_pair, flip_image_only, "mask came back unflipped"),
        (l03.check_flip_pair, flip_views, "writes through"),
        (l03.check_flip_pair, flip_one, "expected a pair"),
        (l03.check_choose_safe_augmentations, with_vertical_flip, "pituitary"),
        (l03.check_choose_safe_augmentations, with_cutout, "black out the tumour"),
        (l03.check_choose_safe_augmentations, without_flip, "horizontal_flip.*missing"),
        (l03.check_choose_safe_augmentations, with_typo, "not among the candidates"),
        (l03.check_images_per_second, counting_warmup, "warm-up batch was counted"),
        (l03.check_images_per_second, mean_of_rates, "mean of the per-batch rates"),
        (l03.check_images_per_second, seconds_per_image, "seconds per image"),
        (l03.check_images_per_second, no_error_when_empty, "did not raise ValueError"),
    ],
)
def test_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}") as error:
        checker(wrong)
    assert "Hint:" in str(error.value)
