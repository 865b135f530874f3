"""Checks for the lesson 07 exercises: evaluation by hand."""

from __future__ import annotations

import numpy as np

from course_lib.checks import check, expect, fail
from course_lib.metrics import expected_calibration_error as reference_ece
from course_lib.metrics import proportion_ci


def _confusion() -> np.ndarray:
    """A fresh 3-class confusion matrix, rows = true class, columns = predicted class."""
    return np.array([[8, 1, 1], [1, 5, 4], [3, 3, 22]])


@check(
    "sensitivity_specificity",
    hint="Rows are true classes: TP = cm[k, k], FN = rest of row k, FP = rest of column k, "
    "TN = everything else.",
)
def check_sensitivity_specificity(sensitivity_specificity) -> None:
    """Check ``sensitivity_specificity(cm, k) -> (sensitivity, specificity)`` of class ``k``."""
    cm = _confusion()
    for k in range(3):
        scratch = cm.copy()
        got = sensitivity_specificity(scratch, k)
        expect(
            np.array_equal(scratch, cm),
            "sensitivity_specificity changed the confusion matrix.",
            "Read from cm; never assign into it.",
        )
        expect(
            isinstance(got, tuple | list) and len(got) == 2,
            f"sensitivity_specificity(cm, {k}) returned {got!r}; expected a pair "
            "(sensitivity, specificity).",
            "End with `return sensitivity, specificity`.",
        )
        tp = cm[k, k]
        fn = cm[k].sum() - tp
        fp = cm[:, k].sum() - tp
        tn = cm.sum() - tp - fn - fp
        sens, spec = float(got[0]), float(got[1])
        if np.isclose(sens, tp / (tp + fp)):
            fail(
                f"for class {k} you returned {sens:.3f} as sensitivity: that is the precision "
                "(you divided by the column).",
                "Sensitivity = TP / (TP + FN): divide by the ROW sum, the true members of k.",
            )
        expect(
            np.isclose(sens, tp / (tp + fn)),
            f"sensitivity of class {k} is {sens:.4f}; expected {tp / (tp + fn):.4f}.",
            "Sensitivity = cm[k, k] / cm[k].sum().",
        )
        expect(
            np.isclose(spec, tn / (tn + fp)),
            f"specificity of class {k} is {spec:.4f}; expected {tn / (tn + fp):.4f}.",
            "Specificity = TN / (TN + FP): among slices NOT of class k, the share not predicted "
            "as k. TN = cm.sum() - cm[k].sum() - cm[:, k].sum() + cm[k, k].",
        )


def _patients() -> np.ndarray:
    """Fresh patient ids: 5 patients with 1 to 4 slices each."""
    return np.array(["a", "a", "a", "b", "c", "c", "d", "d", "d", "d", "e", "e"])


