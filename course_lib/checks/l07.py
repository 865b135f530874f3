"""Checks for the lesson 07 exercises: evaluation by hand.

Each check runs the student's function on small inputs made here, compares it with a private
computation or with course_lib's own version, and names the typical mistake when it finds one.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from course_lib import metrics as _metrics
from course_lib.checks import check, expect, expect_own_code, fail

_Z95 = 1.959963984540054


def _show(value) -> str:
    """Describe a returned value for a message, without NumPy's reprs (``np.float64(0.5)``)."""
    if value is None:
        return "None"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, np.ndarray | torch.Tensor):
        return f"a {type(value).__name__} of shape {tuple(value.shape)}"
    if isinstance(value, tuple | list):
        if len(value) <= 4 and all(isinstance(v, int | float | np.number) for v in value):
            inner = ", ".join(_show(v) for v in value)
            return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def _quietly(function, *args):
    """Call a student's function with NumPy's floating-point warnings off, to judge its result.

    A mean of an empty bin or an overflowing exp then gives nan or inf, which the check names,
    instead of a RuntimeWarning (an error under pytest).
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return function(*args)


def _expect_number(got, what: str) -> float:
    """Fail unless ``got`` is one real number; return it as a Python float."""
    expect(
        isinstance(got, int | float | np.integer | np.floating) and not isinstance(got, bool),
        f"{what} returned {_show(got)}; expected one number.",
        "Return a single float, not an array or a tuple.",
    )
    return float(got)


def _expect_pair(got, what: str, names: str) -> tuple[float, float]:
    """Fail unless ``got`` is a pair of numbers; return them as Python floats."""
    expect(
        isinstance(got, tuple | list) and len(got) == 2,
        f"{what} returned {_show(got)}; expected a pair {names}.",
        "Return the two numbers together, as a tuple.",
    )
    return float(got[0]), float(got[1])


# ----------------------------------------------------------------------- Exercise 1


def _confusion() -> np.ndarray:
    """A fresh 3-class confusion matrix, rows = true class, columns = predicted class."""
    return np.array([[8, 1, 1], [1, 5, 4], [3, 3, 22]])


@check(
    "sensitivity_specificity",
    hint="Name the four cells of a one-against-the-rest table (TP, FN, FP, TN) in the matrix "
    "first: which row, which column?",
)
def check_sensitivity_specificity(sensitivity_specificity) -> None:
    """Check ``sensitivity_specificity(cm, k) -> (sensitivity, specificity)`` of class ``k``."""
    expect_own_code(
        sensitivity_specificity,
        "classification_report_frame",
        "recall_score",
        exercise="sensitivity_specificity",
    )
    cm = _confusion()
    for k in range(3):
        scratch = cm.copy()
        got = sensitivity_specificity(scratch, k)
        expect(
            np.array_equal(scratch, cm),
            "sensitivity_specificity changed the confusion matrix.",
            "Read from cm; never assign into it.",
        )
        sens, spec = _expect_pair(
            got, f"sensitivity_specificity(cm, {k})", "(sensitivity, specificity)"
        )
        tp = cm[k, k]
        fn = cm[k].sum() - tp
        fp = cm[:, k].sum() - tp
        tn = cm.sum() - tp - fn - fp
        want_sens, want_spec = tp / (tp + fn), tn / (tn + fp)
        if np.isclose(sens, tp / (tp + fp)) and not np.isclose(sens, want_sens):
            fail(
                f"for class {k} you returned {sens:.3f} as sensitivity: that is the precision "
                "(you divided by the column).",
                "Rows are the true classes. Sensitivity asks: of the slices that truly are k, "
                "how many were found?",
            )
        expect(
            np.isclose(sens, want_sens),
            f"the sensitivity of class {k} is {sens:.4f}; expected {want_sens:.4f}.",
            "Sensitivity counts among the slices that truly are class k.",
        )
        if np.isclose(spec, tn / (tn + fn)) and not np.isclose(spec, want_spec):
            fail(
                f"for class {k} you returned {spec:.3f} as specificity: that is the negative "
                "predictive value (you divided by the slices predicted as not k).",
                "Specificity counts among the slices that truly are NOT class k.",
            )
        if np.isclose(spec, (tn - tp) / (tn - tp + fp)) and not np.isclose(spec, want_spec):
            fail(
                f"for class {k} your specificity {spec:.3f} leaves cm[k, k] out of the true "
                "negatives twice: you subtracted row k and column k, which share that cell.",
                "Count the cells that are in neither row k nor column k.",
            )
        expect(
            np.isclose(spec, want_spec),
            f"the specificity of class {k} is {spec:.4f}; expected {want_spec:.4f}.",
            "Among the slices NOT of class k, which share was not called k? The true negatives "
            "are every cell outside row k and column k.",
        )


# ----------------------------------------------------------------------- Exercise 2


def _pairwise_auroc(y: np.ndarray, s: np.ndarray, tie: float) -> float:
    """Share of (positive, negative) pairs ranked right, a tie counting ``tie``."""
    pos, neg = s[y == 1][:, None], s[y == 0][None, :]
    return float(np.mean((pos > neg) + tie * (pos == neg)))


def _auroc_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(description, labels, scores) cases for the AUROC check: no ties, ties, logits."""
    rng = np.random.default_rng(11)
    y = (rng.random(60) < 0.35).astype(np.int64)
    rounded = np.round(np.clip(0.25 * y + rng.normal(0.45, 0.2, 60), 0, 1), 1)
    logits = 2.0 * y + rng.normal(0.0, 1.5, 60)
    return [
        ("4 slices", np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])),
        (
            "6 slices with tied scores",
            np.array([1, 0, 1, 0, 1, 0]),
            np.array([0.9, 0.9, 0.5, 0.5, 0.8, 0.1]),
        ),  # fmt: skip
        ("60 scores rounded to one decimal (many ties)", y, rounded),
        ("60 logits (scores outside [0, 1])", y, logits),
    ]


