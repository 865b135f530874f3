"""Checks for the lesson 01 exercises: contrasts, planes, class counts, sites, splits, hashes.

Every check builds its own small inputs (fresh copies for each call, so an answer that modifies
its input cannot spoil the next test) and compares the student's answer with the right one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from course_lib.checks import check, expect, expect_array, expect_own_code, fail, names_used
from course_lib.config import CLASS_NAMES

# --------------------------------------------------------------------------- spin_echo_signal


def _spin_echo(pd_, t1, t2, tr, te):
    return pd_ * (1 - np.exp(-tr / t1)) * np.exp(-te / t2)


def _as_float_array(got, what: str) -> np.ndarray:
    if got is None:
        fail(f"{what} returned None.", "Did you forget to `return` the result?")
    try:
        return np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{what} returned a {type(got).__name__}, not a number or an array of numbers.")


@check(
    "spin_echo_signal",
    hint="Three factors multiplied: how much water, how much it recovered during TR, how much "
    "it faded by TE.",
)
def check_spin_echo_signal(spin_echo_signal) -> None:
    """Check ``spin_echo_signal(pd, t1, t2, tr, te)`` against the spin-echo equation."""
    expect_own_code(
        spin_echo_signal,
        "spin_echo",
        "inversion_recovery",
        "signal_intensities",
        exercise="spin_echo_signal",
    )
    # white matter, one tissue, T1-weighted timing: one number in, one number out
    pd_, t1, t2, tr, te = 0.69, 790.0, 80.0, 500.0, 10.0
    got = float(_as_float_array(spin_echo_signal(pd_, t1, t2, tr, te), "spin_echo_signal"))
    right = _spin_echo(pd_, t1, t2, tr, te)
    mistakes = {
        "you left out the '1 -': exp(-TR/T1) is the share that has NOT recovered yet, so a "
        "short-T1 tissue would come out dark": pd_ * np.exp(-tr / t1) * np.exp(-te / t2),
        "the echo factor grows with TE: the signal must fade as the echo time gets longer, "
        "so the exponent needs a minus sign": pd_ * (1 - np.exp(-tr / t1)) * np.exp(te / t2),
        "TR and TE are swapped: T1 recovery happens during the repetition time TR, T2 decay "
        "until the echo time TE": pd_ * (1 - np.exp(-te / t1)) * np.exp(-tr / t2),
        "the proton density is missing: a tissue with less water gives less signal": (
            (1 - np.exp(-tr / t1)) * np.exp(-te / t2)
        ),
        "each exponent is inverted (T1/TR and T2/TE): the exponent is a time divided by the "
        "tissue's relaxation time": pd_ * (1 - np.exp(-t1 / tr)) * np.exp(-t2 / te),
    }
    if not np.isclose(got, right, rtol=1e-4):
        for problem, value in mistakes.items():
            if np.isclose(got, value, rtol=1e-4):
                fail(problem, "Read the equation above the exercise again, factor by factor.")
        fail(
            f"spin_echo_signal(pd=0.69, t1=790, t2=80, tr=500, te=10) gave {got:.4f}, which is "
            "not the spin-echo signal of white matter.",
            "Three factors multiplied; each of the two exponents is minus a sequence time "
            "divided by a relaxation time.",
        )
    tissues = np.array([[1.0, 4000.0, 2000.0], [0.69, 790.0, 80.0], [0.7, 260.0, 150.0]])
    for tr, te in ((500.0, 10.0), (4000.0, 100.0)):
        pds, t1s, t2s = tissues[:, 0].copy(), tissues[:, 1].copy(), tissues[:, 2].copy()
        got = spin_echo_signal(pds, t1s, t2s, tr, te)
        expect(
            np.array_equal(pds, tissues[:, 0]) and np.array_equal(t1s, tissues[:, 1]),
            "spin_echo_signal changed the arrays it was given.",
            "Compute a new array; do not assign into the inputs.",
        )
        expect_array(
            got,
            _spin_echo(tissues[:, 0], tissues[:, 1], tissues[:, 2], tr, te),
            what=f"spin_echo_signal on arrays of three tissues (TR={tr:.0f}, TE={te:.0f})",
            hint="It must work on NumPy arrays too: use NumPy's exponential, which works "
            "element by element, not the math module's.",
            atol=1e-6,
        )


# --------------------------------------------------------------------------- extract_plane


@check(
    "extract_plane",
    hint="Each plane fixes one of the three axes (D, H, W); index that axis and keep the others.",
)
def check_extract_plane(extract_plane) -> None:
    """Check ``extract_plane(volume, index, plane) -> 2D array`` for the three planes."""
    d, h, w = np.meshgrid(np.arange(3), np.arange(4), np.arange(5), indexing="ij")
    volume = (100 * d + 10 * h + w).astype(np.int64)  # the value says where a voxel is
    cases = {
        "coronal": (2, volume[2], "A coronal slice fixes the first axis, D (front to back)."),
        "axial": (1, volume[:, 1, :], "An axial slice fixes the second axis, H (top to bottom)."),
        "sagittal": (
            3,
            volume[:, :, 3].T,
            "A sagittal slice fixes the third axis, W; its rows must then run from top to "
            "bottom, so turn the (D, H) image into an (H, D) one.",
        ),
    }
    for plane, (index, expected, hint) in cases.items():
        scratch = volume.copy()
        got = extract_plane(scratch, index, plane)
        if isinstance(got, np.ndarray) and got.shape == expected.T.shape != expected.shape:
            fail(
                f"extract_plane(volume, {index}, {plane!r}) has shape {got.shape}; expected "
                f"{expected.shape}: the image is transposed.",
                hint,
            )
        expect_array(got, expected, what=f"extract_plane(volume, {index}, {plane!r})", hint=hint)
        expect(
            np.array_equal(scratch, volume),
            "extract_plane changed the volume it was given.",
            "Only read from the volume.",
        )


# --------------------------------------------------------------------------- count_per_class


def _index(
    counts: dict[str, int], slices_per_patient: int = 3, *, keep_labels: bool = False
) -> pd.DataFrame:
    """A small fake index: ``counts`` images per class, grouped into patients, shuffled rows.

    With ``keep_labels`` the shuffled rows keep their old labels, so that the index's labels are
    not the positions 0, 1, 2, ... (as in any filtered or shuffled index).
    """
    rows = []
    patient = 0
    for label, name in enumerate(CLASS_NAMES):
        for i in range(counts.get(name, 0)):
            if i % slices_per_patient == 0:
                patient += 1
            rows.append(
                {
                    "path": f"/data/{name}/{i:03d}.png",
                    "label": label,
                    "class_name": name,
                    "patient_id": f"P{patient:03d}",
                }
            )
    order = np.random.default_rng(7).permutation(len(rows))
    shuffled = pd.DataFrame(rows).iloc[order]
    return shuffled if keep_labels else shuffled.reset_index(drop=True)


@check(
    "count_per_class",
    hint="Count the rows of each class name, then put the classes in label order (CLASS_NAMES), "
    "with 0 for a class that is missing.",
)
def check_count_per_class(count_per_class) -> None:
    """Check ``count_per_class(index) -> pd.Series`` indexed by ``CLASS_NAMES``, zeros kept."""
    counts = {"glioma": 5, "meningioma": 2, "notumor": 7, "pituitary": 3}
    got = count_per_class(_index(counts))
    expect(
        isinstance(got, pd.Series),
        f"count_per_class returned a {type(got).__name__}; expected a pandas Series.",
        "pandas has a method that counts the values of a column and returns a Series.",
    )
    expect(
        sorted(map(str, got.index)) == sorted(CLASS_NAMES),
        f"the result is indexed by {list(got.index)}; expected the class names {CLASS_NAMES}.",
        "Count the 'class_name' column, not the labels.",
    )
    expect(
        {str(k): int(v) for k, v in got.items()} == counts,
        f"counted { ({str(k): int(v) for k, v in got.items()}) }; expected one count per image.",
        "Each row of the index is one image: count rows per class name.",
    )
    expect(
        tuple(got.index) == CLASS_NAMES,
        f"the classes come in the order {list(got.index)}; expected label order {CLASS_NAMES}.",
        "Counting sorts by how often a value occurs; put the result in the order of "
        "CLASS_NAMES afterwards.",
    )
    missing = count_per_class(_index({"glioma": 4, "notumor": 2}))
    values = [int(v) if pd.notna(v) else None for v in missing.to_numpy()]
    expect(
        tuple(missing.index) == CLASS_NAMES and values == [4, 0, 2, 0],
        f"for an index without meningioma and pituitary images you returned "
        f"{dict(zip(map(str, missing.index), values, strict=True))}; expected 0 for the absent "
        "classes.",
        "A class with no image must still appear, with the count 0 (not NaN): the method "
        "that reorders a Series by a list of labels can fill the gaps with a value.",
    )


# --------------------------------------------------------------------------- brain_stats_per_site


def _site_data():
    """Six 6x6 images from two sites, brain masks of different sizes, brain values per image."""
    rng = np.random.default_rng(1)
    images = rng.uniform(0.0, 0.2, size=(6, 6, 6)).astype(np.float32)  # background
    masks = np.zeros((6, 6, 6), dtype=bool)
    boxes = [(1, 3, 1, 3), (1, 5, 1, 4), (0, 6, 0, 6), (2, 4, 2, 5), (1, 5, 1, 5), (1, 4, 1, 3)]
    for i, (r0, r1, c0, c1) in enumerate(boxes):
        masks[i, r0:r1, c0:c1] = True
    sites = np.array(["site_A", "site_B", "site_A", "site_B", "site_B", "site_A"])
    centre = {"site_A": 0.6, "site_B": 0.3}
    offsets = [0.0, 0.05, -0.15, -0.08, 0.1, 0.12]  # each image's own brightness
    spreads = [0.02, 0.05, 0.01, 0.03, 0.04, 0.06]  # and its own contrast
    for i, site in enumerate(sites):
        n = int(masks[i].sum())
        pattern = np.linspace(-1.0, 1.0, n).astype(np.float32)
        images[i][masks[i]] = centre[site] + offsets[i] + spreads[i] * pattern
    return images, masks, sites


_SITES = ("site_A", "site_B")


@check(
    "brain_stats_per_site",
    hint="For each site, gather the brain pixels of all of its images into one set, then take "
    "their mean and standard deviation.",
)
def check_brain_stats_per_site(brain_stats_per_site) -> None:
    """Check ``brain_stats_per_site(images, masks, sites) -> DataFrame`` (mean, std per site)."""
    images, masks, sites = _site_data()
    before = images.copy()
    got = brain_stats_per_site(images, masks, sites)
    expect(
        np.array_equal(images, before),
        "brain_stats_per_site changed the images it was given.",
        "Read the pixels; do not assign into the arrays.",
    )
    expect(
        isinstance(got, pd.DataFrame),
        f"brain_stats_per_site returned a {type(got).__name__}; expected a pandas DataFrame.",
        "Build a DataFrame with one row per site and the columns 'mean' and 'std'.",
    )
    expect(
        sorted(map(str, got.index)) == list(_SITES),
        f"the rows are {list(map(str, got.index))}; expected one row per site: {list(_SITES)}.",
        "One row per distinct site name, with the site as the row label.",
    )
    expect(
        {"mean", "std"} <= set(got.columns),
        f"the columns are {list(got.columns)}; expected 'mean' and 'std'.",
        "Name the columns 'mean' and 'std'.",
    )
    got = got.sort_index()[["mean", "std"]].astype(float)
    means, spreads = got["mean"].to_numpy(), got["std"].to_numpy()
    pooled = {s: images[sites == s][masks[sites == s]].astype(np.float64) for s in _SITES}
    per_image = [images[i][masks[i]].astype(np.float64) for i in range(len(images))]

    def per_site(stat) -> np.ndarray:
        return np.array(
            [np.mean([stat(per_image[i]) for i in np.flatnonzero(sites == s)]) for s in _SITES]
        )

    whole = [float(images[sites == s].mean()) for s in _SITES]
    if np.allclose(means, whole, atol=1e-6):
        fail(
            "you averaged every pixel, background included; the background (air, noise) says "
            "nothing about how the scanner shows the brain.",
            "Keep only the pixels where the mask is True.",
        )
    if np.allclose(means, per_site(np.mean), atol=1e-6):
        fail(
            "the 'mean' column is the mean of the per-image means: each image counts the same, "
            "whatever the size of its brain. Every brain pixel of a site must count the same.",
            "Pool the brain pixels of all of a site's images first, then take one mean.",
        )
    expect_array(
        means,
        np.array([pooled[s].mean() for s in _SITES]),
        what="the 'mean' column",
        hint="Average the brain pixels (mask True) of all images of each site together.",
        atol=1e-5,
    )
    if any(np.allclose(spreads, per_site(lambda x, d=d: x.std(ddof=d)), atol=1e-6) for d in (0, 1)):
        fail(
            "the 'std' column is the mean of the per-image standard deviations: it misses how "
            "much the images of a site differ from each other in brightness.",
            "Take one standard deviation of all of a site's brain pixels pooled together.",
        )
    image_means = [
        np.array([per_image[i].mean() for i in np.flatnonzero(sites == s)]) for s in _SITES
    ]
    if any(np.allclose(spreads, [m.std(ddof=d) for m in image_means], atol=1e-6) for d in (0, 1)):
        fail(
            "the 'std' column is the standard deviation of the image means: it leaves out the "
            "spread of the pixels inside each image.",
            "Take one standard deviation of all of a site's brain pixels pooled together.",
        )
    expect(
        any(
            np.allclose(spreads, [pooled[s].std(ddof=ddof) for s in _SITES], atol=1e-5)
            for ddof in (0, 1)
        ),
        "the 'std' column is not the standard deviation of each site's pooled brain pixels.",
        "Take one standard deviation of all of a site's brain pixels pooled together.",
    )


# --------------------------------------------------------------------------- patient_split


def _positions_as_labels_split(index: pd.DataFrame, test: pd.DataFrame) -> bool:
    """Whether ``test``'s labels, read as row positions, would have made a clean split."""
    labels = test.index.to_numpy()
    if labels.dtype.kind not in "iu" or len(labels) == 0:
        return False
    if labels.min() < 0 or labels.max() >= len(index):
        return False
    in_test = np.zeros(len(index), dtype=bool)
    in_test[labels] = True
    patients = index["patient_id"].to_numpy()
    return not set(patients[in_test]) & set(patients[~in_test])


