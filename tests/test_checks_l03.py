"""Lesson 03 checks: pass on reference answers, 'not answered yet' on stubs, helpful on mistakes."""

import itertools
import random
import warnings

import albumentations as A
import numpy as np
import pytest

from course_lib.checks import CheckFailed, l03
from course_lib.transforms import MEAN, STD, eval_transform, train_transform


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


def _finish(image_size):
    return [A.Resize(image_size, image_size), A.Normalize(mean=MEAN, std=STD, max_pixel_value=255)]


def _augment():
    return [
        A.HorizontalFlip(p=0.5),
        A.Affine(rotate=(-10, 10), p=0.5),
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.5),
    ]


def make_pipeline(split, image_size, seed):
    if split == "train":
        return A.Compose(_augment() + _finish(image_size), seed=seed)
    if split in ("val", "test"):
        return A.Compose(_finish(image_size))
    raise ValueError(f"unknown split {split!r}")


def make_pipeline_with_eval_transform(split, image_size, seed):
    """A correct alternative: the library's eval pipeline, and its steps after the augmentation."""
    if split not in ("train", "val", "test"):
        raise ValueError(split)
    evaluate = eval_transform(image_size)
    if split != "train":
        return evaluate
    steps = [A.OneOf([A.GaussNoise(std_range=(0.01, 0.03)), A.GaussianBlur()]), *_augment()]
    return A.Compose(steps + list(evaluate.transforms), seed=seed)


def count_labels(loader, num_classes):
    counts = np.zeros(num_classes, dtype=np.int64)
    for _, labels in loader:
        counts += np.bincount(labels.numpy(), minlength=num_classes)
    return counts


def count_labels_torch(loader, num_classes):
    """A correct alternative: torch all the way, a tensor returned."""
    import torch

    return sum(torch.bincount(labels, minlength=num_classes) for _, labels in loader)


def patients_in_two_splits(dm):
    train, val, test = (
        set(part["patient_id"]) for part in (dm.train_index, dm.val_index, dm.test_index)
    )
    return (train & val) | (train & test) | (val & test)


def patients_in_two_splits_counting(dm):
    """A correct alternative: count the splits each patient is in."""
    import pandas as pd

    parts = [dm.train_index, dm.val_index, dm.test_index]
    ids = pd.concat([p["patient_id"].drop_duplicates() for p in parts])
    counts = ids.value_counts()
    return list(counts[counts > 1].index)


def images_per_second(batch_sizes, seconds, warmup=1):
    if warmup >= len(batch_sizes):
        raise ValueError("no batch left after the warm-up")
    return sum(batch_sizes[warmup:]) / sum(seconds[warmup:])


def images_per_second_numpy(batch_sizes, seconds, warmup=1):
    """A correct alternative: numpy arrays, the mean size over the mean time."""
    sizes, times = np.asarray(batch_sizes[warmup:]), np.asarray(seconds[warmup:], np.float32)
    if sizes.size == 0:
        raise ValueError("nothing to time")
    return sizes.mean() / times.mean()


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (l03.check_flip_pair, flip_pair),
        (l03.check_choose_safe_augmentations, choose_safe_augmentations),
        (l03.check_make_pipeline, make_pipeline),
        (l03.check_make_pipeline, make_pipeline_with_eval_transform),
        (l03.check_count_labels, count_labels),
        (l03.check_count_labels, count_labels_torch),
        (l03.check_patients_in_two_splits, patients_in_two_splits),
        (l03.check_patients_in_two_splits, patients_in_two_splits_counting),
        (l03.check_images_per_second, images_per_second),
        (l03.check_images_per_second, images_per_second_numpy),
    ],
)
def test_checks_pass_on_solution_and_say_not_answered_on_stub(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match=r"(?s)not answered yet.*Hint: "):
        checker(stub)


def test_every_candidate_is_judged():
    assert set(l03._SAFE) | set(l03._UNSAFE) == set(l03.AUGMENTATIONS)
    assert not set(l03._SAFE) & set(l03._UNSAFE)


