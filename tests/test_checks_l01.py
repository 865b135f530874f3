"""Lesson 01 checks: pass on reference answers, 'not answered yet' on stubs, hints on mistakes."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from course_lib import mr_signal
from course_lib.checks import CheckFailed, l01
from course_lib.config import CLASS_NAMES
from course_lib.datasets.audit import perceptual_hashes


def stub(*args, **kwargs):
    raise NotImplementedError("the hint")


# Reference answers ------------------------------------------------------------------------------


def spin_echo_signal(pd_, t1, t2, tr, te):
    return pd_ * (1 - np.exp(-tr / t1)) * np.exp(-te / t2)


def spin_echo_float32(pd_, t1, t2, tr, te):
    pd_, t1, t2 = (np.asarray(a, dtype=np.float32) for a in (pd_, t1, t2))
    return pd_ * -np.expm1(-np.float32(tr) / t1) * np.exp(-np.float32(te) / t2)


def extract_plane(volume, index, plane):
    if plane == "coronal":
        return volume[index]
    if plane == "axial":
        return volume[:, index, :]
    return volume[:, :, index].T


def extract_plane_take(volume, index, plane):
    axis = {"coronal": 0, "axial": 1, "sagittal": 2}[plane]
    cut = np.take(volume, index, axis=axis)
    return cut.T if plane == "sagittal" else cut


def count_per_class(index):
    return index["class_name"].value_counts().reindex(CLASS_NAMES, fill_value=0)


def count_per_class_loop(index):
    return pd.Series({name: int((index["class_name"] == name).sum()) for name in CLASS_NAMES})


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


def average_hash(image, hash_size):
    height, width = image.shape
    blocks = image.reshape(hash_size, height // hash_size, hash_size, width // hash_size)
    means = blocks.mean(axis=(1, 3))
    return (means > means.mean()).ravel()


def average_hash_median_loops(image, hash_size):
    step_r, step_c = image.shape[0] // hash_size, image.shape[1] // hash_size
    means = np.array(
        [
            [
                float(image[r * step_r : (r + 1) * step_r, c * step_c : (c + 1) * step_c].mean())
                for c in range(hash_size)
            ]
            for r in range(hash_size)
        ]
    )
    return (means > np.median(means)).flatten()


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (l01.check_spin_echo_signal, spin_echo_signal),
        (l01.check_spin_echo_signal, spin_echo_float32),
        (l01.check_extract_plane, extract_plane),
        (l01.check_extract_plane, extract_plane_take),
        (l01.check_count_per_class, count_per_class),
        (l01.check_count_per_class, count_per_class_loop),
        (l01.check_patient_split, patient_split),
        (l01.check_patient_split, patient_split_by_sets),
        (l01.check_brain_stats_per_site, brain_stats_per_site),
        (l01.check_brain_stats_per_site, brain_stats_with_pandas),
        (l01.check_average_hash, average_hash),
        (l01.check_average_hash, average_hash_median_loops),
    ],
)
def test_checks_pass_on_solution_and_say_not_answered_on_stub(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match=r"(?s)not answered yet.*Hint: "):
        checker(stub)


def test_reference_spin_echo_matches_the_library():
    tissues = mr_signal.TISSUES
    pd_, t1, t2 = (np.array([getattr(t, a) for t in tissues.values()]) for a in ("pd", "t1", "t2"))
    np.testing.assert_allclose(
        spin_echo_signal(pd_, t1, t2, 500.0, 10.0),
        mr_signal.spin_echo(pd_, t1, t2, tr=500.0, te=10.0),
    )


def test_reference_average_hash_agrees_with_the_library_on_copies():
    """An image and its brightened copy: the same average hash, and a close library phash."""
    image = np.random.default_rng(0).uniform(0, 1, (64, 64)).astype(np.float32)
    copy = np.clip(image * 1.02 + 0.01, 0, 1)
    assert np.array_equal(average_hash(image, 8), average_hash(copy, 8))
    bits = perceptual_hashes([np.round(x * 255).astype(np.uint8) for x in (image, copy)])
    assert int((bits[0] != bits[1]).sum()) <= 12


# Typical mistakes -------------------------------------------------------------------------------


def signal_no_one_minus(pd_, t1, t2, tr, te):
    return pd_ * np.exp(-tr / t1) * np.exp(-te / t2)


def signal_growing_echo(pd_, t1, t2, tr, te):
    return pd_ * (1 - np.exp(-tr / t1)) * np.exp(te / t2)


def signal_swapped_times(pd_, t1, t2, tr, te):
    return pd_ * (1 - np.exp(-te / t1)) * np.exp(-tr / t2)


def signal_without_pd(pd_, t1, t2, tr, te):
    return (1 - np.exp(-tr / t1)) * np.exp(-te / t2)


def signal_inverted_ratios(pd_, t1, t2, tr, te):
    return pd_ * (1 - np.exp(-t1 / tr)) * np.exp(-t2 / te)


def signal_math_exp(pd_, t1, t2, tr, te):
    return pd_ * (1 - math.exp(-tr / t1)) * math.exp(-te / t2)


def signal_from_library(pd_, t1, t2, tr, te):
    return mr_signal.spin_echo(pd_, t1, t2, tr=tr, te=te)


def signal_other(pd_, t1, t2, tr, te):
    return pd_ * (1 - np.exp(-tr / t1))


def plane_sagittal_untransposed(volume, index, plane):
    return volume[:, :, index] if plane == "sagittal" else extract_plane(volume, index, plane)


def plane_axes_swapped(volume, index, plane):
    return volume[index] if plane == "axial" else extract_plane(volume, index, plane)


def plane_in_place(volume, index, plane):
    volume[0] = 0
    return extract_plane(volume, index, plane)


def count_value_counts(index):
    return index["class_name"].value_counts()


def count_sorted(index):
    return index["class_name"].value_counts().sort_index()


def count_by_label(index):
    return index["label"].value_counts().sort_index()


def count_reindex_nan(index):
    return index["class_name"].value_counts().reindex(CLASS_NAMES)


def split_rows(index, test_size, seed):
    return tuple(train_test_split(index, test_size=test_size, random_state=seed))


def split_loc_with_positions(index, test_size, seed):
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train_rows, test_rows = next(splitter.split(index, groups=index["patient_id"]))
    return index.loc[train_rows], index.loc[test_rows]


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


def site_stats_mean_of_image_stats(images, masks, sites):
    """The known hole: the mean of per-image means and stds (each image counts the same)."""
    per_image = pd.DataFrame(
        {
            "site": sites,
            "mean": [images[i][masks[i]].mean() for i in range(len(images))],
            "std": [images[i][masks[i]].std() for i in range(len(images))],
        }
    )
    return per_image.groupby("site")[["mean", "std"]].mean()


def site_stats_mean_of_image_stds(images, masks, sites):
    stats = brain_stats_per_site(images, masks, sites)
    stds = pd.Series([images[i][masks[i]].std() for i in range(len(images))])
    stats["std"] = [stds[sites == s].mean() for s in stats.index]
    return stats


def site_stats_unnamed(images, masks, sites):
    return brain_stats_per_site(images, masks, sites).set_axis(["m", "s"], axis=1)


def hash_fixed_threshold(image, hash_size):
    height, width = image.shape
    means = image.reshape(hash_size, height // hash_size, hash_size, width // hash_size)
    return (means.mean(axis=(1, 3)) > 0.5).ravel()


def hash_one_pixel_per_block(image, hash_size):
    step = image.shape[0] // hash_size
    return (image[::step, ::step] > image.mean()).ravel()


def hash_wrong_reshape(image, hash_size):
    height, width = image.shape
    means = image.reshape(hash_size, hash_size, height // hash_size, width // hash_size)
    means = means.mean(axis=(2, 3))
    return (means > means.mean()).ravel()


def hash_grid(image, hash_size):
    return average_hash(image, hash_size).reshape(hash_size, hash_size)


def hash_as_ints(image, hash_size):
    return average_hash(image, hash_size).astype(np.uint8)


def hash_square_only(image, hash_size):
    step = image.shape[0] // hash_size
    means = image[: step * hash_size, : step * hash_size]
    means = means.reshape(hash_size, step, hash_size, step).mean(axis=(1, 3))
    return (means > means.mean()).ravel()


def hash_in_place(image, hash_size):
    image -= image.mean()
    return average_hash(image, hash_size)


def hash_with_library(image, hash_size):
    return perceptual_hashes([image], hash_size=hash_size)[0]


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l01.check_spin_echo_signal, signal_no_one_minus, "left out the '1 -'"),
        (l01.check_spin_echo_signal, signal_growing_echo, "echo factor grows with TE"),
        (l01.check_spin_echo_signal, signal_swapped_times, "TR and TE are swapped"),
        (l01.check_spin_echo_signal, signal_without_pd, "proton density is missing"),
        (l01.check_spin_echo_signal, signal_inverted_ratios, "exponent is inverted"),
        (l01.check_spin_echo_signal, signal_math_exp, "your code raised TypeError"),
        (l01.check_spin_echo_signal, signal_from_library, "calls spin_echo from course_lib"),
        (l01.check_spin_echo_signal, signal_other, "not the spin-echo signal"),
        (l01.check_extract_plane, plane_sagittal_untransposed, "transposed"),
        (l01.check_extract_plane, plane_axes_swapped, r"shape \(4, 5\); expected \(3, 5\)"),
        (l01.check_extract_plane, plane_in_place, "changed the volume"),
        (l01.check_count_per_class, count_value_counts, "label order"),
        (l01.check_count_per_class, count_sorted, "expected 0 for the absent classes"),
        (l01.check_count_per_class, count_reindex_nan, r"(?s)0 for the absent.*not NaN"),
        (l01.check_count_per_class, count_by_label, "indexed by"),
        (l01.check_patient_split, split_rows, "on both sides"),
        (l01.check_patient_split, split_loc_with_positions, "by their index labels"),
        (l01.check_patient_split, split_ignores_seed, "seed is ignored"),
        (l01.check_patient_split, split_drops_rows, "exactly once"),
        (l01.check_patient_split, split_in_place, "changed the index"),
        (l01.check_brain_stats_per_site, site_stats_whole_image, "background included"),
        (l01.check_brain_stats_per_site, site_stats_dict, "expected a pandas DataFrame"),
        (l01.check_brain_stats_per_site, site_stats_zeroes_background, "changed the images"),
        (
            l01.check_brain_stats_per_site,
            site_stats_std_of_image_means,
            "deviation of the image means",
        ),
        (l01.check_brain_stats_per_site, site_stats_mean_of_image_stats, "per-image means"),
        (l01.check_brain_stats_per_site, site_stats_mean_of_image_stds, "per-image standard"),
        (l01.check_brain_stats_per_site, site_stats_unnamed, "expected 'mean' and 'std'"),
        (l01.check_average_hash, hash_fixed_threshold, r"fixed value \(0.5\)"),
        (l01.check_average_hash, hash_one_pixel_per_block, "one pixel per block"),
        (l01.check_average_hash, hash_wrong_reshape, "not square patches"),
        (l01.check_average_hash, hash_grid, r"shape \(4, 4\)"),
        (l01.check_average_hash, hash_as_ints, "expected bool"),
        (l01.check_average_hash, hash_square_only, "16x24"),
        (l01.check_average_hash, hash_in_place, "changed the image"),
        (l01.check_average_hash, hash_with_library, "calls perceptual_hashes from course_lib"),
    ],
)
def test_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=message) as error:
        checker(wrong)
    assert "Hint:" in str(error.value)


def test_hash_check_rejects_the_imagehash_package():
    def hash_with_imagehash(image, hash_size):
        import imagehash
        from PIL import Image

        return imagehash.average_hash(Image.fromarray(image), hash_size).hash.ravel()

    with pytest.raises(CheckFailed, match="uses the imagehash package"):
        l01.check_average_hash(hash_with_imagehash)


def test_patient_split_check_reports_a_crash_with_the_hint():
    def crashes(index, test_size, seed):
        return index.loc["no such row"]

    with pytest.raises(CheckFailed, match=r"(?s)your code raised KeyError.*row positions"):
        l01.check_patient_split(crashes)


def test_messages_show_no_numpy_reprs():
    """Failure messages format numbers as plain Python numbers, never np.float64(...)."""
    wrongs = [
        (l01.check_spin_echo_signal, signal_other),
        (l01.check_count_per_class, count_reindex_nan),
        (l01.check_brain_stats_per_site, site_stats_mean_of_image_stats),
        (l01.check_average_hash, hash_fixed_threshold),
    ]
    for checker, wrong in wrongs:
        with pytest.raises(CheckFailed) as error:
            checker(wrong)
        assert "np." not in str(error.value)