@check(
    "auroc",
    hint="AUROC is the chance that a random positive scores above a random negative. "
    "Compare every positive with every negative.",
)
def check_auroc(auroc) -> None:
    """Check ``auroc(y, scores) -> float`` against scikit-learn's ``roc_auc_score``."""
    from sklearn.metrics import roc_auc_score  # lazy: l07 must not offer the answer as a name

    expect_own_code(
        auroc,
        "roc_auc_score",
        "roc_curve",
        "auc",
        "one_vs_rest_curves",
        "one_vs_rest_frame",
        exercise="auroc",
    )
    for what, y, scores in _auroc_cases():
        y_copy, s_copy = y.copy(), scores.copy()
        got = _expect_number(auroc(y_copy, s_copy), f"auroc on {what}")
        expect(
            np.array_equal(y_copy, y) and np.array_equal(s_copy, scores),
            "auroc changed its input (sorted it in place?).",
            "Work on copies, or use functions that return new arrays.",
        )
        want = float(roc_auc_score(y, scores))
        if np.isclose(got, 1 - want) and not np.isclose(want, 0.5):
            fail(
                f"on {what} you returned {got:.4f}, one minus the AUROC: you counted the pairs "
                "where the negative scores higher.",
                "A pair is ranked right when the POSITIVE has the higher score.",
            )
        strict, generous = _pairwise_auroc(y, scores, 0.0), _pairwise_auroc(y, scores, 1.0)
        if not np.isclose(strict, want):
            if np.isclose(got, strict):
                fail(
                    f"on {what} you returned {got:.4f}: tied pairs counted as wrong.",
                    "A positive and a negative with the same score are a coin toss: half a pair.",
                )
            if np.isclose(got, generous):
                fail(
                    f"on {what} you returned {got:.4f}: tied pairs counted as right.",
                    "A positive and a negative with the same score are a coin toss: half a pair.",
                )
        accuracy = float(np.mean((scores >= 0.5) == (y == 1)))
        if np.isclose(got, accuracy) and not np.isclose(accuracy, want):
            fail(
                f"on {what} you returned {got:.4f}, the accuracy at the threshold 0.5.",
                "AUROC does not use one threshold: it compares the ranking of positives and "
                "negatives over all thresholds.",
            )
        expect(
            np.isclose(got, want, atol=1e-9),
            f"auroc on {what} is {got:.4f}; expected {want:.4f} (scikit-learn's roc_auc_score).",
            "Count, over all (positive, negative) pairs, the share where the positive scores "
            "higher, a tie counting half.",
        )


# ----------------------------------------------------------------------- Exercise 3