def test_the_typical_wrong_rates_all_differ_from_each_other_and_from_the_right_one():
    """Each mistake is named only if no other gives the same number on the check's timings.

    (With warmup=0 several mistakes give the right number; the check has caught them at 1.)
    """
    for warmup in (1, 2):
        right = l03._rate(l03._SIZES[warmup:], l03._SECONDS[warmup:])
        values = [v for v, _, _ in l03._typical_mistakes(l03._SIZES, l03._SECONDS, warmup)]
        values = [v for v in values if np.isfinite(v)]
        for a, b in itertools.combinations([right, *values], 2):
            assert not np.isclose(a, b, rtol=1e-4), (warmup, a, b)


def test_harmful_steps_are_named_as_albumentations_spells_them():
    for name in l03._HARMFUL:
        assert hasattr(A, name), name
    for name, attribute in l03._ROTATING.items():
        with warnings.catch_warnings():  # ShiftScaleRotate: "use Affine instead"
            warnings.simplefilter("ignore", UserWarning)
            step = getattr(A, name)()
        assert hasattr(step, attribute), name


def flip_up_down(image, mask):
    return np.flipud(image).copy(), np.flipud(mask).copy()


def flip_both_axes(image, mask):
    return image[::-1, ::-1].copy(), mask[::-1, ::-1].copy()


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


def one_name():
    return "horizontal_flip"


def pipeline_augmenting_everywhere(split, image_size, seed):
    return A.Compose(_augment() + _finish(image_size), seed=seed)


def pipeline_val_flipped(split, image_size, seed):
    if split == "train":
        return make_pipeline(split, image_size, seed)
    return A.Compose([A.HorizontalFlip(p=1.0), *_finish(image_size)])


def pipeline_without_seed(split, image_size, seed):
    if split == "train":
        return A.Compose(_augment() + _finish(image_size))
    return make_pipeline(split, image_size, seed)


def pipeline_with_global_seed(split, image_size, seed):
    np.random.seed(seed)
    random.seed(seed)
    return pipeline_without_seed(split, image_size, seed)


def pipeline_with_fixed_seed(split, image_size, seed):
    return make_pipeline(split, image_size, 0)


def pipeline_without_augmentation(split, image_size, seed):
    if split not in ("train", "val", "test"):
        raise ValueError(split)
    return A.Compose(_finish(image_size), seed=seed)


def pipeline_with_vertical_flip(split, image_size, seed):
    if split == "train":
        return A.Compose([A.VerticalFlip(p=0.5), *_augment(), *_finish(image_size)], seed=seed)
    return make_pipeline(split, image_size, seed)


def pipeline_with_hidden_cutout(split, image_size, seed):
    if split == "train":
        hide = A.OneOf([A.CoarseDropout(), A.GaussNoise()], p=0.5)
        return A.Compose([hide, *_augment(), *_finish(image_size)], seed=seed)
    return make_pipeline(split, image_size, seed)


def pipeline_rotating_far(split, image_size, seed):
    if split == "train":
        return A.Compose([A.Rotate(limit=180), *_finish(image_size)], seed=seed)
    return make_pipeline(split, image_size, seed)


def pipeline_without_resize(split, image_size, seed):
    steps = [A.Normalize(mean=MEAN, std=STD, max_pixel_value=255)]
    return A.Compose((_augment() if split == "train" else []) + steps, seed=seed)


def pipeline_to_unit_range(split, image_size, seed):
    steps = [A.Resize(image_size, image_size), A.ToFloat(max_value=255)]
    return A.Compose((_augment() if split == "train" else []) + steps, seed=seed)


def pipeline_returning_a_list(split, image_size, seed):
    return _finish(image_size)


def pipeline_any_name_is_val(split, image_size, seed):
    if split == "train":
        return make_pipeline(split, image_size, seed)
    return A.Compose(_finish(image_size))


def pipeline_from_the_library(split, image_size, seed):
    if split == "train":
        return train_transform(image_size, seed=seed)
    return eval_transform(image_size)


def count_without_minlength(loader, num_classes):
    return sum(np.bincount(labels.numpy(), minlength=0) for _, labels in loader)


def count_the_dataset(loader, num_classes):
    return np.bincount(loader.dataset.labels, minlength=num_classes)


def count_first_batch(loader, num_classes):
    _, labels = next(iter(loader))
    return np.bincount(labels.numpy(), minlength=num_classes)


