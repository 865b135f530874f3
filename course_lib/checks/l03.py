"""Checks for the lesson 03 exercises: augmentation, a seeded pipeline, the DataModule, images/s.

Every check builds its own small inputs (fresh copies for each call, so an answer that modifies
its input cannot spoil the next test) and compares the student's answer with the right one.
Nothing here trains; each check runs in well under a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from course_lib import transforms as _transforms
from course_lib.checks import check, expect, expect_array, expect_own_code, fail

#: Candidate augmentations for a brain-tumour slice classifier, and what each does.
AUGMENTATIONS: dict[str, str] = {
    "horizontal_flip": "mirror the slice left to right",
    "vertical_flip": "mirror the slice top to bottom",
    "small_rotation": "rotate by up to 10 degrees",
    "rotate_180": "turn the slice upside down",
    "brightness_contrast": "change brightness and contrast by up to 20 %",
    "bias_field": "multiply by a smooth random field, as an uneven receive coil does",
    "gaussian_noise": "add a little noise",
    "elastic": "warp the slice with a small, smooth deformation",
    "large_cutout": "black out a random square of a quarter of the slice",
    "tight_random_crop": "keep a random crop of half the slice's width and height",
}

#: Why each unsafe candidate is unsafe (the check quotes it).
_UNSAFE = {
    "vertical_flip": "an upside-down head is not a patient any scanner produces, and it moves "
    "the pituitary gland from the skull base to the top",
    "rotate_180": "it turns the head upside down, which never happens in a scan",
    "large_cutout": "it can black out the tumour itself, and then the label is wrong",
    "tight_random_crop": "it can cut the tumour out of the slice, and then the label is wrong",
}

#: Why each safe candidate is safe (quoted when a student leaves it out).
_SAFE = {
    "horizontal_flip": "the brain is roughly left-right symmetric and tumours occur on both sides",
    "small_rotation": "patients' heads are never perfectly straight in the scanner",
    "brightness_contrast": "intensities differ between scanners and settings",
    "bias_field": "every coil leaves one, stronger or weaker",
    "gaussian_noise": "every scan is noisy, some more than others",
    "elastic": "anatomy varies from patient to patient",
}


# --------------------------------------------------------------------------- flip_pair


@check("flip_pair", hint="Which axis of an (H, W) array runs from left to right?")
def check_flip_pair(flip_pair) -> None:
    """Check ``flip_pair(image, mask) -> (image, mask)`` mirrored left to right, together."""
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    mask = np.zeros((3, 4), dtype=np.uint8)
    mask[0, 0] = 1  # a tumour in the top-left corner
    out = flip_pair(image.copy(), mask.copy())
    if not isinstance(out, tuple | list) or len(out) != 2:
        fail(
            f"flip_pair returned {type(out).__name__}; expected a pair (image, mask).",
            "Return both flipped arrays together, the image first.",
        )
    got_image, got_mask = out
    for what, got, ref in (("image", got_image, image), ("mask", got_mask, mask)):
        if isinstance(got, np.ndarray) and got.shape == ref.shape:
            if np.array_equal(got, ref[::-1]):
                fail(
                    f"the {what} was flipped top to bottom.",
                    "Left to right means the columns change places, the rows stay. "
                    "A top-bottom flip makes an upside-down head.",
                )
            if np.array_equal(got, ref[::-1, ::-1]):
                fail(
                    f"the {what} was flipped both ways (turned by 180 degrees).",
                    "Mirror one axis only: the one that runs from left to right.",
                )
            if np.array_equal(got, ref) and not np.array_equal(ref, ref[:, ::-1]):
                fail(
                    f"the {what} came back unflipped.",
                    "Flip the image AND its mask: a mask that stays put no longer outlines the "
                    "tumour in the flipped image.",
                )
        expect_array(
            got,
            ref[:, ::-1],
            what=f"the flipped {what}",
            hint="Mirror it left to right: the first column becomes the last.",
        )
    expect(
        got_mask.dtype == mask.dtype,
        f"the flipped mask has dtype {got_mask.dtype}; expected {mask.dtype}.",
        "Flipping moves pixels; it must not change their type or values.",
    )
    scratch_image, scratch_mask = image.copy(), mask.copy()
    new_image, _ = flip_pair(scratch_image, scratch_mask)
    new_image[...] = -1
    expect(
        np.array_equal(scratch_image, image) and np.array_equal(scratch_mask, mask),
        "flip_pair changed its input, or returned a view that writes through to it.",
        "A flipped view shares memory with its input: return new arrays "
        "(albumentations and torch expect arrays of their own).",
    )


# --------------------------------------------------------------------------- safe augmentations


@check(
    "choose_safe_augmentations",
    hint="Keep what produces a plausible patient with the same diagnosis; drop what turns a "
    "head upside down or can remove the tumour.",
)
def check_choose_safe_augmentations(choose_safe_augmentations) -> None:
    """Check ``choose_safe_augmentations() -> set`` of names from :data:`AUGMENTATIONS`."""
    got = choose_safe_augmentations()
    if got is None:
        fail("choose_safe_augmentations returned None.", "Return a set of names.")
    if isinstance(got, str):
        fail("choose_safe_augmentations returned one string, not a set of names.", "Return a set.")
    try:
        chosen = {str(name) for name in got}
    except TypeError:
        fail(
            f"choose_safe_augmentations returned a {type(got).__name__}, not a set of names.",
            "Return a set.",
        )
    unknown = sorted(chosen - set(AUGMENTATIONS))
    expect(
        not unknown,
        f"{unknown} are not among the candidates.",
        f"Choose names from AUGMENTATIONS: {sorted(AUGMENTATIONS)}.",
    )
    for name, why in _UNSAFE.items():
        expect(
            name not in chosen,
            f"{name!r} ({AUGMENTATIONS[name]}) is not safe for MRI.",
            f"Drop it: {why}.",
        )
    for name, why in _SAFE.items():
        expect(
            name in chosen,
            f"{name!r} ({AUGMENTATIONS[name]}) is missing; it is safe.",
            f"Keep it: {why}.",
        )


# --------------------------------------------------------------------------- seeded pipeline

#: albumentations classes that make an implausible head or can remove the tumour, and why.
_HARMFUL = {
    "VerticalFlip": "an upside-down head is not a patient any scanner produces, and it moves a "
    "pituitary tumour to the top of the head",
    "RandomRotate90": "quarter and half turns make heads no scanner produces",
    "Transpose": "a transposed slice is a head lying on its side, mirrored",
    "D4": "it includes upside-down and sideways heads",
    "CoarseDropout": "a large hole can black out the tumour, and then the label is wrong",
    "GridDropout": "the dropped cells can hide the tumour, and then the label is wrong",
    "Erasing": "an erased patch can hide the tumour, and then the label is wrong",
    "XYMasking": "the masked stripes can hide the tumour, and then the label is wrong",
    "RandomCrop": "a crop can cut the tumour out, and then the label is wrong",
    "RandomSizedCrop": "a crop can cut the tumour out, and then the label is wrong",
    "RandomResizedCrop": "a crop can cut the tumour out, and then the label is wrong",
    "CenterCrop": "a crop can cut the tumour out, and then the label is wrong",
    "RandomCropFromBorders": "a crop can cut the tumour out, and then the label is wrong",
}

#: The largest rotation (degrees) a head plausibly has in a scanner, with room to spare.
_MAX_ROTATION = 30.0

#: The albumentations steps that rotate, and the attribute that holds their rotation range.
_ROTATING = {"Affine": "rotate", "Rotate": "limit", "SafeRotate": "limit",
             "ShiftScaleRotate": "rotate_limit"}  # fmt: skip


def _steps(pipeline) -> list:
    """Every transform inside an albumentations pipeline, nested ones (OneOf, ...) included."""
    found, todo = [], list(getattr(pipeline, "transforms", []))
    while todo:
        step = todo.pop(0)
        found.append(step)
        todo.extend(getattr(step, "transforms", []))
    return found


def _rotation(step) -> float:
    """The largest rotation, in degrees, an albumentations step can make (0 if it rotates not)."""
    attribute = _ROTATING.get(type(step).__name__)
    value = getattr(step, attribute, None) if attribute else None
    if value is None:
        return 0.0
    return float(np.max(np.abs(np.atleast_1d(np.asarray(value, dtype=np.float64)))))


def _names(code) -> set[str]:
    """The global and attribute names a function's code uses, nested functions included."""
    if code is None:
        return set()
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _names(const)
    return names