@check(
    "threshold_for_sensitivity",
    hint="Which of the positives' scores can the threshold be? Look at them from the highest "
    "down, and count how many must stay at or above it.",
)
def check_threshold_for_sensitivity(threshold_for_sensitivity) -> None:
    """Check ``threshold_for_sensitivity(y, scores, target) -> float`` (largest such threshold)."""
    expect_own_code(
        threshold_for_sensitivity,
        "threshold_for_sensitivity",
        "roc_curve",
        exercise="threshold_for_sensitivity",
    )
    y = np.array([1, 1, 1, 1, 0, 0, 0, 1, 0, 1])
    scores = np.array([0.95, 0.8, 0.7, 0.4, 0.6, 0.3, 0.1, 0.55, 0.5, 0.2])
    for target, want in ((0.5, 0.7), (0.8, 0.4), (1.0, 0.2), (0.1, 0.95), (0.6, 0.55)):
        y_copy, s_copy = y.copy(), scores.copy()
        got = _expect_number(
            threshold_for_sensitivity(y_copy, s_copy, target),
            f"threshold_for_sensitivity(target={target})",
        )
        expect(
            np.array_equal(y_copy, y) and np.array_equal(s_copy, scores),
            "threshold_for_sensitivity changed its input (sorted it in place?).",
            "Sort a copy of the positives' scores.",
        )
        sens = float(np.mean(scores[y == 1] >= got))
        expect(
            sens >= target - 1e-9,
            f"with target {target} your threshold {got:.2f} gives sensitivity {sens:.2f}, "
            "below the target.",
            "Predict positive when score >= threshold; count how many positives stay at or "
            "above it.",
        )
        expect(
            np.isclose(got, want),
            f"with target {target} your threshold {got:.2f} reaches the sensitivity, but a "
            "larger threshold also does.",
            "A lower threshold than needed costs specificity: take the highest one that works. "
            "The best one is always one of the positives' scores.",
        )


# ----------------------------------------------------------------------- Exercise 4


def _patients() -> np.ndarray:
    """Fresh patient ids: 5 patients with 1 to 4 slices each."""
    return np.array(["a", "a", "a", "b", "c", "c", "d", "d", "d", "d", "e", "e"])


def _one_big_patient() -> np.ndarray:
    """Fresh patient ids: patient ``a`` has 8 slices, the other four 1 slice each."""
    return np.array(["a"] * 8 + ["b", "c", "d", "e"])