def count_batches(loader, num_classes):
    counts = np.zeros(num_classes, dtype=np.int64)
    for _, labels in loader:
        counts[int(labels[0])] += 1
    return counts


def count_with_fancy_increment(loader, num_classes):
    counts = np.zeros(num_classes, dtype=np.int64)
    for _, labels in loader:
        counts[labels.numpy()] += 1
    return counts


def count_as_floats(loader, num_classes):
    return count_labels(loader, num_classes).astype(np.float64)


def count_four_classes(loader, num_classes):
    return count_labels(loader, 4)


def crossing_by_row_labels(dm):
    parts = [set(p.index) for p in (dm.train_index, dm.val_index, dm.test_index)]
    return (parts[0] & parts[1]) | (parts[0] & parts[2]) | (parts[1] & parts[2])


def crossing_train_val_only(dm):
    return set(dm.train_index["patient_id"]) & set(dm.val_index["patient_id"])


def crossing_all_three_only(dm):
    parts = [set(p["patient_id"]) for p in (dm.train_index, dm.val_index, dm.test_index)]
    return parts[0] & parts[1] & parts[2]


def crossing_union(dm):
    parts = [set(p["patient_id"]) for p in (dm.train_index, dm.val_index, dm.test_index)]
    return parts[0] | parts[1] | parts[2]


def crossing_as_bool(dm):
    return bool(patients_in_two_splits(dm))


def counting_warmup(batch_sizes, seconds, warmup=1):
    return sum(batch_sizes) / sum(seconds)


def one_too_many(batch_sizes, seconds, warmup=1):
    if warmup >= len(batch_sizes):
        raise ValueError("no batch left")
    return sum(batch_sizes[warmup + 1 :]) / sum(seconds[warmup + 1 :])


def dropping_the_end(batch_sizes, seconds, warmup=1):
    return sum(batch_sizes[: len(batch_sizes) - warmup]) / sum(seconds[: len(seconds) - warmup])


def mean_of_rates(batch_sizes, seconds, warmup=1):
    rates = [s / t for s, t in zip(batch_sizes[warmup:], seconds[warmup:], strict=True)]
    return sum(rates) / len(rates)


def mean_of_all_rates(batch_sizes, seconds, warmup=1):
    rates = [s / t for s, t in zip(batch_sizes, seconds, strict=True)]
    return sum(rates) / len(rates)


def seconds_per_image(batch_sizes, seconds, warmup=1):
    return sum(seconds[warmup:]) / sum(batch_sizes[warmup:])


def skipping_images_only(batch_sizes, seconds, warmup=1):
    return sum(batch_sizes[warmup:]) / sum(seconds)


def skipping_seconds_only(batch_sizes, seconds, warmup=1):
    return sum(batch_sizes) / sum(seconds[warmup:])


def floor_division(batch_sizes, seconds, warmup=1):
    if warmup >= len(batch_sizes):
        raise ValueError("no batch left")
    return sum(batch_sizes[warmup:]) // sum(seconds[warmup:])


def ignoring_warmup(batch_sizes, seconds, warmup=1):
    if len(batch_sizes) <= 1:
        raise ValueError("no batch left")
    return sum(batch_sizes[1:]) / sum(seconds[1:])


def popping_the_warmup(batch_sizes, seconds, warmup=1):
    if warmup >= len(batch_sizes):
        raise ValueError("no batch left")
    for _ in range(warmup):
        batch_sizes.pop(0)
        seconds.pop(0)
    return sum(batch_sizes) / sum(seconds)


def no_error_when_empty(batch_sizes, seconds, warmup=1):
    return sum(batch_sizes[warmup:]) / max(sum(seconds[warmup:]), 1e-9)