def _test_slice() -> np.ndarray:
    """A fresh 40 x 48 uint8 slice: a bright disc off centre on a dark, noisy background."""
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[:40, :48]
    disc = (rows - 14) ** 2 + (cols - 30) ** 2 < 64
    image = 40 + 150 * disc + rng.integers(0, 20, (40, 48))
    return image.astype(np.uint8)


def _apply(pipeline, what: str) -> np.ndarray:
    """Run a pipeline the albumentations way and return its image, failing plainly if it can't."""
    if not callable(pipeline):
        fail(
            f"{what} is a {type(pipeline).__name__}, not a pipeline.",
            "Return one albumentations Compose, which you call with image=...",
        )
    out = pipeline(image=_test_slice())
    if not isinstance(out, dict) or "image" not in out:
        fail(
            f"calling {what} with image=... did not return albumentations' dict.",
            "Return an albumentations Compose.",
        )
    return out["image"]


def _expect_finished(got: np.ndarray, what: str, size: int) -> None:
    """The resize and the normalisation happened: (size, size) float32, normalised values."""
    expect(
        isinstance(got, np.ndarray),
        f"{what} gave a {type(got).__name__}, not a NumPy array.",
        "Keep to albumentations' steps; a tensor conversion is the DataLoader's business.",
    )
    expect(
        got.shape == (size, size),
        f"{what} gave shape {got.shape} for image_size={size}; expected ({size}, {size}).",
        "The last steps are those of the evaluation pipeline: resize to the asked size, then "
        "normalise.",
    )
    expect(
        got.dtype == np.float32,
        f"{what} gave {got.dtype} values: the normalisation is missing.",
        "End with the same normalisation as the evaluation pipeline (the course's MEAN and STD).",
    )
    if float(got.min()) >= 0.0 and float(got.max()) <= 1.0:
        fail(
            f"{what} gave values in [0, 1]: scaled by 255, but not normalised with MEAN and STD.",
            "Normalise with the course's constants, as eval_transform does (lesson 03).",
        )