@check(
    "patient_bootstrap_indices",
    hint="Two steps: first draw patients (as many as there are, with replacement), then turn "
    "each drawn patient into the rows of its slices.",
)
def check_patient_bootstrap_indices(patient_bootstrap_indices) -> None:
    """Check ``patient_bootstrap_indices(patient_ids, rng) -> int array of row indices``."""
    expect_own_code(
        patient_bootstrap_indices,
        "_resample_indices",
        "bootstrap_ci",
        "bootstrap_report",
        exercise="patient_bootstrap_indices",
    )
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
        f"patient_bootstrap_indices returned {_show(got)}"
        f"{'' if not isinstance(got, np.ndarray) else ' of dtype ' + str(got.dtype)}; expected "
        "a 1-D integer NumPy array of row indices.",
        "Return row positions (0, 1, 2, ...), all in one flat integer array, not patient ids.",
    )
    sizes = {p: int(np.sum(ids == p)) for p in patients}
    seen_patients, every_patient_once = set(), True
    for seed in range(40):
        idx = patient_bootstrap_indices(ids.copy(), np.random.default_rng(seed))
        expect(
            idx.size > 0 and int(idx.min()) >= 0 and int(idx.max()) < len(ids),
            f"with seed {seed} some indices fall outside 0 to {len(ids) - 1}.",
            "Return row positions of patient_ids, not patient numbers.",
        )
        counts = {p: int(np.sum(ids[idx] == p)) for p in patients}
        for p in patients:
            if counts[p] % sizes[p]:
                fail(
                    f"patient '{p}' has {sizes[p]} slices but {counts[p]} of them are in the "
                    "resample: patients were split up.",
                    "Resample whole PATIENTS, then take all slices of each drawn patient; "
                    "drawing slices one by one is the slice-level bootstrap.",
                )
        draws = {p: counts[p] // sizes[p] for p in patients}
        drawn = sum(draws.values())
        if drawn == len(ids) != len(patients):
            fail(
                f"the resample holds {drawn} patient draws, one per slice; expected "
                f"{len(patients)}, one per patient.",
                "A bootstrap resample is as large as the data, counted in the units you "
                "resample: patients here.",
            )
        expect(
            drawn == len(patients),
            f"the resample holds {drawn} patient draws; expected {len(patients)} (one per "
            "patient in the data).",
            "Draw as many patients as there are distinct patients.",
        )
        every_patient_once &= all(n == 1 for n in draws.values())
        seen_patients |= {p for p in patients if counts[p]}
    if every_patient_once:
        fail(
            "over 40 seeds every resample held each patient exactly once: you drew the "
            "patients without replacement, which only shuffles them.",
            "A bootstrap draws WITH replacement, so that some patients come twice and others "
            "not at all; that is what makes the resamples differ.",
        )
    expect(
        seen_patients == set(patients),
        "over 40 seeds some patients were never drawn.",
        "Draw from all the distinct patients.",
    )
    first = patient_bootstrap_indices(ids.copy(), np.random.default_rng(1))
    again = patient_bootstrap_indices(ids.copy(), np.random.default_rng(1))
    expect(
        np.array_equal(np.sort(first), np.sort(again)),
        "two calls with the same seeded rng gave different resamples.",
        "Use only the rng you are given (no np.random.* global functions, no new generator).",
    )
    big = _one_big_patient()
    draws_of_a = 0
    for seed in range(40):
        idx = patient_bootstrap_indices(big.copy(), np.random.default_rng(seed))
        draws_of_a += int(np.sum(big[idx] == "a")) // 8
    share = draws_of_a / (40 * 5)
    expect(
        share < 0.4,
        f"patient 'a' has 8 of the 12 slices and was drawn in {share:.0%} of the draws; each "
        "of the 5 patients should be drawn about 20 % of the time. You drew rows (slices) and "
        "took their patients, so patients with more slices come more often.",
        "Draw from the list of distinct patients, each equally likely, not from the rows.",
    )


# ----------------------------------------------------------------------- Exercise 5


@check(
    "wilson_interval",
    hint="Follow the formula term by term: first p, then the centre, then the half-width.",
)
def check_wilson_interval(wilson_interval) -> None:
    """Check ``wilson_interval(k, n, z) -> (low, high)``, the Wilson score interval of k / n."""
    expect_own_code(
        wilson_interval,
        "proportion_ci",
        "clustered_proportion_ci",
        "proportion_confint",
        exercise="wilson_interval",
    )
    z = _Z95
    for k, n in ((20, 20), (0, 10), (7, 10), (1, 3), (45, 50)):
        low, high = _expect_pair(
            wilson_interval(k, n, z), f"wilson_interval({k}, {n}, z)", "(low, high)"
        )
        want = _metrics.proportion_ci(k, n)
        p = k / n
        wald = z * np.sqrt(p * (1 - p) / n)
        if k in (0, n) and np.isclose(low, high):
            fail(
                f"for {k} hits out of {n} you returned the interval [{low:.3f}, {high:.3f}]: "
                "a point, as the percentile bootstrap gives.",
                "The Wald interval, and a Wilson half-width without its second term under the "
                "root, have width 0 at p = 0 and p = 1. That second term keeps the interval open.",
            )
        if high > 1 + 1e-9 or low < -1e-9:
            fail(
                f"for {k}/{n} your interval [{low:.4f}, {high:.4f}] leaves [0, 1]: it is centred "
                f"at p = {p:.3f}.",
                "The Wilson interval never leaves [0, 1] because its centre moves towards 1/2: "
                "compute the centre from the formula too.",
            )
        if 0 < k < n and np.isclose(low, p - wald) and not np.isclose(low, want.low):
            fail(
                f"for {k}/{n} your lower bound {low:.4f} is the Wald interval's; expected the "
                f"Wilson {want.low:.4f}.",
                "The Wilson interval is not centred at p: use the centre of the formula.",
            )
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
        no_extra = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n)
        if 0 < k < n and np.isclose(low, p - half) and not np.isclose(low, want.low):
            fail(
                f"for {k}/{n} your interval is centred at p = {p:.3f}; the Wilson interval is "
                "centred elsewhere.",
                "Compute the centre from the formula too, not only the half-width.",
            )
        if 0 < k < n and np.isclose(low, centre - no_extra) and not np.isclose(low, want.low):
            fail(
                f"for {k}/{n} your half-width leaves out the second term under the square root.",
                "The root holds two terms; the second, with z squared, keeps the interval open "
                "at 0 and 1.",
            )
        expect(
            np.isclose(low, want.low, atol=1e-6) and np.isclose(high, want.high, atol=1e-6),
            f"wilson_interval({k}, {n}, z) is [{low:.4f}, {high:.4f}]; expected "
            f"[{want.low:.4f}, {want.high:.4f}].",
            "Check each term against the formula: which one has 2n, which 4n squared?",
        )


# ----------------------------------------------------------------------- Exercise 6


