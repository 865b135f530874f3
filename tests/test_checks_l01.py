"""Lesson 01 checks: pass on reference answers, 'not answered yet' on stubs, hints on mistakes."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from course_lib.checks import CheckFailed, l01
from course_lib.config import CLASS_NAMES


def stub(*args, **kwargs):
    raise NotImplementedError("the hint")


# Reference answers ------------------------------------------------------------------------------


def count_per_class(index):
    return index["class_name"].value_counts().reindex(CLASS_NAMES, fill_value=0)


def extract_plane(volume, index, plane):
    if plane == "coronal":
        return volume[index]
    if plane == "axial":
        return volume[:, index, :]
    return volume[:, :, index].T


def patient_split(index, test_size, seed):
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train_rows, test_rows = next(splitter.split(index, groups=index["patient_id"]))
    return index.iloc[train_rows], index.iloc[test_rows]


def patient_split_by_sets(index, test_size, seed):
    patients = np.random.default_rng(seed).permutation(index["patient_id"].unique())
    chosen = set(patients[: round(test_size * len(patients))])
    in_test = index["patient_id"].isin(chosen)
    return index[~in_test], index[in_test]


def brain_stats_per_site(images, masks, sites):
    rows = {}
    for site in np.unique(sites):
        pixels = images[sites == site][masks[sites == site]]
        rows[site] = {"mean": pixels.mean(), "std": pixels.std()}
    return pd.DataFrame(rows).T


def brain_stats_with_pandas(images, masks, sites):
    site_of_pixel = np.broadcast_to(sites[:, None, None], images.shape)[masks]
    frame = pd.DataFrame({"site": site_of_pixel, "value": images[masks]})
    return frame.groupby("site")["value"].agg(["std", "mean"])  # pandas: ddof=1, other order


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (l01.check_count_per_class, count_per_class),
        (l01.check_extract_plane, extract_plane),
        (l01.check_patient_split, patient_split),
        (l01.check_patient_split, patient_split_by_sets),
        (l01.check_brain_stats_per_site, brain_stats_per_site),
        (l01.check_brain_stats_per_site, brain_stats_with_pandas),
    ],
)
def test_checks_pass_on_solution_and_say_not_answered_on_stub(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match=r"(?s)not answered yet.*Hint: the hint"):
        checker(stub)


# Typical mistakes -------------------------------------------------------------------------------


def count_value_counts(index):
    return index["class_name"].value_counts()


def count_sorted(index):
    return index["class_name"].value_counts().sort_index()


def count_by_label(index):
    return index["label"].value_counts().sort_index()


def plane_sagittal_untransposed(volume, index, plane):
    return volume[:, :, index] if plane == "sagittal" else extract_plane(volume, index, plane)


def plane_axes_swapped(volume, index, plane):
    return volume[index] if plane == "axial" else extract_plane(volume, index, plane)


def split_rows(index, test_size, seed):
    return tuple(train_test_split(index, test_size=test_size, random_state=seed))


def split_ignores_seed(index, test_size, seed):
    return patient_split(index, test_size, 0)


def split_drops_rows(index, test_size, seed):
    train, test = patient_split(index, test_size, seed)
    return train.iloc[1:], test


def split_in_place(index, test_size, seed):
    index["fold"] = 0
    return patient_split(index, test_size, seed)


def site_stats_whole_image(images, masks, sites):
    return brain_stats_per_site(images, np.ones_like(masks), sites)


def site_stats_dict(images, masks, sites):
    return brain_stats_per_site(images, masks, sites).to_dict()


def site_stats_zeroes_background(images, masks, sites):
    images[~masks] = 0
    return brain_stats_per_site(images, masks, sites)


def site_stats_std_of_image_means(images, masks, sites):
    stats = brain_stats_per_site(images, masks, sites)
    means = pd.Series([images[i][masks[i]].mean() for i in range(len(images))])
    stats["std"] = [means[sites == s].std() for s in stats.index]
    return stats


def site_stats_unnamed(images, masks, sites):
    return brain_stats_per_site(images, masks, sites).set_axis(["m", "s"], axis=1)


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l01.check_count_per_class, count_value_counts, "label order"),
        (l01.check_count_per_class, count_sorted, "expected 0 for the absent classes"),
        (l01.check_count_per_class, count_by_label, "indexed by"),
        (l01.check_extract_plane, plane_sagittal_untransposed, "transposed"),
        (l01.check_extract_plane, plane_axes_swapped, r"shape \(4, 5\); expected \(3, 5\)"),
        (l01.check_patient_split, split_rows, "on both sides"),
        (l01.check_patient_split, split_ignores_seed, "seed is ignored"),
        (l01.check_patient_split, split_drops_rows, "exactly once"),
        (l01.check_patient_split, split_in_place, "changed the index"),
        (l01.check_brain_stats_per_site, site_stats_whole_image, "background included"),
        (l01.check_brain_stats_per_site, site_stats_dict, "expected a pandas DataFrame"),
        (l01.check_brain_stats_per_site, site_stats_zeroes_background, "changed the images"),
        (l01.check_brain_stats_per_site, site_stats_std_of_image_means, "'std' column"),
        (l01.check_brain_stats_per_site, site_stats_unnamed, "expected 'mean' and 'std'"),
    ],
)
def test_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=message) as error:
        checker(wrong)
    assert "Hint:" in str(error.value)


def test_patient_split_check_reports_a_crash_with_the_hint():
    def crashes(index, test_size, seed):
        return index.loc["no such row"]

    with pytest.raises(CheckFailed, match=r"(?s)your code raised KeyError.*GroupShuffleSplit"):
        l01.check_patient_split(crashes)