@check(
    "make_pipeline",
    hint="Two pipelines that end alike; only the training one augments, and only it needs the "
    "seed. Read the lesson's cell on train only, and seeded.",
)
def check_make_pipeline(make_pipeline) -> None:
    """Check ``make_pipeline(split, image_size, seed) -> A.Compose`` (train only, seeded)."""
    expect_own_code(make_pipeline, "train_transform", exercise="make_pipeline")
    size = 32
    reference = _transforms.eval_transform(size)(image=_test_slice())["image"]
    for split in ("val", "test"):
        pipeline = make_pipeline(split, size, 0)
        first = _apply(pipeline, f"make_pipeline({split!r}, ...)")
        _expect_finished(first, f"the {split} pipeline", size)
        again = [_apply(pipeline, f"make_pipeline({split!r}, ...)") for _ in range(4)]
        if any(not np.array_equal(first, other) for other in again):
            fail(
                f"the {split} pipeline gives a different image at every call: it augments.",
                "Validation and test images must look like real scans and give the same "
                "number every time: resize and normalise them, nothing else.",
            )
        expect(
            np.allclose(first, reference, atol=1e-4),
            f"the {split} pipeline changes the image beyond resizing and normalising it.",
            "Validation and test images are only resized and normalised, as eval_transform does.",
        )
    size = 24
    pipeline = make_pipeline("train", size, 3)
    first = [_apply(pipeline, "make_pipeline('train', ...)") for _ in range(8)]
    _expect_finished(first[0], "the train pipeline", size)
    plain = _transforms.eval_transform(size)(image=_test_slice())["image"]
    if all(np.allclose(image, plain, atol=1e-4) for image in first):
        fail(
            "the train pipeline gave the same, unaugmented image 8 times: it does not augment.",
            "Put a few of the safe augmentations of exercise 2 before the resize.",
        )
    for step in _steps(pipeline):
        name = type(step).__name__
        if name in _HARMFUL:
            fail(f"the train pipeline holds {name}: {_HARMFUL[name]}.", "Keep to safe steps.")
        if _rotation(step) > _MAX_ROTATION:
            fail(
                f"the train pipeline's {name} rotates by up to {_rotation(step):.0f} degrees: "
                "far beyond how a head lies in a scanner, up to upside down.",
                "A few degrees, as patients' heads are never quite straight.",
            )
    again = make_pipeline("train", size, 3)
    second = [_apply(again, "make_pipeline('train', ...)") for _ in range(8)]
    if any(not np.array_equal(a, b) for a, b in zip(first, second, strict=True)):
        names = _names(getattr(make_pipeline, "__code__", None))
        if "manual_seed" in names or {"random", "seed"} <= names:
            fail(
                "two train pipelines built with the same seed gave different images: a global "
                "seed (NumPy's, Python's or torch's) does not reach albumentations.",
                "albumentations draws from the pipeline's own generator: give the seed to the "
                "pipeline itself (the lesson's cell on seeding shows where).",
            )
        fail(
            "two train pipelines built with the same seed gave different images: the seed does "
            "not reach the pipeline.",
            "albumentations draws from the pipeline's own generator: give the seed to the "
            "pipeline itself.",
        )
    other = make_pipeline("train", size, 4)
    third = [_apply(other, "make_pipeline('train', ...)") for _ in range(8)]
    expect(
        any(not np.array_equal(a, b) for a, b in zip(first, third, strict=True)),
        "train pipelines with seeds 3 and 4 gave the same images: the seed argument is ignored.",
        "Use the `seed` the function is given, not a fixed number.",
    )
    try:
        unknown = make_pipeline("validation", size, 0)
    except ValueError:
        return
    fail(
        f"make_pipeline('validation', ...) returned a {type(unknown).__name__} instead of "
        "raising ValueError.",
        "The splits are called 'train', 'val' and 'test'. A misspelt name must stop the "
        "program, not silently get a pipeline (possibly the augmenting one).",
    )