def zero_division_when_empty(batch_sizes, seconds, warmup=1):
    return sum(batch_sizes[warmup:]) / sum(seconds[warmup:])


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l03.check_flip_pair, flip_up_down, "top to bottom"),
        (l03.check_flip_pair, flip_both_axes, "both ways"),
        (l03.check_flip_pair, flip_image_only, "mask came back unflipped"),
        (l03.check_flip_pair, flip_views, "writes through"),
        (l03.check_flip_pair, flip_one, "expected a pair"),
        (l03.check_choose_safe_augmentations, with_vertical_flip, "pituitary"),
        (l03.check_choose_safe_augmentations, with_cutout, "black out the tumour"),
        (l03.check_choose_safe_augmentations, without_flip, "horizontal_flip.*missing"),
        (l03.check_choose_safe_augmentations, with_typo, "not among the candidates"),
        (l03.check_choose_safe_augmentations, one_name, "one string"),
        (l03.check_make_pipeline, pipeline_augmenting_everywhere, "val pipeline .* augments"),
        (l03.check_make_pipeline, pipeline_val_flipped, "val pipeline changes the image"),
        (l03.check_make_pipeline, pipeline_without_seed, "seed does not reach the pipeline"),
        (l03.check_make_pipeline, pipeline_with_global_seed, "a global seed"),
        (l03.check_make_pipeline, pipeline_with_fixed_seed, "seed argument is ignored"),
        (l03.check_make_pipeline, pipeline_without_augmentation, "does not augment"),
        (l03.check_make_pipeline, pipeline_with_vertical_flip, "VerticalFlip: an upside-down"),
        (l03.check_make_pipeline, pipeline_with_hidden_cutout, "CoarseDropout"),
        (l03.check_make_pipeline, pipeline_rotating_far, "up to 180 degrees"),
        (l03.check_make_pipeline, pipeline_without_resize, r"shape \(40, 48\)"),
        (l03.check_make_pipeline, pipeline_to_unit_range, "not normalised with MEAN and STD"),
        (l03.check_make_pipeline, pipeline_returning_a_list, "not a pipeline"),
        (l03.check_make_pipeline, pipeline_any_name_is_val, "instead of raising ValueError"),
        (l03.check_make_pipeline, pipeline_from_the_library, "calls train_transform"),
        (l03.check_count_labels, count_without_minlength, "class that never came is missing"),
        (l03.check_count_labels, count_the_dataset, "labels of loader.dataset"),
        (l03.check_count_labels, count_first_batch, "one batch only"),
        (l03.check_count_labels, count_batches, "counts batches, not images"),
        (l03.check_count_labels, count_with_fancy_increment, "at most once per batch"),
        (l03.check_count_labels, count_as_floats, "float64 counts"),
        (l03.check_count_labels, count_four_classes, "Use num_classes"),
        (l03.check_patients_in_two_splits, crossing_by_row_labels, "row labels"),
        (l03.check_patients_in_two_splits, crossing_train_val_only, "validation and test"),
        (l03.check_patients_in_two_splits, crossing_all_three_only, "missed a patient"),
        (l03.check_patients_in_two_splits, crossing_union, "every patient"),
        (l03.check_patients_in_two_splits, crossing_as_bool, "not the patient ids"),
        (l03.check_images_per_second, counting_warmup, "warm-up batches were counted"),
        (l03.check_images_per_second, one_too_many, "one batch too many was skipped"),
        (l03.check_images_per_second, dropping_the_end, "last batches were dropped"),
        (l03.check_images_per_second, mean_of_rates, "mean of the per-batch rates\\."),
        (l03.check_images_per_second, mean_of_all_rates, "rates, warm-up included"),
        (l03.check_images_per_second, seconds_per_image, "seconds per image"),
        (l03.check_images_per_second, skipping_images_only, "of the images but not"),
        (l03.check_images_per_second, skipping_seconds_only, "of the seconds but not"),
        (l03.check_images_per_second, floor_division, "rounded down"),
        (l03.check_images_per_second, ignoring_warmup, "`warmup` argument is ignored"),
        (l03.check_images_per_second, popping_the_warmup, "changed the lists"),
        (l03.check_images_per_second, no_error_when_empty, "instead of raising ValueError"),
        (l03.check_images_per_second, zero_division_when_empty, "raised ZeroDivisionError"),
    ],
)
def test_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}") as error:
        checker(wrong)
    assert "Hint:" in str(error.value)
    assert "np.int64(" not in str(error.value) and "np.float" not in str(error.value)


def test_skipping_one_batch_too_many_is_not_called_the_mean_of_rates():
    """The issue's hole: on the old timings both gave 266.7, and the message named the other."""
    with pytest.raises(CheckFailed, match="one batch too many") as error:
        l03.check_images_per_second(one_too_many)
    assert "mean of the per-batch rates" not in str(error.value)
