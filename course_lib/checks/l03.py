"""Checks for the lesson 03 exercises: a flip that moves the mask too, safe augmentations, images/s.

Every check builds its own small inputs (fresh copies for each call, so an answer that modifies
its input cannot spoil the next test) and compares the student's answer with the right one.
"""

from __future__ import annotations

import numpy as np

from course_lib.checks import check, expect, expect_array, fail

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


@check(
    "flip_pair",
    hint="np.fliplr(image) and np.fliplr(mask) (or array[:, ::-1]); flip BOTH, return copies.",
)
def check_flip_pair(flip_pair) -> None:
    """Check ``flip_pair(image, mask) -> (image, mask)`` mirrored left to right, together."""
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    mask = np.zeros((3, 4), dtype=np.uint8)
    mask[0, 0] = 1  # a tumour in the top-left corner
    out = flip_pair(image.copy(), mask.copy())
    if not isinstance(out, tuple | list) or len(out) != 2:
        fail(
            f"flip_pair returned {type(out).__name__}; expected a pair (image, mask).",
            "End with `return flipped_image, flipped_mask`.",
        )
    got_image, got_mask = out
    for what, got, ref in (("image", got_image, image), ("mask", got_mask, mask)):
        if isinstance(got, np.ndarray) and got.shape == ref.shape:
            if np.array_equal(got, ref[::-1]):
                fail(
                    f"the {what} was flipped top to bottom.",
                    "Left-right means reversing the columns (axis 1): np.fliplr or a[:, ::-1]. "
                    "A top-bottom flip makes an upside-down head.",
                )
            if np.array_equal(got, ref) and not np.array_equal(ref, ref[:, ::-1]):
                fail(
                    f"the {what} came back unflipped.",
                    "Flip the image AND its mask: a mask that stays put no longer outlines the "
                    "tumour in the flipped image.",
                )
        expect_array(
            got, ref[:, ::-1], what=f"the flipped {what}", hint="Reverse the columns: a[:, ::-1]."
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
        "Return copies: np.fliplr(image).copy() (albumentations and torch expect their own array).",
    )


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
    try:
        chosen = {str(name) for name in got}
    except TypeError:
        fail(f"choose_safe_augmentations returned {got!r}, not a set of names.", "Return a set.")
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


@check(
    "images_per_second",
    hint="Drop the first `warmup` batches, then divide the images left by the seconds left: "
    "sum(batch_sizes[warmup:]) / sum(seconds[warmup:]).",
)
def check_images_per_second(images_per_second) -> None:
    """Check ``images_per_second(batch_sizes, seconds, warmup=1) -> float``."""
    sizes, seconds = [32, 32, 32, 8], [1.5, 0.1, 0.1, 0.05]
    got = images_per_second(list(sizes), list(seconds), warmup=1)
    if got is None:
        fail("images_per_second returned None.", "Did you forget to `return` the result?")
    got = float(got)
    expected = 72 / 0.25
    if np.isclose(got, sum(sizes) / sum(seconds)):
        fail(
            f"images_per_second returned {got:.1f}: the warm-up batch was counted.",
            "The first batch pays for starting workers and filling caches: skip the first "
            "`warmup` batches, sizes[warmup:] and seconds[warmup:].",
        )
    if np.isclose(got, np.mean([s / t for s, t in zip(sizes[1:], seconds[1:], strict=True)])):
        fail(
            f"images_per_second returned {got:.1f}, the mean of the per-batch rates.",
            "A small last batch would count as much as a full one: divide the total images by "
            "the total time instead.",
        )
    if np.isclose(got, 1 / expected):
        fail(
            f"images_per_second returned {got:.5f}: that is seconds per image.",
            "Images per second = images / seconds, not seconds / images.",
        )
    expect(
        np.isclose(got, expected),
        f"images_per_second([32, 32, 32, 8], [1.5, 0.1, 0.1, 0.05]) returned {got:.2f}; "
        f"expected {expected:.0f} (72 images in 0.25 s after one warm-up batch).",
    )
    got = float(images_per_second([10, 10], [0.5, 0.5], warmup=0))
    expect(
        np.isclose(got, 20.0),
        f"images_per_second([10, 10], [0.5, 0.5], warmup=0) returned {got:.2f}; expected 20.",
        "With warmup=0 every batch counts.",
    )
    try:
        images_per_second([16], [0.2], warmup=1)
    except ValueError:
        return
    fail(
        "images_per_second([16], [0.2], warmup=1) did not raise ValueError: nothing is left to "
        "time after the warm-up.",
        "Raise ValueError('no batch left after the warm-up') when warmup >= len(batch_sizes).",
    )