# --------------------------------------------------------------------------- the DataModule


class _Loader:
    """A stand-in DataLoader: fixed batches, and a dataset whose labels are not what it delivers.

    A weighted sampler (lesson 06) makes a loader deliver other counts than its dataset holds, so
    counting ``loader.dataset`` is not counting what the model sees.
    """

    class _Dataset:
        def __init__(self, labels):
            self.labels = np.asarray(labels, dtype=np.int64)

        def __len__(self) -> int:
            return len(self.labels)

    def __init__(self, label_batches, dataset_labels):
        self.batches = [
            (torch.zeros(len(b), 1, 4, 4), torch.tensor(b, dtype=torch.int64))
            for b in label_batches
        ]
        self.dataset = self._Dataset(dataset_labels)
        self.batch_size = len(label_batches[0])

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _counts(got, what: str, num_classes: int) -> np.ndarray:
    if got is None:
        fail(f"{what} returned None.", "Did you forget to `return` the counts?")
    if torch.is_tensor(got):
        got = got.detach().cpu().numpy()
    array = np.asarray(got)
    expect(
        array.ndim == 1 and np.issubdtype(array.dtype, np.number),
        f"{what} returned a {type(got).__name__} that is not one row of numbers.",
        "Return one count per class, in label order.",
    )
    expect(
        np.issubdtype(array.dtype, np.integer),
        f"{what} returned {array.dtype} counts; counts are whole numbers.",
        "Keep an integer dtype (int64).",
    )
    return array