@check(
    "patient_split",
    hint="Split the patients, not the rows, then take each patient's rows. A splitter from "
    "scikit-learn gives row positions, not index labels.",
)
def check_patient_split(patient_split) -> None:
    """Check ``patient_split(index, test_size, seed) -> (train, test)`` keeps patients whole."""
    # labels are shuffled, as in any index that was filtered or shuffled before
    index = _index(
        {"glioma": 12, "meningioma": 12, "notumor": 12, "pituitary": 12}, keep_labels=True
    )
    before = index.copy()
    result = patient_split(index, 0.25, 0)
    expect(
        isinstance(result, tuple) and len(result) == 2,
        f"patient_split returned a {type(result).__name__}; expected a (train, test) pair.",
        "End with `return train, test`.",
    )
    train, test = result
    expect(
        isinstance(train, pd.DataFrame) and isinstance(test, pd.DataFrame),
        "train and test must be DataFrames (rows of the index).",
        "Select rows of the index; do not return the positions themselves.",
    )
    expect(
        index.equals(before),
        "patient_split changed the index it was given.",
        "Select rows; do not add columns or drop rows in place.",
    )
    shared = sorted(set(train["patient_id"]) & set(test["patient_id"]))
    if shared and _positions_as_labels_split(index, test):
        fail(
            "you selected rows by their index labels with the row positions the splitter "
            "returns. This index's labels are not 0, 1, 2, ... in order (a filtered or shuffled "
            "index never is), so other rows came out and patients ended up on both sides.",
            "Positions need position-based selection; labels need label-based selection.",
        )
    expect(
        not shared,
        f"{len(shared)} patient(s) are on both sides, e.g. {shared[:3]}: their slices leak from "
        "train into test.",
        "Split the patients, not the rows: give the splitter each row's patient as its group.",
    )
    paths = list(train["path"]) + list(test["path"])
    expect(
        sorted(paths) == sorted(index["path"]),
        f"train and test hold {len(paths)} rows together; expected each of the {len(index)} "
        "rows exactly once.",
        "Every row goes to exactly one side.",
    )
    n_patients = index["patient_id"].nunique()
    share = test["patient_id"].nunique() / n_patients
    expect(
        0.15 <= share <= 0.35,
        f"test_size=0.25 put {share:.0%} of the patients in test; expected about 25%.",
        "test_size is the share of patients in test; pass it on.",
    )
    again = patient_split(index.copy(), 0.25, 0)[1]
    expect(
        sorted(again["path"]) == sorted(test["path"]),
        "two calls with the same seed gave different splits.",
        "Give the seed to whatever draws at random.",
    )
    others = [sorted(patient_split(index.copy(), 0.25, s)[1]["path"]) for s in (1, 2, 3)]
    expect(
        any(o != sorted(test["path"]) for o in others),
        "seeds 0, 1, 2 and 3 all gave the same split: the seed is ignored.",
        "Give the seed to whatever draws at random.",
    )