def _ece(probs: np.ndarray, y: np.ndarray, n_bins: int, *, own_top_bin: bool = False) -> float:
    """Top-label ECE; ``own_top_bin`` gives confidence 1.0 a bin of its own (a mistake)."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    bins = (conf * n_bins).astype(int)
    if not own_top_bin:
        bins = np.minimum(bins, n_bins - 1)
    return float(
        sum(
            np.mean(bins == b) * abs(correct[bins == b].mean() - conf[bins == b].mean())
            for b in np.unique(bins)
        )
    )


def _mixed_top_bin() -> tuple[np.ndarray, np.ndarray]:
    """Probs whose top bin mixes confidence 1.0 (wrong) with 0.95 and 0.93 (right), and more."""
    probs = np.array([[1.0, 0.0], [0.95, 0.05], [0.07, 0.93], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]])
    return probs, np.array([1, 0, 1, 1, 1, 0])


def _ece_with_conf(conf: np.ndarray, correct: np.ndarray, n_bins: int) -> float:
    """ECE with a given confidence per slice (to spot the true-class probability mistake)."""
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    return float(
        sum(
            np.mean(bins == b) * abs(correct[bins == b].mean() - conf[bins == b].mean())
            for b in np.unique(bins)
        )
    )


@check(
    "expected_calibration_error",
    hint="Three steps: a confidence and a right-or-wrong per slice, a bin per slice, then a "
    "weighted sum over the bins that hold slices.",
)
def check_expected_calibration_error(expected_calibration_error) -> None:
    """Check ``expected_calibration_error(probs, y_true, n_bins) -> float`` (top-label ECE)."""
    expect_own_code(
        expected_calibration_error,
        "expected_calibration_error",
        "reliability_curve",
        "calibration_curve",
        exercise="expected_calibration_error",
    )
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(200, 3)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = rng.integers(0, 3, size=200)
    for n_bins in (1, 5, 10):
        scratch = probs.copy()
        raw = _quietly(expected_calibration_error, scratch, y.copy(), n_bins)
        expect(
            np.array_equal(scratch, probs),
            "expected_calibration_error changed probs.",
            "Compute new arrays; do not modify probs.",
        )
        got = _expect_number(raw, f"expected_calibration_error(n_bins={n_bins})")
        expect(
            not np.isnan(got),
            f"with n_bins={n_bins} you returned nan: an empty bin's mean is nan.",
            "Leave out the bins that hold no slice; their share is 0 anyway.",
        )
        want = _metrics.expected_calibration_error(probs, y, n_bins=n_bins)
        conf = probs.max(axis=1)
        correct = probs.argmax(axis=1) == y
        true_class = probs[np.arange(len(y)), y]
        if not np.isclose(got, want) and np.isclose(
            got, _ece_with_conf(true_class, correct, n_bins)
        ):
            fail(
                f"with n_bins={n_bins} you took the probability of the TRUE class as the "
                "confidence.",
                "The confidence is what the model claims for its own answer: its largest "
                "probability.",
            )
        if n_bins > 1:
            bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
            gaps = [
                abs(correct[bins == b].mean() - conf[bins == b].mean()) for b in np.unique(bins)
            ]
            if np.isclose(got, np.mean(gaps)) and not np.isclose(got, want):
                fail(
                    f"with n_bins={n_bins} you returned {got:.4f}, the plain mean of the bins' "
                    f"gaps; expected {want:.4f}.",
                    "Weight each bin's gap by its share of the slices: a bin of 2 slices must "
                    "count less than a bin of 50.",
                )
        expect(
            np.isclose(got, want, atol=1e-6),
            f"expected_calibration_error(probs, y, n_bins={n_bins}) is {got:.4f}; expected "
            f"{want:.4f}.",
            "Confidence is the largest probability; a slice is right when the class with that "
            "probability is y_true. With one bin the ECE is |accuracy - mean confidence|.",
        )
    certain = np.eye(3)[[0, 1, 2, 0]]
    got = _expect_number(
        _quietly(expected_calibration_error, certain, np.array([0, 1, 2, 1]), 10),
        "expected_calibration_error",
    )
    expect(
        np.isclose(got, 0.25),
        f"4 predictions with confidence 1.0, 3 of them right, gave ECE {got:.4f}; "
        "expected 0.25 (= |0.75 - 1.0|).",
        "Confidence 1.0 falls in the LAST bin; a bin numbered n_bins does not exist, and a "
        "slice left out of every bin is lost.",
    )
    probs, y = _mixed_top_bin()
    got = _expect_number(
        _quietly(expected_calibration_error, probs, y, 10), "expected_calibration_error"
    )
    want = _ece(probs, y, 10)
    if np.isclose(got, _ece(probs, y, 10, own_top_bin=True)) and not np.isclose(got, want):
        fail(
            f"confidences 1.0, 0.95 and 0.93 should share the last of 10 bins; you gave 1.0 a "
            f"bin of its own (ECE {got:.4f}, expected {want:.4f}).",
            "The last bin is closed at the top: it holds the confidences from 0.9 up to AND "
            "including 1.0.",
        )
    expect(
        np.isclose(got, want, atol=1e-6),
        f"on 6 slices whose top bin mixes confidence 1.0 with 0.95 and 0.93, your ECE is "
        f"{got:.4f}; expected {want:.4f}.",
        "Confidence 1.0 belongs in the last bin, with the other confidences from 0.9 up.",
    )


# ----------------------------------------------------------------------- Exercise 7


def _nll(logits: np.ndarray, y: np.ndarray, t: float) -> float:
    """Mean NLL of ``softmax(logits / t)`` at the true classes, in float64."""
    z = torch.as_tensor(logits, dtype=torch.float64) / t
    return float(torch.nn.functional.cross_entropy(z, torch.as_tensor(y)))


def _calibration_logits(n: int, scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits of a model that is right 70 % of the time, sure of itself by ``scale``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    logits = rng.normal(size=(n, 4))
    right = rng.random(n) < 0.7
    logits[np.arange(n), np.where(right, y, (y + 1) % 4)] += scale
    return logits, y


@check(
    "nll_at_temperature",
    hint="Divide, turn into log-probabilities in a way that cannot overflow, pick each slice's "
    "true class, then average and change the sign.",
)
def check_nll_at_temperature(nll_at_temperature) -> None:
    """Check ``nll_at_temperature(logits, y, t) -> float`` against PyTorch's cross-entropy."""
    expect_own_code(
        nll_at_temperature,
        "cross_entropy",
        "nll_loss",
        "log_loss",
        "log_softmax",
        "apply_temperature",
        "fit_temperature",
        exercise="nll_at_temperature",
    )
    logits, y = _calibration_logits(40, 4.0, seed=5)
    for t in (1.0, 0.5, 2.5):
        scratch = logits.copy()
        got = _expect_number(
            _quietly(nll_at_temperature, scratch, y.copy(), t), f"nll_at_temperature(t={t})"
        )
        expect(
            np.array_equal(scratch, logits),
            "nll_at_temperature changed the logits (divided them in place?).",
            "Make a new array for the scaled logits.",
        )
        want = _nll(logits, y, t)
        if t != 1.0 and np.isclose(got, _nll(logits * t, y, 1.0)):
            fail(
                f"at t={t} you returned the NLL of the logits MULTIPLIED by t.",
                "Temperature scaling divides the logits: a large T makes the probabilities softer.",
            )
        if np.isclose(got, -want):
            fail(
                f"at t={t} you returned {got:.4f}, a negative number: the sign is missing.",
                "A log-probability is at most 0, so its negative (the NLL) is at least 0.",
            )
        if np.isclose(got, want * len(y)):
            fail(
                f"at t={t} you returned the sum over the {len(y)} slices, not the mean.",
                "Average over the slices, so that the NLL does not grow with the data.",
            )
        predicted = logits.argmax(axis=1)
        if np.isclose(got, _nll(logits, predicted, t)) and not np.isclose(got, want):
            fail(
                f"at t={t} you took the log-probability of the PREDICTED class.",
                "The likelihood is that of the true label y of each slice.",
            )
        for base in (2.0, 10.0):
            if np.isclose(got, want / np.log(base)):
                fail(
                    f"at t={t} your NLL is in base-{base:g} logarithms.",
                    "Use the natural logarithm, as the cross-entropy does.",
                )
        expect(
            np.isclose(got, want, rtol=1e-5, atol=1e-6),
            f"nll_at_temperature(logits, y, t={t}) is {got:.4f}; expected {want:.4f}.",
            "The NLL is the mean, over slices, of minus the log of the softmax probability of "
            "the true class, after dividing the logits by t.",
        )
    big = logits * 300  # logits in the thousands: exp overflows, tiny probabilities round to 0
    got = _expect_number(_quietly(nll_at_temperature, big, y.copy(), 1.0), "nll_at_temperature")
    want = _nll(big, y, 1.0)
    expect(
        np.isfinite(got),
        f"with logits in the thousands your NLL is {got}: an exp overflowed, or a probability "
        "rounded to 0 before its log.",
        "Softmax does not change when you subtract the same number from a row's logits; "
        "subtract the row's largest one, and take the log without going through the "
        "probabilities.",
    )
    expect(
        np.isclose(got, want, rtol=1e-5),
        f"with logits in the thousands your NLL is {got:.4f}; expected {want:.4f}.",
        "Work with log-probabilities all the way: a probability that rounds to 0 has lost its "
        "logarithm.",
    )