@check(
    "count_labels",
    hint="Go through the loader batch by batch, as a training loop does, and add up the labels "
    "of each class.",
)
def check_count_labels(count_labels) -> None:
    """Check ``count_labels(loader, num_classes) -> int64 array (num_classes,)``."""
    batches = [[0, 2, 2, 1], [1, 0, 2, 0], [2, 0]]  # class 3 never comes
    loader = _Loader(batches, dataset_labels=[0, 1, 2, 3] * 3)
    got = _counts(count_labels(loader, 4), "count_labels(loader, 4)", 4)
    expected = np.array([4, 2, 4, 0])
    if got.shape == (3,) and np.array_equal(got, expected[:3]):
        fail(
            "count_labels(loader, 4) returned 3 counts: the class that never came is missing.",
            "A class the loader never delivers still needs its count, 0: the result has "
            "num_classes entries whatever the labels are.",
        )
    expect(
        got.shape == (4,),
        f"count_labels(loader, 4) returned {got.shape[0]} counts; expected one per class, 4.",
        "One entry per class, in label order.",
    )
    if np.array_equal(got, [3, 3, 3, 3]):
        fail(
            "count_labels counted the labels of loader.dataset, not the batches it delivers.",
            "A sampler can deliver other counts than the dataset holds (lesson 06 draws by "
            "class weight): count what comes out of the loader.",
        )
    if np.array_equal(got, [1, 1, 2, 0]) or np.array_equal(got, [2, 0, 0, 0]):
        fail(
            "count_labels counted one batch only.",
            "Add up the labels of every batch of the epoch.",
        )
    if np.array_equal(got, [3, 2, 3, 0]):
        fail(
            "count_labels counted each class at most once per batch: a batch with two images "
            "of one class added 1, not 2.",
            "An indexed increment with repeated indices adds only once; count each class "
            "within a batch, or add the labels one by one.",
        )
    if int(got.sum()) == len(batches):
        fail(
            "count_labels counts batches, not images: its counts add up to the number of batches.",
            "Each label in a batch is one image.",
        )
    expect(
        np.array_equal(got, expected),
        f"count_labels(loader, 4) returned {[int(v) for v in got]} for batches of labels "
        f"{batches}.",
        "Count each class in each batch, then add the batches up.",
    )
    wider = _counts(count_labels(_Loader(batches, [0, 1]), 6), "count_labels(loader, 6)", 6)
    expect(
        wider.shape == (6,),
        f"count_labels(loader, 6) returned {wider.shape[0]} counts; expected 6.",
        "Use num_classes, not the four classes of this course.",
    )
    expect(
        np.array_equal(wider, [4, 2, 4, 0, 0, 0]),
        f"count_labels(loader, 6) returned {[int(v) for v in wider]} for the same batches.",
        "Count the same way whatever num_classes is.",
    )


def _index(patients: list[str], start: int = 0) -> pd.DataFrame:
    """A tiny index: two slices per patient, labels 0/1, a fresh default row index."""
    ids = [p for p in patients for _ in range(2)]
    return pd.DataFrame(
        {"patient_id": ids, "label": [i % 2 for i in range(len(ids))]},
        index=pd.RangeIndex(start, start + len(ids)),
    )


class _Splits:
    """A stand-in for a set-up BrainMRIDataModule: only the three split indexes."""

    def __init__(self, train, val, test):
        self.train_index, self.val_index, self.test_index = train, val, test