# --------------------------------------------------------------------------- average_hash


def _block_means(image: np.ndarray, hash_size: int) -> np.ndarray:
    height, width = image.shape
    blocks = image.astype(np.float64).reshape(
        hash_size, height // hash_size, hash_size, width // hash_size
    )
    return blocks.mean(axis=(1, 3))


def _hash_image(height: int, width: int, seed: int) -> np.ndarray:
    """A dark test image (mean far below 0.5) whose blocks differ.

    Every 4th pixel is redrawn, so that one pixel per block is not the block's mean.
    """
    rng = np.random.default_rng(seed)
    image = rng.uniform(0.0, 0.3, size=(height, width))
    image = image + np.linspace(0.0, 0.1, width)[None, :]
    image[::4, ::4] = rng.uniform(0.0, 0.4, size=image[::4, ::4].shape)
    return image.astype(np.float32)


def _expected_hash(image: np.ndarray, hash_size: int) -> list[np.ndarray]:
    """The right hashes: above the mean of the block means, or (an alternative) the median."""
    means = _block_means(image, hash_size)
    return [(means > means.mean()).ravel(), (means > np.median(means)).ravel()]


@check(
    "average_hash",
    hint="Shrink the image to hash_size x hash_size by averaging blocks of pixels, then mark "
    "each block that is brighter than the average.",
)
def check_average_hash(average_hash) -> None:
    """Check ``average_hash(image, hash_size) -> (hash_size**2,) bool`` by block means."""
    expect_own_code(
        average_hash,
        "perceptual_hashes",
        "find_duplicates",
        "leakage_report",
        exercise="average_hash",
    )
    expect(
        "imagehash" not in names_used(average_hash.__code__),
        "average_hash uses the imagehash package.",
        "The exercise is to write the hash yourself; the library's hashes are for comparing "
        "afterwards.",
    )
    image = _hash_image(16, 16, seed=3)
    before = image.copy()
    got = average_hash(image, 4)
    expect(
        np.array_equal(image, before),
        "average_hash changed the image it was given.",
        "Work on a copy, or only read from the image.",
    )
    if got is None:
        fail("average_hash returned None.", "Did you forget to `return` the result?")
    got = np.asarray(got)
    expect(
        got.shape != (4, 4),
        "average_hash(16x16 image, 4) has shape (4, 4); expected a flat (16,) array of bits.",
        "Flatten the grid of bits row by row at the end.",
    )
    expect(
        got.shape == (16,),
        f"average_hash(16x16 image, 4) has shape {got.shape}; expected (16,): one bit per block.",
        "hash_size x hash_size blocks, one bit each, flattened row by row.",
    )
    expect(
        got.dtype == bool,
        f"average_hash returned dtype {got.dtype}; expected bool (True for a bright block).",
        "A comparison gives booleans; keep them.",
    )
    right = _expected_hash(image, 4)
    if any(np.array_equal(got, r) for r in right):
        pass
    elif np.array_equal(got, (_block_means(image, 4) > 0.5).ravel()):
        fail(
            "you compared the blocks with a fixed value (0.5). This image is dark, so every bit "
            "is False; a brighter copy of it would get another hash.",
            "Compare each block with the image's own average brightness.",
        )
    elif any(
        np.array_equal(got, (image[::4, ::4] > m).ravel()) for m in (image.mean(), np.median(image))
    ):
        fail(
            "you kept one pixel per block (every 4th pixel) instead of the block's average: one "
            "noisy pixel then decides a bit.",
            "Average all the pixels of each block.",
        )
    else:
        wrong = image.astype(np.float64).reshape(4, 4, 4, 4).mean(axis=(2, 3))
        if np.array_equal(got, (wrong > wrong.mean()).ravel()):
            fail(
                "your blocks are not square patches of the image: reshaping (16, 16) into "
                "(4, 4, 4, 4) and averaging the last two axes mixes pixels from different rows.",
                "Split the rows into hash_size groups and the columns into hash_size groups; "
                "the axes of one block sit between them.",
            )
        fail(
            f"average_hash(16x16 image, 4) set {int(got.sum())} of 16 bits, not the right ones.",
            "Each bit says whether one block's average is above the average of all blocks.",
        )
    wide = _hash_image(16, 24, seed=4)
    got = np.asarray(average_hash(wide, 4))
    expect(
        got.shape == (16,) and any(np.array_equal(got, r) for r in _expected_hash(wide, 4)),
        "average_hash is wrong on a 16x24 image (height and width differ).",
        "A block is (height / hash_size) rows by (width / hash_size) columns.",
    )
    brighter = (wide * 0.7 + 0.2).astype(np.float32)
    expect(
        np.array_equal(np.asarray(average_hash(brighter, 4)), got),
        "a brighter, lower-contrast copy of an image got another hash.",
        "Compare the blocks with the image's own average, not with a fixed value.",
    )
    eight_bit = np.round(_hash_image(32, 32, seed=5) * 255).astype(np.uint8)
    got = np.asarray(average_hash(eight_bit, 8))
    expect(
        got.shape == (64,) and any(np.array_equal(got, r) for r in _expected_hash(eight_bit, 8)),
        "average_hash is wrong on a 32x32 uint8 image with hash_size 8.",
        "It must work for any hash_size and dtype: average in floating point.",
    )
