"""Checks for the lesson 01 exercises: class counts, planes, patient-level splits, sites.

Every check builds its own small inputs (fresh copies for each call, so an answer that modifies
its input cannot spoil the next test) and compares the student's answer with the right one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from course_lib.checks import check, expect, expect_array, fail
from course_lib.config import CLASS_NAMES


def _index(counts: dict[str, int], slices_per_patient: int = 3) -> pd.DataFrame:
    """A small fake index: ``counts`` images per class, grouped into patients, shuffled rows."""
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
    return pd.DataFrame(rows).iloc[order].reset_index(drop=True)


@check(
    "count_per_class",
    hint="index['class_name'].value_counts() counts them; .reindex(CLASS_NAMES, fill_value=0) "
    "puts them in label order with zeros for absent classes.",
)
def check_count_per_class(count_per_class) -> None:
    """Check ``count_per_class(index) -> pd.Series`` indexed by ``CLASS_NAMES``, zeros kept."""
    counts = {"glioma": 5, "meningioma": 2, "notumor": 7, "pituitary": 3}
    got = count_per_class(_index(counts))
    expect(
        isinstance(got, pd.Series),
        f"count_per_class returned a {type(got).__name__}; expected a pandas Series.",
        "value_counts() returns a Series.",
    )
    expect(
        sorted(map(str, got.index)) == sorted(CLASS_NAMES),
        f"the result is indexed by {list(got.index)}; expected the class names {CLASS_NAMES}.",
        "Count the 'class_name' column.",
    )
    expect(
        dict(got.astype(int)) == counts,
        f"counted {dict(got.astype(int))}; expected {counts}.",
        "Each row of the index is one image: count rows per class name.",
    )
    expect(
        tuple(got.index) == CLASS_NAMES,
        f"the classes come in the order {list(got.index)}; expected label order {CLASS_NAMES}.",
        "value_counts() sorts by count; .reindex(CLASS_NAMES) restores the label order.",
    )
    missing = count_per_class(_index({"glioma": 4, "notumor": 2}))
    expect(
        tuple(missing.index) == CLASS_NAMES and list(missing.astype(int)) == [4, 0, 2, 0],
        f"for an index without meningioma and pituitary images you returned {dict(missing)}; "
        "expected 0 for the absent classes.",
        "A class with no image must still appear, with 0: .reindex(CLASS_NAMES, fill_value=0).",
    )


@check(
    "extract_plane",
    hint="coronal: volume[index]; axial: volume[:, index, :]; sagittal: volume[:, :, index].T.",
)
def check_extract_plane(extract_plane) -> None:
    """Check ``extract_plane(volume, index, plane) -> 2D array`` for the three planes."""
    d, h, w = np.meshgrid(np.arange(3), np.arange(4), np.arange(5), indexing="ij")
    volume = (100 * d + 10 * h + w).astype(np.int64)  # the value says where a voxel is
    cases = {
        "coronal": (2, volume[2], "fix the first (front-to-back) axis: volume[index]"),
        "axial": (1, volume[:, 1, :], "fix the second (top-to-bottom) axis: volume[:, index, :]"),
        "sagittal": (
            3,
            volume[:, :, 3].T,
            "fix the third (left-to-right) axis, then transpose so that rows run top to bottom: "
            "volume[:, :, index].T",
        ),
    }
    for plane, (index, expected, hint) in cases.items():
        got = extract_plane(volume.copy(), index, plane)
        if isinstance(got, np.ndarray) and got.shape == expected.T.shape != expected.shape:
            fail(
                f"extract_plane(volume, {index}, {plane!r}) has shape {got.shape}; expected "
                f"{expected.shape}: the image is transposed.",
                hint,
            )
        expect_array(got, expected, what=f"extract_plane(volume, {index}, {plane!r})", hint=hint)


@check(
    "patient_split",
    hint="GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed) with "
    "groups=index['patient_id']; next(splitter.split(index, groups=...)) gives row positions.",
)
def check_patient_split(patient_split) -> None:
    """Check ``patient_split(index, test_size, seed) -> (train, test)`` keeps patients whole."""
    index = _index({"glioma": 12, "meningioma": 12, "notumor": 12, "pituitary": 12})
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
        "index.iloc[positions] selects rows by position.",
    )
    expect(
        index.equals(before),
        "patient_split changed the index it was given.",
        "Select rows with index.iloc[...]; do not add columns or drop rows in place.",
    )
    shared = sorted(set(train["patient_id"]) & set(test["patient_id"]))
    expect(
        not shared,
        f"{len(shared)} patient(s) are on both sides, e.g. {shared[:3]}: their slices leak from "
        "train into test.",
        "Split the patients, not the rows: GroupShuffleSplit with groups=index['patient_id'].",
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
        "Pass test_size on to the splitter.",
    )
    again = patient_split(index.copy(), 0.25, 0)[1]
    expect(
        sorted(again["path"]) == sorted(test["path"]),
        "two calls with the same seed gave different splits.",
        "Pass random_state=seed to the splitter.",
    )
    others = [sorted(patient_split(index.copy(), 0.25, s)[1]["path"]) for s in (1, 2, 3)]
    expect(
        any(o != sorted(test["path"]) for o in others),
        "seeds 0, 1, 2 and 3 all gave the same split: the seed is ignored.",
        "Pass random_state=seed to the splitter.",
    )


def _site_data():
    """Six 4x4 images from two sites, with brain masks of 4 pixels each, and the answer."""
    rng = np.random.default_rng(1)
    images = rng.uniform(0.0, 0.2, size=(6, 4, 4)).astype(np.float32)  # background
    masks = np.zeros((6, 4, 4), dtype=bool)
    masks[:, 1:3, 1:3] = True
    brain = {"site_A": (0.6, 0.2), "site_B": (0.3, 0.05)}  # (centre, spread) of the brain pixels
    sites = np.array(["site_A", "site_B", "site_A", "site_B", "site_B", "site_A"])
    for i, site in enumerate(sites):
        centre, spread = brain[site]
        images[i][masks[i]] = centre + spread * np.array([-1.0, -0.5, 0.5, 1.0], np.float32)
    return images, masks, sites


@check(
    "brain_stats_per_site",
    hint="For each site s in np.unique(sites): pixels = images[sites == s][masks[sites == s]] "
    "(the brain pixels of that site's images); then pixels.mean() and pixels.std().",
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
        "pd.DataFrame(rows).T turns {site: {'mean': m, 'std': s}} into one row per site.",
    )
    expect(
        sorted(map(str, got.index)) == ["site_A", "site_B"],
        f"the rows are {list(got.index)}; expected one row per site: ['site_A', 'site_B'].",
        "One row per distinct site: np.unique(sites).",
    )
    expect(
        {"mean", "std"} <= set(got.columns),
        f"the columns are {list(got.columns)}; expected 'mean' and 'std'.",
        "Name the columns 'mean' and 'std'.",
    )
    got = got.sort_index()[["mean", "std"]].astype(float)
    pooled = {s: images[sites == s][masks[sites == s]] for s in ("site_A", "site_B")}
    whole = [float(images[sites == s].mean()) for s in ("site_A", "site_B")]
    if np.allclose(got["mean"].to_numpy(), whole, atol=1e-6):
        fail(
            "you averaged every pixel, background included; the background (air, noise) says "
            "nothing about how the scanner shows the brain.",
            "Keep only the pixels where the mask is True: images[...][masks[...]].",
        )
    expect_array(
        got["mean"].to_numpy(),
        np.array([pooled[s].mean() for s in pooled], dtype=np.float64),
        what="the 'mean' column",
        hint="Average the brain pixels (mask True) of all images of each site.",
        atol=1e-5,
    )
    spreads = got["std"].to_numpy()
    expect(
        any(
            np.allclose(spreads, [pooled[s].std(ddof=ddof) for s in pooled], atol=1e-5)
            for ddof in (0, 1)
        ),
        f"the 'std' column is {np.round(spreads, 4).tolist()}; expected the standard deviation "
        "of each site's brain pixels "
        f"{[round(float(pooled[s].std()), 4) for s in pooled]}.",
        "Take the std of all the site's brain pixels together, not the std of image means.",
    )