@check(
    "patient_bootstrap_indices",
    hint="Draw len(patients) patients with rng.choice(patients, size=..., replace=True), then "
    "take the row indices of every slice of each drawn patient.",
)
def check_patient_bootstrap_indices(patient_bootstrap_indices) -> None:
    """Check ``patient_bootstrap_indices(patient_ids, rng) -> int array of row indices``."""
    ids = _patients()
    patients = np.unique(ids)
    scratch = ids.copy()
    got = patient_bootstrap_indices(scratch, np.random.default_rng(0))
    expect(
        np.array_equal(scratch, ids),
        "patient_bootstrap_indices changed patient_ids.",
        "Do not shuffle or sort the input in place.",
    )
    expect(
        isinstance(got, np.ndarray) and np.issubdtype(got.dtype, np.integer) and got.ndim == 1,
        f"patient_bootstrap_indices returned {type(got).__name__}"
        f"{getattr(got, 'shape', '')}; expected a 1-D integer NumPy array of row indices.",
        "np.concatenate the index arrays np.flatnonzero(patient_ids == p) of the drawn patients.",
    )
    seen_patients = set()
    for seed in range(40):
        idx = patient_bootstrap_indices(ids.copy(), np.random.default_rng(seed))
        expect(
            idx.size > 0 and idx.min() >= 0 and idx.max() < len(ids),
            f"indices {idx.tolist()} fall outside 0..{len(ids) - 1}.",
            "Return row positions, not patient ids.",
        )
        counts = {p: int(np.sum(ids[idx] == p)) for p in patients}
        sizes = {p: int(np.sum(ids == p)) for p in patients}
        for p in patients:
            if counts[p] % sizes[p]:
                fail(
                    f"patient {p!r} has {sizes[p]} slices but {counts[p]} of them are in the "
                    "resample: patients were split up.",
                    "Resample whole PATIENTS, then take all slices of each drawn patient; "
                    "drawing slices one by one is the slice-level bootstrap.",
                )
        drawn = sum(counts[p] // sizes[p] for p in patients)
        expect(
            drawn == len(patients),
            f"the resample holds {drawn} patient draws; expected {len(patients)} (one draw per "
            "patient in the data, with replacement).",
            "size = number of distinct patients, replace=True.",
        )
        seen_patients |= {p for p in patients if counts[p]}
    expect(
        seen_patients == set(patients),
        "over 40 seeds some patients were never drawn.",
        "Draw from all the distinct patients, np.unique(patient_ids).",
    )
    first = patient_bootstrap_indices(ids.copy(), np.random.default_rng(1))
    again = patient_bootstrap_indices(ids.copy(), np.random.default_rng(1))
    other = [patient_bootstrap_indices(ids.copy(), np.random.default_rng(s)) for s in range(2, 8)]
    expect(
        np.array_equal(np.sort(first), np.sort(again)),
        "two calls with the same seeded rng gave different resamples.",
        "Use only the rng you are given (no np.random.* global functions).",
    )
    expect(
        any(not np.array_equal(np.sort(first), np.sort(o)) for o in other),
        "different rngs always give the same resample: it is not random.",
        "Draw the patients with rng.choice(..., replace=True).",
    )


@check(
    "expected_calibration_error",
    hint="Bin by confidence = probs.max(axis=1) into n_bins equal bins on [0, 1]; "
    "ECE = sum over bins of (bin size / N) * |accuracy in bin - mean confidence in bin|.",
)
def check_expected_calibration_error(expected_calibration_error) -> None:
    """Check ``expected_calibration_error(probs, y_true, n_bins) -> float`` (top-label ECE)."""
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(200, 3)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = rng.integers(0, 3, size=200)
    for n_bins in (1, 5, 10):
        scratch = probs.copy()
        got = expected_calibration_error(scratch, y.copy(), n_bins)
        expect(
            np.array_equal(scratch, probs),
            "expected_calibration_error changed probs.",
            "Compute new arrays; do not modify probs.",
        )
        expect(
            isinstance(got, int | float | np.floating),
            f"expected_calibration_error returned {type(got).__name__}; expected a number.",
            "Return float(ece).",
        )
        want = reference_ece(probs, y, n_bins=n_bins)
        if n_bins > 1:
            conf = probs.max(axis=1)
            correct = probs.argmax(axis=1) == y
            bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
            gaps = [
                abs(correct[bins == b].mean() - conf[bins == b].mean())
                for b in range(n_bins)
                if np.any(bins == b)
            ]
            if np.isclose(got, np.mean(gaps)) and not np.isclose(got, want):
                fail(
                    f"with n_bins={n_bins} you returned {got:.4f}, the plain mean of the bins' "
                    f"gaps; expected {want:.4f}.",
                    "Weight each bin's |accuracy - confidence| by its share of the samples.",
                )
        expect(
            np.isclose(got, want, atol=1e-6),
            f"expected_calibration_error(probs, y, n_bins={n_bins}) is {float(got):.4f}; "
            f"expected {want:.4f}.",
            "Confidence is the top probability; accuracy compares argmax with y_true; with one "
            "bin the ECE is |accuracy - mean confidence|.",
        )
    certain = np.eye(3)[[0, 1, 2, 0]]
    got = expected_calibration_error(certain, np.array([0, 1, 2, 1]), 10)
    expect(
        np.isclose(got, 0.25),
        f"4 predictions with confidence 1.0, 3 of them right, gave ECE {float(got):.4f}; "
        "expected 0.25 (= |0.75 - 1.0|).",
        "Put confidence 1.0 in the LAST bin (np.minimum(..., n_bins - 1)), not in a bin "
        "of its own that is then left out.",
    )


@check(
    "threshold_for_sensitivity",
    hint="Sort the positives' scores from high to low; the threshold is the score of the "
    "ceil(target * n_positives)-th of them.",
)
def check_threshold_for_sensitivity(threshold_for_sensitivity) -> None:
    """Check ``threshold_for_sensitivity(y, scores, target) -> float`` (largest such threshold)."""
    y = np.array([1, 1, 1, 1, 0, 0, 0, 1, 0, 1])
    scores = np.array([0.95, 0.8, 0.7, 0.4, 0.6, 0.3, 0.1, 0.55, 0.5, 0.2])
    for target, want in ((0.5, 0.7), (0.8, 0.4), (1.0, 0.2), (0.1, 0.95)):
        got = threshold_for_sensitivity(y.copy(), scores.copy(), target)
        expect(
            isinstance(got, int | float | np.floating),
            f"threshold_for_sensitivity returned {type(got).__name__}; expected a number.",
            "Return float(threshold).",
        )
        sens = np.mean(scores[y == 1] >= got)
        expect(
            sens >= target - 1e-9,
            f"with target {target} your threshold {float(got):.2f} gives sensitivity "
            f"{sens:.2f}, below the target.",
            "Predict positive when score >= threshold; count how many positives stay above it.",
        )
        expect(
            np.isclose(got, want),
            f"with target {target} your threshold {float(got):.2f} reaches the sensitivity, but "
            f"the largest threshold that does is {want}.",
            "A lower threshold than needed costs specificity: take the highest one that works.",
        )


@check(
    "wilson_interval",
    hint="centre = (p + z**2 / (2 n)) / (1 + z**2 / n); half = z / (1 + z**2 / n) * "
    "sqrt(p (1 - p) / n + z**2 / (4 n**2)); return (centre - half, centre + half).",
)
def check_wilson_interval(wilson_interval) -> None:
    """Check ``wilson_interval(k, n, z) -> (low, high)``, the Wilson score interval of k / n."""
    z = 1.959963984540054
    for k, n in ((20, 20), (0, 10), (7, 10), (1, 3), (45, 50)):
        got = wilson_interval(k, n, z)
        expect(
            isinstance(got, tuple | list) and len(got) == 2,
            f"wilson_interval({k}, {n}, z) returned {got!r}; expected a pair (low, high).",
            "End with `return low, high`.",
        )
        low, high = float(got[0]), float(got[1])
        want = proportion_ci(k, n)
        p = k / n
        wald = p - z * np.sqrt(p * (1 - p) / n)
        if k == n and np.isclose(low, 1.0):
            fail(
                f"for {k} hits out of {n} you returned the interval [{low:.3f}, {high:.3f}]: "
                "a point, as the percentile bootstrap gives.",
                "That is the Wald interval p +- z sqrt(p (1 - p) / n), which collapses at 0 and "
                "1. The Wilson interval adds z**2 / (4 n**2) under the root and moves the centre.",
            )
        if 0 < k < n and np.isclose(low, wald) and not np.isclose(low, want.low):
            fail(
                f"for {k}/{n} your lower bound {low:.4f} is the Wald interval's; expected the "
                f"Wilson {want.low:.4f}.",
                "Centre the interval at (p + z**2 / (2 n)) / (1 + z**2 / n), not at p.",
            )
        expect(
            np.isclose(low, want.low, atol=1e-6) and np.isclose(high, want.high, atol=1e-6),
            f"wilson_interval({k}, {n}, z) is [{low:.4f}, {high:.4f}]; expected "
            f"[{want.low:.4f}, {want.high:.4f}].",
            "p = k / n; centre = (p + z**2 / (2 n)) / (1 + z**2 / n); half = z / (1 + z**2 / n) "
            "* sqrt(p (1 - p) / n + z**2 / (4 n**2)).",
        )