def _id_set(got, what: str) -> set:
    if isinstance(got, bool | np.bool_) or got is None:
        fail(
            f"{what} returned {got!r}, not the patient ids.",
            "Return the set of ids (an empty set when no patient crosses).",
        )
    if isinstance(got, str):
        fail(f"{what} returned one string, not a set of ids.", "Return a set.")
    try:
        return {g for g in got}
    except TypeError:
        fail(f"{what} returned a {type(got).__name__}, not a set of ids.", "Return a set.")


@check(
    "patients_in_two_splits",
    hint="Each split's index has a column of patient ids; compare the splits two at a time.",
)
def check_patients_in_two_splits(patients_in_two_splits) -> None:
    """Check ``patients_in_two_splits(dm) -> set`` of patient ids found in more than one split."""
    train = _index(["P01", "P02", "P03", "P04"])
    val, test = _index(["P05", "P06"]), _index(["P07", "P08"])  # row labels overlap train's
    got = _id_set(patients_in_two_splits(_Splits(train, val, test)), "patients_in_two_splits")
    if got and all(isinstance(g, int | np.integer) for g in got):
        fail(
            f"patients_in_two_splits found {len(got)} shared 'patients' in three disjoint "
            "splits: it compares the row labels (the DataFrame's index), not the patient ids.",
            "The row labels of separate DataFrames can repeat; what must not repeat across "
            "splits is the patient_id column.",
        )
    if got >= {"P01", "P05", "P07"}:
        fail(
            "patients_in_two_splits returned every patient, not those in two splits.",
            "Keep only the ids that two splits have in common.",
        )
    expect(
        got == set(),
        f"patients_in_two_splits found {sorted(map(str, got))} in three disjoint splits.",
        "Only ids present in two (or three) splits count.",
    )
    cases = [
        ("train and validation", ["P01", "P02", "P03"], ["P03", "P05"], ["P07"], {"P03"}),
        ("validation and test", ["P01", "P02"], ["P05", "P06"], ["P06", "P07"], {"P06"}),
        ("train and test", ["P01", "P02"], ["P05"], ["P02", "P07"], {"P02"}),
    ]
    for where, a, b, c, expected in cases:
        dm = _Splits(_index(a), _index(b, 100), _index(c, 200))
        got = _id_set(patients_in_two_splits(dm), "patients_in_two_splits")
        if not got:
            fail(
                f"patients_in_two_splits missed a patient in both {where}.",
                "Three splits make three pairs; a patient in all three is rare, one in two is "
                "the leak to find.",
            )
        expect(
            {str(g) for g in got} == expected,
            f"with a patient in both {where}, patients_in_two_splits returned "
            f"{sorted(map(str, got))}.",
            "Check every pair of splits, and return only the ids they share.",
        )


# --------------------------------------------------------------------------- images per second

#: Timings of one epoch: a slow warm-up batch, three full batches and a small last one.
_SIZES, _SECONDS = (32, 32, 32, 32, 8), (0.9, 0.1, 0.2, 0.1, 0.04)


def _rate(sizes, seconds) -> float:
    return float(sum(sizes)) / float(sum(seconds))