# ----------------------------------------------------------------------- Exercise 8


@check(
    "fit_temperature_grid",
    hint="Compute the NLL at every candidate temperature, then return the temperature (not "
    "the NLL, not its position) where it is smallest.",
)
def check_fit_temperature_grid(fit_temperature_grid) -> None:
    """Check ``fit_temperature_grid(logits, y, temperatures) -> float`` (the grid's best T)."""
    expect_own_code(
        fit_temperature_grid,
        "fit_temperature",
        "minimize",
        "minimize_scalar",
        exercise="fit_temperature_grid",
    )
    grid = np.round(np.arange(0.2, 5.01, 0.1), 10)
    for scale, kind in ((6.0, "over-confident"), (0.8, "under-confident")):
        logits, y = _calibration_logits(300, scale, seed=3)
        nlls = np.array([_nll(logits, y, t) for t in grid])
        scratch = logits.copy()
        got = _expect_number(
            fit_temperature_grid(scratch, y.copy(), grid.copy()),
            f"fit_temperature_grid on {kind} logits",
        )
        expect(
            np.array_equal(scratch, logits),
            "fit_temperature_grid changed the logits.",
            "Divide into a new array at each temperature.",
        )
        best = float(grid[np.argmin(nlls)])
        if np.isclose(got, grid[np.argmax(nlls)]) and not np.isclose(got, best):
            fail(
                f"on {kind} logits you picked T = {got:.2f}, the temperature with the LARGEST NLL.",
                "The NLL is a loss: the best temperature makes it smallest.",
            )
        if np.isclose(got, nlls.min()) and not np.isclose(got, best):
            fail(
                f"on {kind} logits you returned {got:.4f}, the smallest NLL itself.",
                "Return the temperature at which the NLL is smallest.",
            )
        if float(got).is_integer() and 0 <= got < len(grid) and not np.isclose(got, best):
            if int(got) == int(np.argmin(nlls)):
                fail(
                    f"on {kind} logits you returned {int(got)}, the POSITION of the best "
                    "temperature in the grid.",
                    "Look the position up in the grid and return the temperature itself.",
                )
        library = _metrics.fit_temperature(logits, y)
        expect(
            np.isclose(got, best),
            f"on {kind} logits you picked T = {got:.2f}, which is not the grid's temperature "
            "with the smallest NLL.",
            "Is your nll_at_temperature from exercise 7 passing? Compare every candidate, the "
            "first and the last included.",
        )
        expect(
            abs(got - library) <= 0.1,
            f"on {kind} logits your T = {got:.2f} is more than one grid step from "
            f"course_lib's fit_temperature ({library:.2f}).",
            "The grid's best temperature should lie next to the continuous optimum.",
        )


