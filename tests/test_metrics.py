from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from torchmetrics.classification import MulticlassCalibrationError
from torchmetrics.functional.classification import multiclass_calibration_error

from course_lib.metrics import (
    BootstrapCI,
    adjust_for_priors,
    apply_temperature,
    bootstrap_ci,
    bootstrap_report,
    check_labels,
    check_probs,
    classification_report_frame,
    clustered_proportion_ci,
    effective_sample_size,
    expected_calibration_error,
    fit_temperature,
    headline_metrics,
    labels_and_predictions,
    one_vs_rest_curves,
    one_vs_rest_frame,
    predict_with_threshold,
    proportion_ci,
    reliability_curve,
    threshold_for_sensitivity,
)

NAMES = ["glioma", "meningioma", "notumor", "pituitary"]


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def classified(rng):
    """400 samples, 4 classes, 100 patients of 4 slices, an informative but noisy model."""
    y = rng.integers(0, 4, size=400)
    logits = rng.normal(size=(400, 4)) + 2.0 * np.eye(4)[y]
    groups = np.repeat(np.arange(100), 4)
    return y, _softmax(logits), logits, groups


# ----------------------------------------------------------------------------- report
def test_report_hand_computed_2x2():
    # TP=3 FN=1 FP=2 TN=4 for class 1
    y_true = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    y_pred = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]
    frame = classification_report_frame(y_true, y_pred, ["neg", "pos"])
    row = frame.loc["pos"]
    assert row["sensitivity"] == pytest.approx(3 / 4)
    assert row["specificity"] == pytest.approx(4 / 6)
    assert row["precision"] == pytest.approx(3 / 5)
    assert row["f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    assert row["support"] == 4
    assert frame.loc["neg", "sensitivity"] == pytest.approx(4 / 6)
    assert frame.loc["micro avg", "sensitivity"] == pytest.approx(0.7)
    assert frame.attrs["accuracy"] == pytest.approx(0.7)


def test_report_hand_computed_3_class():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 0, 2]
    frame = classification_report_frame(y_true, y_pred, ["a", "b", "c"])
    np.testing.assert_allclose(frame["sensitivity"].iloc[:3], [0.5, 1.0, 0.5])
    np.testing.assert_allclose(frame["specificity"].iloc[:3], [3 / 4, 3 / 4, 1.0])
    np.testing.assert_allclose(frame["precision"].iloc[:3], [0.5, 2 / 3, 1.0])
    assert frame["support"].tolist() == [2, 2, 2, 6, 6]
    assert frame.attrs["balanced_accuracy"] == pytest.approx(2 / 3)