def _typical_mistakes(sizes, seconds, warmup: int) -> list[tuple[float, str, str]]:
    """What each typical wrong answer returns on these timings, what it is, and a hint."""
    after = list(zip(sizes[warmup:], seconds[warmup:], strict=True))
    everything = list(zip(sizes, seconds, strict=True))
    return [
        (
            _rate(sizes, seconds),
            "the warm-up batches were counted (nothing was skipped)",
            "The first batches pay for starting workers and filling caches: leave out the "
            "first `warmup` of them.",
        ),
        (
            _rate(sizes[warmup + 1 :], seconds[warmup + 1 :]),
            "one batch too many was skipped (the first timed batch was left out too)",
            "Skip exactly `warmup` batches: with warmup=1 only the first one goes. Mind where "
            "a slice starts counting.",
        ),
        (
            _rate(sizes[:-warmup], seconds[:-warmup]) if warmup else float("nan"),
            "the last batches were dropped instead of the first ones",
            "The warm-up happens at the start of the epoch.",
        ),
        (
            float(np.mean([s / t for s, t in after])),
            "that is the mean of the per-batch rates",
            "A small last batch would count as much as a full one: divide the total images by "
            "the total time instead.",
        ),
        (
            float(np.mean([s / t for s, t in everything])),
            "that is the mean of the per-batch rates, warm-up included",
            "Leave out the warm-up batches, then divide the total images by the total time.",
        ),
        (
            float(sum(seconds[warmup:])) / float(sum(sizes[warmup:])),
            "that is seconds per image",
            "Images per second: the images on top, the seconds below.",
        ),
        (
            _rate(sizes[warmup:], seconds),
            "the warm-up was left out of the images but not of the seconds",
            "Skip the same batches in both lists.",
        ),
        (
            _rate(sizes, seconds[warmup:]),
            "the warm-up was left out of the seconds but not of the images",
            "Skip the same batches in both lists.",
        ),
        (
            float(sum(sizes[warmup:]) // sum(seconds[warmup:])),
            "that is rounded down (floor division)",
            "Use true division: a rate need not be a whole number.",
        ),
    ]


def _expect_rate(images_per_second, sizes, seconds, warmup: int) -> None:
    call = f"images_per_second({list(sizes)}, {list(seconds)}, warmup={warmup})"
    sizes_in, seconds_in = list(sizes), list(seconds)
    got = images_per_second(sizes_in, seconds_in, warmup=warmup)
    expect(
        sizes_in == list(sizes) and seconds_in == list(seconds),
        "images_per_second changed the lists it was given.",
        "Read the timings without removing anything from them (slicing makes new lists).",
    )
    if got is None:
        fail("images_per_second returned None.", "Did you forget to `return` the result?")
    got = float(got)
    expected = _rate(sizes[warmup:], seconds[warmup:])
    if np.isclose(got, expected, rtol=1e-6):
        return
    for value, problem, hint in _typical_mistakes(sizes, seconds, warmup):
        if np.isfinite(value) and np.isclose(got, value, rtol=1e-6):
            fail(f"{call} returned {got:.2f}: {problem}.", hint)
    fail(
        f"{call} returned {got:.2f}, which is not the images of the timed batches divided by "
        "their seconds.",
        "Leave out the first `warmup` batches of both lists, then divide the total images by "
        "the total seconds.",
    )


@check(
    "images_per_second",
    hint="Which batches are left once the warm-up goes? Then one division of two totals.",
)
def check_images_per_second(images_per_second) -> None:
    """Check ``images_per_second(batch_sizes, seconds, warmup=1) -> float``."""
    _expect_rate(images_per_second, _SIZES, _SECONDS, 1)
    for warmup in (2, 0):
        got = float(images_per_second(list(_SIZES), list(_SECONDS), warmup=warmup))
        if np.isclose(got, _rate(_SIZES[1:], _SECONDS[1:]), rtol=1e-6):
            fail(
                f"with warmup={warmup}, images_per_second still skipped one batch: the `warmup` "
                "argument is ignored.",
                "Use the argument, not a fixed number.",
            )
        _expect_rate(images_per_second, _SIZES, _SECONDS, warmup)
    for sizes, seconds, warmup in (([16], [0.2], 1), ([16, 16], [0.3, 0.1], 3)):
        call = f"images_per_second({sizes}, {seconds}, warmup={warmup})"
        try:
            got = images_per_second(list(sizes), list(seconds), warmup=warmup)
        except ValueError:
            continue
        except ZeroDivisionError:
            fail(
                f"{call} raised ZeroDivisionError: nothing is left to time after the warm-up.",
                "Check that a batch is left before you divide, and raise ValueError with a "
                "sentence that says so.",
            )
        fail(
            f"{call} returned {got!r} instead of raising ValueError: nothing is left to time "
            "after the warm-up.",
            "When the warm-up takes every batch, there is no rate to give: raise ValueError.",
        )