# ----------------------------------------------------------------------- Exercise 9


def _tta_model() -> torch.nn.Module:
    """A tiny seeded classifier of (N, 1, 3, 4) images into 3 classes, with dropout."""
    generator = torch.Generator().manual_seed(0)
    linear = torch.nn.Linear(12, 3)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(3, 12, generator=generator) * 2)
        linear.bias.copy_(torch.randn(3, generator=generator))
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), linear)


def _tta_images() -> torch.Tensor:
    """A fresh batch of 5 non-square images (N, 1, 3, 4), float32."""
    generator = torch.Generator().manual_seed(1)
    return torch.rand(5, 1, 3, 4, generator=generator)


@check(
    "tta_probs",
    hint="Ask the model in evaluation mode about the images and about their mirror images; "
    "average what a clinician would read, the probabilities.",
)
def check_tta_probs(tta_probs) -> None:
    """Check ``tta_probs(model, images) -> (N, C) probabilities`` of horizontal-flip TTA."""
    expect_own_code(
        tta_probs, "collect_predictions", "predict_split", "TTA_VIEWS", exercise="tta_probs"
    )
    model, images = _tta_model(), _tta_images()
    model.train()  # as a model often is, straight after training
    got = tta_probs(model, images)
    expect(
        torch.equal(images, _tta_images()),
        "tta_probs changed the images (flipped them in place?).",
        "Make the flipped batch a new tensor.",
    )
    expect(
        isinstance(got, torch.Tensor | np.ndarray),
        f"tta_probs returned {_show(got)}; expected a tensor of shape (5, 3).",
        "Return one row of class probabilities per image.",
    )
    got = torch.as_tensor(np.asarray(got.detach() if isinstance(got, torch.Tensor) else got))
    expect(
        tuple(got.shape) == (5, 3),
        f"tta_probs returned shape {tuple(got.shape)}; expected (5, 3): 5 images, 3 classes.",
        "Average over the views, not over the images or the classes.",
    )
    got = got.double()
    reference = _tta_model().eval()
    x = _tta_images()
    with torch.no_grad():
        plain, hflip = reference(x), reference(torch.flip(x, dims=(-1,)))
        vflip, batch = reference(torch.flip(x, dims=(-2,))), reference(torch.flip(x, dims=(0,)))
    soft = {name: torch.softmax(out.double(), dim=1) for name, out in
            [("plain", plain), ("hflip", hflip), ("vflip", vflip), ("batch", batch)]}  # fmt: skip
    want = (soft["plain"] + soft["hflip"]) / 2

    def close(a: torch.Tensor) -> bool:
        return bool(torch.allclose(got, a.double(), atol=1e-5))

    if close(want):
        return
    if close(torch.softmax((plain.double() + hflip.double()) / 2, dim=1)):
        fail(
            "tta_probs averaged the LOGITS of the two views and then took the softmax.",
            "Turn each view's logits into probabilities first, then average those: the "
            "average of two probabilities is still a probability, with a clear meaning.",
        )
    if close((plain.double() + hflip.double()) / 2):
        fail(
            "tta_probs returned averaged logits: the rows do not sum to 1.",
            "Turn each view's logits into probabilities before you average them.",
        )
    if close((soft["plain"] + soft["vflip"]) / 2):
        fail(
            "tta_probs flipped the images upside down (the height axis).",
            "A left-right mirror flips the LAST axis, the width.",
        )
    if close((soft["plain"] + soft["batch"]) / 2):
        fail(
            "tta_probs flipped the order of the images in the batch, not the images.",
            "A left-right mirror flips the LAST axis, the width.",
        )
    if close(soft["plain"]):
        fail(
            "tta_probs returned the plain prediction: the mirrored view is missing.",
            "Ask the model twice, about the images and about their mirror images.",
        )
    if close(soft["hflip"]):
        fail(
            "tta_probs returned only the mirrored view's prediction.",
            "Average the two views: the original and the mirrored one.",
        )
    if model.training:
        fail(
            "tta_probs left the model in training mode: dropout made its answers random.",
            "Switch the model to evaluation mode before you predict.",
        )
    fail(
        f"tta_probs has the right shape but wrong values (largest difference "
        f"{float((got - want).abs().max()):.4g}).",
        "Softmax over the classes of each view, then the mean of the two views.",
    )