def test_report_matches_sklearn(classified):
    y, probs, _, _ = classified
    frame = classification_report_frame(y, probs, NAMES)
    pred = probs.argmax(1)
    np.testing.assert_allclose(frame["sensitivity"].iloc[:4], recall_score(y, pred, average=None))
    np.testing.assert_allclose(frame["precision"].iloc[:4], precision_score(y, pred, average=None))
    np.testing.assert_allclose(frame["f1"].iloc[:4], f1_score(y, pred, average=None))
    assert frame.loc["macro avg", "f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert frame.attrs["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert frame.attrs["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert frame.loc["macro avg", "sensitivity"] == pytest.approx(frame.attrs["balanced_accuracy"])
    assert list(frame.index) == [*NAMES, "macro avg", "micro avg"]
    assert frame["support"].dtype == np.int64


def test_report_class_never_predicted_is_zero_not_nan():
    y_true = [0, 1, 2, 2]
    y_pred = [0, 0, 2, 2]  # class 1 never predicted
    frame = classification_report_frame(y_true, y_pred, ["a", "b", "c"])
    assert frame.loc["b", "precision"] == 0.0
    assert frame.loc["b", "f1"] == 0.0
    assert not frame.isna().any().any()
    ref = f1_score(y_true, y_pred, average="macro", zero_division=0)
    assert frame.attrs["macro_f1"] == pytest.approx(ref)


def test_report_class_absent_from_truth():
    y_true = [0, 0, 2, 2]
    y_pred = [0, 1, 2, 2]  # class 1 absent from y_true but predicted once
    frame = classification_report_frame(y_true, y_pred, ["a", "b", "c"])
    assert frame.loc["b", "support"] == 0
    assert frame.loc["b", "sensitivity"] == 0.0
    assert frame.loc["b", "specificity"] == pytest.approx(3 / 4)
    assert not frame.isna().any().any()
    assert frame.attrs["balanced_accuracy"] == pytest.approx(0.75)


def test_report_does_not_modify_input(classified):
    y, probs, _, _ = classified
    before = probs.copy()
    classification_report_frame(torch.as_tensor(y), torch.as_tensor(probs), NAMES)
    np.testing.assert_array_equal(probs, before)


def test_report_raises():
    with pytest.raises(ValueError, match="columns but 2 class names"):
        classification_report_frame([0, 1], [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], ["a", "b"])
    with pytest.raises(ValueError, match="y_score has 3 entries"):
        classification_report_frame([0, 1], [0, 1, 1], ["a", "b"])
    with pytest.raises(ValueError, match="labels must be < 2"):
        classification_report_frame([0, 2], [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        classification_report_frame([], [], ["a", "b"])
    with pytest.raises(TypeError, match="integer"):
        classification_report_frame([0.0, 1.0], [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match=">= 0"):
        classification_report_frame([-1, 1], [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="sum to 1"):
        classification_report_frame([0, 1], [[0.2, 0.3], [0.5, 0.1]], ["a", "b"])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        classification_report_frame([0, 1], [[2.0, -1.0], [0.5, 0.5]], ["a", "b"])
    with pytest.raises(TypeError, match="floating"):
        classification_report_frame([0, 1], [[1, 0], [0, 1]], ["a", "b"])
    with pytest.raises(ValueError, match=r"shape \(N, C\)"):
        classification_report_frame([0, 1], np.ones((2, 1, 1)), ["a", "b"])
    with pytest.raises(TypeError, match="array-like"):
        classification_report_frame([0, 1], [[0.5, 0.5], [1.0]], ["a", "b"])


def test_public_input_checks():
    np.testing.assert_array_equal(check_labels(torch.tensor([2, 0])), [2, 0])
    assert check_labels(np.array([True, False])).tolist() == [1, 0]
    assert check_probs([[0.5, 0.5]], n=1).dtype == np.float64
    y, pred, probs, c = labels_and_predictions([0, 2], [[0.1, 0.1, 0.8], [0.2, 0.2, 0.6]])
    assert (y.tolist(), pred.tolist(), c) == ([0, 2], [2, 2], 3)
    np.testing.assert_array_equal(probs, [[0.1, 0.1, 0.8], [0.2, 0.2, 0.6]])
    assert labels_and_predictions([0, 1], [1, 3])[3] == 4  # C from the largest label
    with pytest.raises(ValueError, match="non-empty 1-D"):
        check_labels([[0, 1]])
    with pytest.raises(ValueError, match="1 rows but y_true has 2"):
        check_probs([[0.5, 0.5]], n=2)
    with pytest.raises(ValueError, match="y_score must be labels"):
        labels_and_predictions([0, 1], np.zeros((2, 2, 2)))


def test_headline_metrics_match_sklearn(classified):
    y, probs, _, _ = classified
    pred = probs.argmax(1)
    got = headline_metrics(y, pred)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert got["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))


# ----------------------------------------------------------------------------- bootstrap
def test_bootstrap_interval_contains_point_and_is_seeded(classified):
    y, probs, _, _ = classified
    pred = probs.argmax(1)
    res = bootstrap_ci(accuracy_score, y, pred, n_resamples=200, seed=3)
    assert isinstance(res, BootstrapCI)
    point, low, high = res
    assert point == pytest.approx(accuracy_score(y, pred))
    assert low < point < high
    assert 0.03 < high - low < 0.2  # about 4 standard errors of a proportion with n=400
    assert bootstrap_ci(accuracy_score, y, pred, n_resamples=200, seed=3) == res
    assert bootstrap_ci(accuracy_score, y, pred, n_resamples=200, seed=4) != res


def test_bootstrap_patient_level_is_wider_for_correlated_slices(rng):
    # 40 patients x 10 identical slices: slice-level resampling pretends to have 400 samples
    patient_correct = rng.random(40) < 0.7
    y = np.zeros(400, dtype=int)
    pred = np.where(np.repeat(patient_correct, 10), 0, 1)
    groups = np.repeat(np.arange(40), 10)
    slice_ci = bootstrap_ci(accuracy_score, y, pred, n_resamples=300, seed=0)
    patient_ci = bootstrap_ci(accuracy_score, y, pred, groups=groups, n_resamples=300, seed=0)
    assert patient_ci.point == slice_ci.point
    assert (patient_ci.high - patient_ci.low) > 2 * (slice_ci.high - slice_ci.low)


def test_bootstrap_resample_holding_one_class_is_skipped_with_warning():
    # 2 patients: resampling them gives a single-class y_true half of the time
    y = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.3, 0.7, 0.9])
    groups = np.array([0, 0, 1, 1])
    with pytest.warns(RuntimeWarning, match=r"\d+ of 50 bootstrap resamples were skipped"):
        res = bootstrap_ci(roc_auc_score, y, scores, groups=groups, n_resamples=50, seed=0)
    assert res == (1.0, 1.0, 1.0)


def test_bootstrap_accepts_boolean_labels(rng):
    y = rng.random(60) < 0.5
    scores = rng.random(60) + 0.5 * y
    res = bootstrap_ci(roc_auc_score, y, scores, n_resamples=50)
    assert res.point == pytest.approx(roc_auc_score(y, scores))
    assert res.low < res.point < res.high


def test_bootstrap_all_skipped_gives_nan():
    calls = []

    def always_nan(t, p):  # defined on the full data (first call) only
        calls.append(1)
        return 1.0 if len(calls) == 1 else float("nan")

    with pytest.warns(RuntimeWarning, match="20 of 20"):
        res = bootstrap_ci(always_nan, [0, 1], [0, 1], n_resamples=20)
    assert res.point == 1.0
    assert np.isnan(res.low)
    assert np.isnan(res.high)


def test_bootstrap_raises():
    y, p = [0, 1, 1], [0, 1, 0]
    with pytest.raises(TypeError, match="callable"):
        bootstrap_ci("accuracy", y, p)
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_ci(accuracy_score, y, p, n_resamples=0)
    with pytest.raises(TypeError, match="n_resamples must be an int"):
        bootstrap_ci(accuracy_score, y, p, n_resamples=10.0)
    with pytest.raises(ValueError, match="ci must"):
        bootstrap_ci(accuracy_score, y, p, ci=95)
    with pytest.raises(TypeError, match="ci must be a number"):
        bootstrap_ci(accuracy_score, y, p, ci="95%")
    with pytest.raises(TypeError, match="seed"):
        bootstrap_ci(accuracy_score, y, p, seed="0")
    with pytest.raises(ValueError, match="groups must have shape"):
        bootstrap_ci(accuracy_score, y, p, groups=[0, 1])
    with pytest.raises(ValueError, match="y_score must have 3 rows"):
        bootstrap_ci(accuracy_score, y, [0, 1])
    with pytest.raises(ValueError, match="boom"):  # the metric raises on the full data
        bootstrap_ci(_raise_boom, y, p)


def _raise_boom(t, p):
    raise ValueError("boom")


def test_bootstrap_report(classified):
    y, probs, _, groups = classified
    frame = bootstrap_report(y, probs, NAMES, groups=groups, n_resamples=40, seed=1)
    columns = ["point", "low", "high", "method", "patients", "slices", "n_eff", "skipped"]
    assert list(frame.columns) == columns
    assert "macro AUROC" in frame.index
    assert "sensitivity (glioma)" in frame.index
    assert (frame["low"] <= frame["point"]).all()
    assert (frame["point"] <= frame["high"]).all()
    pred = probs.argmax(1)
    assert frame.loc["accuracy", "point"] == pytest.approx(accuracy_score(y, pred))
    auroc = roc_auc_score(y, probs, multi_class="ovr")
    assert frame.loc["macro AUROC", "point"] == pytest.approx(auroc)
    assert frame["skipped"].sum() == 0
    # proportions: Wilson on the effective sample size; the rest: the patient bootstrap
    assert frame.loc["accuracy", "method"] == "Wilson"
    acc = clustered_proportion_ci(pred == y, groups)
    assert tuple(frame.loc["accuracy", ["point", "low", "high"]]) == pytest.approx(acc[:3])
    assert frame.loc["balanced accuracy", "method"] == "patient bootstrap"
    bal = bootstrap_ci(balanced_accuracy_score, y, pred, groups=groups, n_resamples=40, seed=1)
    assert tuple(frame.loc["balanced accuracy", ["point", "low", "high"]]) == pytest.approx(bal)
    glioma = y == 0
    assert frame.loc["sensitivity (glioma)", "patients"] == len(np.unique(groups[glioma]))
    assert frame.loc["sensitivity (glioma)", "slices"] == glioma.sum()
    assert frame.loc["accuracy", ["patients", "slices"]].tolist() == [100, 400]


def test_bootstrap_report_bootstrap_proportions_as_before(classified):
    y, probs, _, groups = classified
    frame = bootstrap_report(
        y, probs, NAMES, groups=groups, n_resamples=40, seed=1, proportions="bootstrap"
    )
    acc = bootstrap_ci(accuracy_score, y, probs.argmax(1), groups=groups, n_resamples=40, seed=1)
    assert tuple(frame.loc["accuracy", ["point", "low", "high"]]) == pytest.approx(acc)
    assert set(frame["method"]) == {"patient bootstrap"}


def test_bootstrap_report_perfect_class_is_not_a_point():
    """The bug of issue 11: a class without a miss got the interval [1, 1]."""
    y = np.repeat([0, 1], 40)
    groups = np.repeat(np.arange(20), 4)  # 10 patients per class
    pred = y.copy()
    pred[[0, 1, 4]] = 1  # class 0 misses 3 slices of 2 patients; class 1 misses none
    boot = bootstrap_report(
        y, pred, ["a", "b"], groups=groups, n_resamples=50, proportions="bootstrap"
    )
    assert boot.loc["sensitivity (b)", ["low", "high"]].tolist() == [1.0, 1.0]
    frame = bootstrap_report(y, pred, ["a", "b"], groups=groups, n_resamples=50)
    row = frame.loc["sensitivity (b)"]
    assert row["point"] == 1.0 and row["high"] == 1.0
    assert row["low"] == pytest.approx(10 / (10 + 1.959964**2))  # Wilson, n = 10 patients
    assert (row["patients"], row["slices"], row["n_eff"]) == (10, 40, 10.0)
    exact = bootstrap_report(
        y, pred, ["a", "b"], groups=groups, n_resamples=50, proportions="exact"
    )
    assert exact.loc["sensitivity (b)", "low"] == pytest.approx(0.025 ** (1 / 10))
    assert exact.loc["sensitivity (b)", "method"] == "Clopper-Pearson"
    assert (frame["high"] - frame["low"] > 0).all()


def test_bootstrap_report_perfect_model_falls_back_to_wilson_by_class():
    y = np.repeat([0, 1, 2], 40)
    groups = np.repeat(np.arange(30), 4)  # 10 patients per class: no resample misses a class
    probs = np.full((120, 3), 0.1)
    probs[np.arange(120), y] = 0.8
    frame = bootstrap_report(y, probs, ["a", "b", "c"], groups=groups, n_resamples=30)
    wilson_10 = proportion_ci(10, 10)
    for row in ("balanced accuracy", "macro F1", "macro AUROC"):
        assert frame.loc[row, "method"] == "Wilson by class"
        assert frame.loc[row, "low"] == pytest.approx(wilson_10.low)
        assert frame.loc[row, "high"] == 1.0


def test_bootstrap_report_counts_skips_for_rare_class():
    y = np.array([0] * 30 + [1] * 30 + [2])  # one sample of class 2: often missing
    probs = np.full((61, 3), 0.2)
    probs[np.arange(61), y] = 0.6
    frame = bootstrap_report(y, probs, ["a", "b", "c"], n_resamples=100, seed=0)
    skipped = frame.loc["macro AUROC", "skipped"]
    assert 20 < skipped < 50  # P(missing) = (60/61)^61, about 0.37
    assert frame.loc["sensitivity (c)", "skipped"] == 0  # a Wilson interval needs no resample
    boot = bootstrap_report(y, probs, ["a", "b", "c"], n_resamples=100, proportions="bootstrap")
    assert boot.loc["sensitivity (c)", "skipped"] == skipped
    assert frame.loc["accuracy", "skipped"] == 0


def test_bootstrap_report_labels_only_and_absent_class():
    frame = bootstrap_report([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b", "c"], n_resamples=10)
    assert "macro AUROC" not in frame.index
    assert np.isnan(frame.loc["sensitivity (c)", "point"])
    assert frame.loc["sensitivity (c)", ["patients", "slices"]].tolist() == [0, 0]
    boot = bootstrap_report(
        [0, 0, 1, 1], [0, 1, 1, 1], ["a", "b", "c"], n_resamples=10, proportions="bootstrap"
    )
    assert boot.loc["sensitivity (c)", "skipped"] == 10


def test_bootstrap_report_raises():
    with pytest.raises(ValueError, match="proportions"):
        bootstrap_report([0, 1], [0, 1], ["a", "b"], proportions="percentile")


# ----------------------------------------------------------------------------- proportions
@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (1, 1), (17, 40)])
@pytest.mark.parametrize(("method", "scipy_method"), [("wilson", "wilson"), ("exact", "exact")])
def test_proportion_ci_matches_scipy(k, n, method, scipy_method):
    from scipy.stats import binomtest

    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method=scipy_method)
    got = proportion_ci(k, n, method=method)
    assert got.point == k / n
    assert (got.low, got.high) == pytest.approx((ref.low, ref.high), abs=1e-9)


def test_proportion_ci_known_values():
    # Wilson 10/10: [n / (n + z^2), 1]; Clopper-Pearson 10/10: [0.025^(1/10), 1]
    assert proportion_ci(10, 10).low == pytest.approx(0.7225, abs=1e-4)
    assert proportion_ci(10, 10, method="exact").low == pytest.approx(0.6915, abs=1e-4)
    assert proportion_ci(0, 30).high == pytest.approx(0.1135, abs=1e-4)
    low, high = proportion_ci(50, 100, ci=0.9)[1:]
    assert (low, high) == pytest.approx((0.4188, 0.5812), abs=1e-4)


def test_proportion_ci_raises():
    with pytest.raises(ValueError, match="n must be > 0"):
        proportion_ci(0, 0)
    with pytest.raises(ValueError, match="successes must be"):
        proportion_ci(11, 10)
    with pytest.raises(TypeError, match="successes must be a number"):
        proportion_ci("3", 10)
    with pytest.raises(ValueError, match="method"):
        proportion_ci(3, 10, method="jeffreys")
    with pytest.raises(ValueError, match="ci must be"):
        proportion_ci(3, 10, ci=1.0)


def test_effective_sample_size_between_patients_and_slices(rng):
    groups = np.repeat(np.arange(50), 4)
    independent = rng.random(200) < 0.8
    clustered = np.repeat(rng.random(50) < 0.8, 4)
    n_ind = effective_sample_size(independent, groups)
    assert 100 < n_ind <= 200
    assert effective_sample_size(clustered, groups) == 50.0  # whole patients right or wrong
    assert effective_sample_size(np.ones(200, bool), groups) == 50.0  # nothing to estimate
    assert effective_sample_size(independent) == 200.0  # no groups: every slice counts


def test_effective_sample_size_matches_the_cluster_variance(rng):
    groups = np.repeat(np.arange(30), 5)
    hits = (rng.random(150) < np.repeat(rng.uniform(0.5, 1, 30), 5)).astype(int)
    p = hits.mean()
    per_patient = hits.reshape(30, 5).mean(axis=1)  # equal sizes: var(p) = var(means) / c
    var = per_patient.var(ddof=1) / 30
    expected = np.clip(p * (1 - p) / var, 30, 150)
    assert effective_sample_size(hits, groups) == pytest.approx(expected)


def test_clustered_proportion_ci(rng):
    groups = np.repeat(np.arange(20), 4)
    hits = np.ones(80, bool)
    res = clustered_proportion_ci(hits, groups)
    assert (res.patients, res.slices, res.n_eff) == (20, 80, 20.0)
    assert res[:3] == pytest.approx(proportion_ci(20, 20))
    hits[:3] = False
    res = clustered_proportion_ci(hits, groups, method="exact")
    assert res.point == pytest.approx(77 / 80)
    ref = proportion_ci(res.point * res.n_eff, res.n_eff, method="exact")
    assert res[:3] == pytest.approx(ref)


def test_clustered_proportion_raises():
    with pytest.raises(ValueError, match="0/1"):
        effective_sample_size([0, 2])
    with pytest.raises(ValueError, match="0/1"):
        effective_sample_size([])
    with pytest.raises(ValueError, match="groups must have shape"):
        clustered_proportion_ci([0, 1], groups=[0])
    with pytest.raises(TypeError, match="hits must be array-like"):
        effective_sample_size([[0, 1], [1]])


# ----------------------------------------------------------------------------- calibration
def test_ece_matches_torchmetrics(classified):
    y, probs, _, _ = classified
    ref = MulticlassCalibrationError(num_classes=4, n_bins=15, norm="l1")(
        torch.as_tensor(probs, dtype=torch.float32), torch.as_tensor(y)
    )
    assert expected_calibration_error(probs, y) == pytest.approx(float(ref), abs=1e-5)
    ref10 = MulticlassCalibrationError(num_classes=4, n_bins=10, norm="l1")(
        torch.as_tensor(probs, dtype=torch.float32), torch.as_tensor(y)
    )
    assert expected_calibration_error(probs, y, n_bins=10) == pytest.approx(float(ref10), abs=1e-5)


@pytest.mark.parametrize("n_bins", [1, 2, 7, 10, 15, 40])
def test_ece_is_the_weighted_gap_of_the_reliability_table(classified, n_bins):
    y, probs, _, _ = classified
    table = reliability_curve(probs, y, n_bins=n_bins)
    full = table[table["count"] > 0]
    gaps = (full["accuracy"] - full["confidence"]).abs()
    from_table = float((gaps * full["count"]).sum() / full["count"].sum())
    assert expected_calibration_error(probs, y, n_bins=n_bins) == pytest.approx(
        from_table, abs=1e-6
    )


def test_ece_and_the_table_differ_only_for_confidence_exactly_one():
    # torchmetrics gives confidence 1.0 a bin of its own; reliability_curve keeps it in the last
    probs = np.array([[1.0, 0.0], [0.95, 0.05]])
    y = np.array([1, 0])  # the certain prediction is wrong, the other one right
    table = reliability_curve(probs, y, n_bins=10)
    assert table["count"].tolist() == [0] * 9 + [2]
    last = table.iloc[-1]
    assert abs(last["accuracy"] - last["confidence"]) == pytest.approx(0.475)
    got = expected_calibration_error(probs, y, n_bins=10)
    assert got == pytest.approx((abs(1 - 0.95) + abs(0 - 1.0)) / 2)  # 0.525, two bins
    ref = multiclass_calibration_error(
        torch.as_tensor(probs), torch.as_tensor(y), num_classes=2, n_bins=10, norm="l1"
    )
    assert got == pytest.approx(float(ref))
    same_sign = np.array([1, 1])  # both wrong: the split does not change the weighted gap
    assert expected_calibration_error(probs, same_sign, n_bins=10) == pytest.approx(0.975)


def test_ece_perfectly_calibrated_is_near_zero(rng):
    probs = _softmax(rng.normal(scale=2.0, size=(20000, 4)))
    y = np.array([rng.choice(4, p=row) for row in probs])
    assert expected_calibration_error(probs, y) < 0.02


def test_ece_overconfident_is_large(rng):
    probs = np.full((1000, 2), 0.01)
    probs[:, 0] = 0.99
    y = rng.integers(0, 2, size=1000)
    expected = 0.99 - np.mean(y == 0)
    assert expected_calibration_error(probs, y) == pytest.approx(expected, abs=1e-5)  # float32


def test_reliability_curve_columns_and_counts(classified):
    y, probs, _, _ = classified
    table = reliability_curve(probs, y, n_bins=10)
    assert list(table.columns) == ["bin_lower", "bin_upper", "confidence", "accuracy", "count"]
    assert len(table) == 10
    assert table["count"].sum() == 400
    full = table[table["count"] > 0]
    assert (
        (full["confidence"] >= full["bin_lower"]) & (full["confidence"] <= full["bin_upper"])
    ).all()
    assert table.loc[table["count"] == 0, "accuracy"].isna().all()
    assert table.loc[0, "count"] == 0  # top-label confidence of 4 classes is >= 0.25


def test_reliability_confidence_one_goes_in_last_bin():
    table = reliability_curve([[1.0, 0.0]], [0], n_bins=4)
    assert table["count"].tolist() == [0, 0, 0, 1]


def test_calibration_raises():
    with pytest.raises(ValueError, match="n_bins"):
        reliability_curve([[0.5, 0.5]], [0], n_bins=0)
    with pytest.raises(TypeError, match="n_bins must be an int"):
        expected_calibration_error([[0.5, 0.5]], [0], n_bins=10.0)
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error([[0.5, 0.5]], [0], n_bins=0)
    with pytest.raises(ValueError, match="1 rows but y_true has 2"):
        expected_calibration_error([[0.5, 0.5]], [0, 1])


def test_temperature_scaling_lowers_ece_of_overconfident_model(rng):
    y = rng.integers(0, 4, size=3000)
    logits = rng.normal(size=(3000, 4)) + 1.5 * np.eye(4)[y]
    over = 4.0 * logits  # the same ranking, far too confident
    val, test = slice(0, 1500), slice(1500, None)
    t = fit_temperature(over[val], y[val])
    assert t == pytest.approx(4.0 / 1.5, rel=0.15)  # 1.5 * logits are calibrated
    before = expected_calibration_error(_softmax(over[test]), y[test])
    after = expected_calibration_error(_softmax(apply_temperature(over[test], t)), y[test])
    assert after < before / 3
    assert (apply_temperature(over, t).argmax(1) == over.argmax(1)).all()


def test_fit_temperature_matches_grid_search(classified):
    y, _, logits, _ = classified
    t = fit_temperature(torch.as_tensor(logits, dtype=torch.float32), torch.as_tensor(y))
    grid = np.linspace(0.3, 3.0, 541)
    nll = [-np.log(_softmax(logits / g)[np.arange(len(y)), y]).mean() for g in grid]
    assert t == pytest.approx(grid[int(np.argmin(nll))], abs=5e-3)


def test_apply_temperature_keeps_type():
    z = torch.tensor([[2.0, 0.0]])
    out = apply_temperature(z, 2.0)
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, torch.tensor([[1.0, 0.0]]))
    torch.testing.assert_close(z, torch.tensor([[2.0, 0.0]]))


def test_temperature_raises():
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(np.zeros((1, 2)), 0.0)
    with pytest.raises(TypeError, match="temperature"):
        apply_temperature(np.zeros((1, 2)), True)
    with pytest.raises(ValueError, match="max_iter"):
        fit_temperature(np.zeros((2, 2)), [0, 1], max_iter=0)
    with pytest.raises(TypeError, match="max_iter must be an int"):
        fit_temperature(np.zeros((2, 2)), [0, 1], max_iter=10.0)
    with pytest.raises(ValueError, match="y_true must be < C=2"):
        fit_temperature(np.zeros((2, 2)), [0, 2])
    with pytest.raises(ValueError, match="finite"):
        fit_temperature(np.array([[np.inf, 0.0], [0.0, 1.0]]), [0, 1])
    with pytest.raises(ValueError, match=r"shape \(N, C\)"):
        fit_temperature(np.zeros(2), [0, 1])
    with pytest.raises(ValueError, match="2 rows but y_true has 3"):
        fit_temperature(np.zeros((2, 2)), [0, 1, 1])


# ----------------------------------------------------------------------------- thresholds
def test_threshold_for_sensitivity_hand_computed():
    y = [0, 0, 1, 1, 1, 1]
    s = [0.1, 0.6, 0.4, 0.7, 0.8, 0.9]
    assert threshold_for_sensitivity(y, s, target=0.75) == pytest.approx(0.7)
    assert threshold_for_sensitivity(y, s, target=0.76) == pytest.approx(0.4)
    assert threshold_for_sensitivity(y, s, target=1.0) == pytest.approx(0.4)
    assert threshold_for_sensitivity(y, s, target=0.25) == pytest.approx(0.9)


def test_threshold_for_sensitivity_is_largest_reaching_target(rng):
    y = rng.integers(0, 2, size=500)
    s = rng.random(500) + 0.5 * y
    t = threshold_for_sensitivity(y, s, target=0.9)
    sens = np.mean(s[y == 1] >= t)
    assert sens >= 0.9
    above = np.sort(np.unique(s[s > t]))[0]  # the next larger threshold misses the target
    assert np.mean(s[y == 1] >= above) < 0.9


def test_threshold_all_positive():
    assert threshold_for_sensitivity([1, 1, 1, 1], [0.1, 0.2, 0.3, 0.4], 0.5) == 0.3


def test_threshold_raises():
    with pytest.raises(ValueError, match="target"):
        threshold_for_sensitivity([0, 1], [0.1, 0.9], target=0.0)
    with pytest.raises(TypeError, match="target must be a number"):
        threshold_for_sensitivity([0, 1], [0.1, 0.9], target="95%")
    with pytest.raises(ValueError, match="0/1"):
        threshold_for_sensitivity([0, 2], [0.1, 0.9])
    with pytest.raises(ValueError, match="no positives"):
        threshold_for_sensitivity([0, 0], [0.1, 0.9])
    with pytest.raises(ValueError, match="must be 1-D and equal"):
        threshold_for_sensitivity([0, 1], [0.1, 0.9, 0.3])


def test_predict_with_threshold():
    probs = np.array([[0.5, 0.3, 0.2], [0.2, 0.1, 0.7], [0.6, 0.35, 0.05]])
    before = probs.copy()
    assert predict_with_threshold(probs, 1, 0.3).tolist() == [1, 2, 1]
    assert predict_with_threshold(probs, 0, 1.0).tolist() == [1, 2, 1]  # never class 0
    assert predict_with_threshold(probs, 2, 0.0).tolist() == [2, 2, 2]
    np.testing.assert_array_equal(probs, before)
    with pytest.raises(ValueError, match="class_index must be in"):
        predict_with_threshold(probs, 3, 0.5)
    with pytest.raises(TypeError, match="class_index must be an int"):
        predict_with_threshold(probs, 1.0, 0.5)
    with pytest.raises(ValueError, match="threshold"):
        predict_with_threshold(probs, 1, 1.5)
    with pytest.raises(TypeError, match="threshold must be a number"):
        predict_with_threshold(probs, 1, None)


def test_adjust_for_priors_bayes_rule():
    probs = np.array([[0.6, 0.4], [0.2, 0.8]])
    out = adjust_for_priors(probs, [0.5, 0.5], [0.9, 0.1])
    expected = probs * [0.9, 0.1]
    np.testing.assert_allclose(out, expected / expected.sum(1, keepdims=True))
    # same priors: unchanged; unnormalised priors are fine
    np.testing.assert_allclose(adjust_for_priors(probs, [1, 3], [2, 6]), probs)
    with pytest.raises(ValueError, match="train_priors"):
        adjust_for_priors(probs, [0.5, 0.5, 0.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="target_priors"):
        adjust_for_priors(probs, [0.5, 0.5], [1.0, 0.0])


# ----------------------------------------------------------------------------- curves
def test_one_vs_rest_matches_sklearn(classified):
    y, probs, _, _ = classified
    curves = one_vs_rest_curves(y, probs, NAMES)
    assert list(curves) == NAMES
    for k, name in enumerate(NAMES):
        assert curves[name]["auroc"] == pytest.approx(roc_auc_score(y == k, probs[:, k]))
        assert curves[name]["auprc"] == pytest.approx(average_precision_score(y == k, probs[:, k]))
        assert curves[name]["fpr"][0] == 0.0
        assert curves[name]["tpr"][-1] == 1.0
    frame = one_vs_rest_frame(y, probs, NAMES)
    assert isinstance(frame, pd.DataFrame)
    assert frame["auroc"].mean() == pytest.approx(roc_auc_score(y, probs, multi_class="ovr"))


def test_one_vs_rest_absent_class_is_nan():
    probs = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    curves = one_vs_rest_curves([0, 1, 0], probs, ["a", "b", "c"])
    assert np.isnan(curves["c"]["auroc"])
    assert curves["c"]["fpr"].size == 0
    assert curves["a"]["auroc"] == 1.0
    with pytest.raises(ValueError, match="3 columns but 2 class names"):
        one_vs_rest_curves([0, 1, 0], probs, ["a", "b"])