# ----------------------------------------------------------------------- Exercise 10


def _mistake_case() -> tuple[np.ndarray, np.ndarray]:
    """8 slices, 3 classes: 4 mistakes with distinct confidences, 4 right answers."""
    probs = np.array(
        [
            [0.97, 0.02, 0.01],  # right, most confident of all
            [0.10, 0.85, 0.05],  # wrong (true 0), confidence 0.85
            [0.30, 0.30, 0.40],  # wrong (true 1), confidence 0.40
            [0.05, 0.90, 0.05],  # right
            [0.13, 0.12, 0.75],  # wrong (true 1), confidence 0.75
            [0.60, 0.05, 0.35],  # wrong (true 2), confidence 0.60
            [0.20, 0.20, 0.60],  # right
            [0.50, 0.45, 0.05],  # right
        ]
    )
    return probs, np.array([0, 0, 1, 1, 1, 2, 2, 0])


@check(
    "most_confident_errors",
    hint="Keep only the wrong slices, then order them by how sure the model was of its "
    "(wrong) answer, surest first.",
)
def check_most_confident_errors(most_confident_errors) -> None:
    """Check ``most_confident_errors(y_true, probs, k) -> int array of row indices``."""
    expect_own_code(
        most_confident_errors, "most_confident_mistakes", exercise="most_confident_errors"
    )
    probs, y = _mistake_case()
    p_copy, y_copy = probs.copy(), y.copy()
    got = most_confident_errors(y_copy, p_copy, 3)
    expect(
        np.array_equal(p_copy, probs) and np.array_equal(y_copy, y),
        "most_confident_errors changed its input.",
        "Sort copies; do not assign into probs or y_true.",
    )
    expect(
        isinstance(got, np.ndarray) and np.issubdtype(got.dtype, np.integer) and got.ndim == 1,
        f"most_confident_errors returned {_show(got)}; expected a 1-D integer NumPy array of "
        "row indices.",
        "Return the positions of the slices in the data, as integers.",
    )
    got = [int(i) for i in got]
    if got and got[0] == 0:
        fail(
            "row 0 is in your answer, but the model got it right (it is the most confident "
            "prediction of all, not a mistake).",
            "A mistake is a slice whose predicted class (the largest probability) is not its "
            "true class: leave the others out.",
        )
    if got == [2, 5, 4]:
        fail(
            "your mistakes come least confident first.",
            "Sort by confidence from the highest down.",
        )
    if got in ([5, 2, 4], [1, 4, 2]):
        fail(
            "you ranked the mistakes by the probability of the TRUE class.",
            "Rank by the confidence of the model's own (wrong) answer: its largest probability.",
        )
    expect(
        got == [1, 4, 5],
        f"for k=3 you returned rows {got}; the 3 most confident mistakes are other rows, or in "
        "another order.",
        "Wrong slices only, then surest first, then the first k.",
    )
    got = [int(i) for i in most_confident_errors(y.copy(), probs.copy(), 10)]
    expect(
        got == [1, 4, 5, 2],
        f"for k=10 you returned rows {got}; there are only 4 mistakes, so expected those 4, "
        "surest first.",
        "When there are fewer than k mistakes, return all of them and no right answers.",
    )
    none = most_confident_errors(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]), 3)
    expect(
        isinstance(none, np.ndarray) and none.size == 0,
        f"with no mistake at all most_confident_errors returned {_show(none)}; expected an "
        "empty array.",
        "No wrong slice: nothing to show.",
    )
