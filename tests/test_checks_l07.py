"""Lesson 07 checks: pass on reference answers, "not answered yet" on stubs, hints on mistakes."""

import re

import numpy as np
import pytest
import torch

from course_lib import metrics
from course_lib.checks import CheckFailed, l07


def stub(*args, **kwargs):
    raise NotImplementedError("count from the confusion matrix")


# ------------------------------------------------------------------ reference answers


def sensitivity_specificity(cm, k):
    tp = cm[k, k]
    fn = cm[k].sum() - tp
    fp = cm[:, k].sum() - tp
    tn = cm.sum() - tp - fn - fp
    return tp / (tp + fn), tn / (tn + fp)


def auroc(y, scores):
    pos, neg = scores[y == 1], scores[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def auroc_by_ranks(y, scores):
    """A correct alternative: the Mann-Whitney U statistic from mid-ranks."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    n_pos, n_neg = int(np.sum(y == 1)), int(np.sum(y == 0))
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def threshold_for_sensitivity(y, scores, target):
    positives = np.sort(scores[y == 1])[::-1]
    return float(positives[int(np.ceil(target * len(positives))) - 1])


def patient_bootstrap_indices(patient_ids, rng):
    patients = np.unique(patient_ids)
    drawn = rng.choice(patients, size=len(patients), replace=True)
    return np.concatenate([np.flatnonzero(patient_ids == p) for p in drawn])


def patient_bootstrap_by_position(patient_ids, rng):
    """A correct alternative: draw patient positions with integers."""
    patients = np.unique(patient_ids)
    drawn = patients[rng.integers(0, len(patients), len(patients))]
    return np.concatenate([np.flatnonzero(patient_ids == p) for p in drawn])


def wilson_interval(k, n, z):
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


def expected_calibration_error(probs, y_true, n_bins):
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        members = bins == b
        if members.any():
            ece += members.mean() * abs(correct[members].mean() - conf[members].mean())
    return float(ece)


def nll_at_temperature(logits, y, t):
    z = logits / t
    z = z - z.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean())


def fit_temperature_grid(logits, y, temperatures):
    nlls = [nll_at_temperature(logits, y, t) for t in temperatures]
    return float(temperatures[int(np.argmin(nlls))])


def tta_probs(model, images):
    model.eval()
    with torch.no_grad():
        plain = torch.softmax(model(images), dim=1)
        mirrored = torch.softmax(model(torch.flip(images, dims=(-1,))), dim=1)
    return (plain + mirrored) / 2


def most_confident_errors(y_true, probs, k):
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    order = np.argsort(-probs[wrong].max(axis=1), kind="stable")
    return wrong[order][:k]


REFERENCE = [
    (l07.check_sensitivity_specificity, sensitivity_specificity),
    (l07.check_auroc, auroc),
    (l07.check_auroc, auroc_by_ranks),
    (l07.check_threshold_for_sensitivity, threshold_for_sensitivity),
    (l07.check_patient_bootstrap_indices, patient_bootstrap_indices),
    (l07.check_patient_bootstrap_indices, patient_bootstrap_by_position),
    (l07.check_wilson_interval, wilson_interval),
    (l07.check_expected_calibration_error, expected_calibration_error),
    (l07.check_nll_at_temperature, nll_at_temperature),
    (l07.check_fit_temperature_grid, fit_temperature_grid),
    (l07.check_tta_probs, tta_probs),
    (l07.check_most_confident_errors, most_confident_errors),
]
IDS = [answer.__name__ for _, answer in REFERENCE]


@pytest.mark.parametrize(("checker", "answer"), REFERENCE, ids=IDS)
def test_l07_checks_pass_on_solution(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out


@pytest.mark.parametrize(("checker", "answer"), REFERENCE, ids=IDS)
def test_l07_checks_say_not_answered_on_stub(checker, answer):
    with pytest.raises(CheckFailed, match=r"(?s)not answered yet.*\nHint: "):
        checker(stub)


def test_l07_reference_answers_match_the_library():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4), size=50)
    y = rng.integers(0, 4, size=50)
    for n_bins in (1, 7, 15):
        got = expected_calibration_error(probs, y, n_bins)
        assert got == pytest.approx(metrics.expected_calibration_error(probs, y, n_bins=n_bins))
    logits, y = l07._calibration_logits(200, 5.0, seed=8)
    grid = np.round(np.arange(0.2, 5.01, 0.05), 10)
    assert fit_temperature_grid(logits, y, grid) == pytest.approx(
        metrics.fit_temperature(logits, y), abs=0.05
    )
    low, high = wilson_interval(20, 20, 1.959963984540054)
    want = metrics.proportion_ci(20, 20)
    assert (low, high) == pytest.approx((want.low, want.high))


# ------------------------------------------------------------------ typical wrong answers


def transposed(cm, k):
    return sensitivity_specificity(cm.T, k)


def wrong_specificity(cm, k):
    sens, _ = sensitivity_specificity(cm, k)
    return sens, 1 - sens


def negative_predictive_value(cm, k):
    tp = cm[k, k]
    fn = cm[k].sum() - tp
    fp = cm[:, k].sum() - tp
    tn = cm.sum() - tp - fn - fp
    return tp / (tp + fn), tn / (tn + fn)


def true_negatives_minus_tp(cm, k):
    tp = cm[k, k]
    fp = cm[:, k].sum() - tp
    tn = cm.sum() - cm[k].sum() - cm[:, k].sum()
    return tp / cm[k].sum(), tn / (tn + fp)


def single_value(cm, k):
    return cm[k, k] / cm[k].sum()


def library_report(cm, k):
    return metrics.classification_report_frame(cm, k)


def auroc_swapped(y, scores):
    return 1 - auroc(y, scores)


def auroc_ties_lost(y, scores):
    pos, neg = scores[y == 1], scores[y == 0]
    return float(np.mean(pos[:, None] > neg[None, :]))


def auroc_ties_won(y, scores):
    pos, neg = scores[y == 1], scores[y == 0]
    return float(np.mean(pos[:, None] >= neg[None, :]))


def auroc_accuracy(y, scores):
    return float(np.mean((scores >= 0.5) == (y == 1)))


def auroc_sklearn(y, scores):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, scores))


def auroc_sorts_in_place(y, scores):
    result = auroc(y, scores)
    scores.sort()
    return result


def threshold_too_low(y, scores, target):
    return float(scores[y == 1].min())


def threshold_too_high(y, scores, target):
    return float(np.sort(scores[y == 1])[::-1][int(target * (y == 1).sum()) - 1] + 0.01)


def threshold_library(y, scores, target):
    return metrics.threshold_for_sensitivity(y, scores, target)


def slice_level(patient_ids, rng):
    return rng.integers(0, len(patient_ids), size=len(patient_ids))


def rows_then_patients(patient_ids, rng):
    """The hole: draw rows (slices), then take all the slices of each drawn row's patient."""
    n_patients = len(np.unique(patient_ids))
    rows = rng.choice(len(patient_ids), size=n_patients, replace=True)
    return np.concatenate([np.flatnonzero(patient_ids == patient_ids[r]) for r in rows])


def without_replacement(patient_ids, rng):
    patients = np.unique(patient_ids)
    drawn = rng.choice(patients, size=len(patients), replace=False)
    return np.concatenate([np.flatnonzero(patient_ids == p) for p in drawn])


def one_draw_per_slice(patient_ids, rng):
    drawn = rng.choice(np.unique(patient_ids), size=len(patient_ids), replace=True)
    return np.concatenate([np.flatnonzero(patient_ids == p) for p in drawn])


def global_random(patient_ids, rng):
    return patient_bootstrap_indices(patient_ids, np.random.default_rng())


def only_first_patients(patient_ids, rng):
    patients = np.unique(patient_ids)[:3]
    drawn = rng.choice(patients, size=len(np.unique(patient_ids)), replace=True)
    return np.concatenate([np.flatnonzero(patient_ids == p) for p in drawn])


def as_list(patient_ids, rng):
    return patient_bootstrap_indices(patient_ids, rng).tolist()


def patient_names(patient_ids, rng):
    return rng.choice(np.unique(patient_ids), size=5)


def wald(k, n, z):
    p = k / n
    half = z * np.sqrt(p * (1 - p) / n)
    return p - half, p + half


def wald_clipped_inside(k, n, z):
    if k in (0, n):
        return wilson_interval(k, n, z)
    return wald(k, n, z)


def wilson_centred_at_p(k, n, z):
    centre, _ = wilson_interval(k, n, z)
    low, high = wilson_interval(k, n, z)
    half = (high - low) / 2
    return k / n - half, k / n + half


def wilson_missing_term(k, n, z):
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n)
    return centre - half, centre + half


def wilson_one_value(k, n, z):
    return wilson_interval(k, n, z)[0]


def wilson_numpy_triple(k, n, z):
    low, high = wilson_interval(k, n, z)
    return np.float64(low), np.float64(high), np.int64(n)


def wilson_library(k, n, z):
    interval = metrics.proportion_ci(k, n)
    return interval.low, interval.high


def unweighted_bins(probs, y_true, n_bins):
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    gaps = [abs(correct[bins == b].mean() - conf[bins == b].mean())
            for b in range(n_bins) if np.any(bins == b)]  # fmt: skip
    return float(np.mean(gaps))


def confidence_one_out_of_range(probs, y_true, n_bins):
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    bins = (conf * n_bins).astype(int)  # conf == 1 lands in bin n_bins, which is then skipped
    return float(
        sum(
            (bins == b).mean() * abs(correct[bins == b].mean() - conf[bins == b].mean())
            for b in range(n_bins)
            if np.any(bins == b)
        )
    )


def confidence_one_in_own_bin(probs, y_true, n_bins):
    """The hole: 1.0 gets bin n_bins of its own, which is kept (range(n_bins + 1))."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    bins = (conf * n_bins).astype(int)
    return float(
        sum(
            (bins == b).mean() * abs(correct[bins == b].mean() - conf[bins == b].mean())
            for b in range(n_bins + 1)
            if np.any(bins == b)
        )
    )


def empty_bins_nan(probs, y_true, n_bins):
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    return float(
        sum(
            (bins == b).mean() * abs(correct[bins == b].mean() - conf[bins == b].mean())
            for b in range(n_bins)
        )
    )


def true_class_confidence(probs, y_true, n_bins):
    conf = probs[np.arange(len(y_true)), y_true]
    correct = probs.argmax(axis=1) == y_true
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    return float(
        sum(
            (bins == b).mean() * abs(correct[bins == b].mean() - conf[bins == b].mean())
            for b in range(n_bins)
            if np.any(bins == b)
        )
    )


def ece_library(probs, y_true, n_bins):
    return metrics.expected_calibration_error(probs, y_true, n_bins=n_bins)


def nll_multiplied(logits, y, t):
    return nll_at_temperature(logits * t * t, y, t)


def nll_no_sign(logits, y, t):
    return -nll_at_temperature(logits, y, t)


def nll_sum(logits, y, t):
    return nll_at_temperature(logits, y, t) * len(y)


def nll_predicted_class(logits, y, t):
    return nll_at_temperature(logits, logits.argmax(axis=1), t)


def nll_log2(logits, y, t):
    return nll_at_temperature(logits, y, t) / np.log(2)


def nll_naive(logits, y, t):
    z = np.exp(logits / t)
    probs = z / z.sum(axis=1, keepdims=True)
    return float(-np.log(probs[np.arange(len(y)), y]).mean())


def nll_in_place(logits, y, t):
    logits /= t
    return nll_at_temperature(logits, y, 1.0)


def nll_torch(logits, y, t):
    z = torch.as_tensor(logits) / t
    return float(torch.nn.functional.cross_entropy(z, torch.as_tensor(y)))


def grid_argmax(logits, y, temperatures):
    nlls = [nll_at_temperature(logits, y, t) for t in temperatures]
    return float(temperatures[int(np.argmax(nlls))])


def grid_index(logits, y, temperatures):
    nlls = [nll_at_temperature(logits, y, t) for t in temperatures]
    return int(np.argmin(nlls))


def grid_min_nll(logits, y, temperatures):
    return float(min(nll_at_temperature(logits, y, t) for t in temperatures))


def grid_skips_last(logits, y, temperatures):
    return fit_temperature_grid(logits, y, temperatures[:5])


def grid_library(logits, y, temperatures):
    return metrics.fit_temperature(logits, y)


def tta_average_logits(model, images):
    model.eval()
    with torch.no_grad():
        return torch.softmax((model(images) + model(torch.flip(images, dims=(-1,)))) / 2, dim=1)


def tta_logits_only(model, images):
    model.eval()
    with torch.no_grad():
        return (model(images) + model(torch.flip(images, dims=(-1,)))) / 2


def tta_vertical(model, images):
    model.eval()
    with torch.no_grad():
        plain = torch.softmax(model(images), dim=1)
        return (plain + torch.softmax(model(torch.flip(images, dims=(-2,))), dim=1)) / 2


def tta_batch_flip(model, images):
    model.eval()
    with torch.no_grad():
        plain = torch.softmax(model(images), dim=1)
        return (plain + torch.softmax(model(torch.flip(images, dims=(0,))), dim=1)) / 2


def tta_no_flip(model, images):
    model.eval()
    with torch.no_grad():
        return torch.softmax(model(images), dim=1)


def tta_train_mode(model, images):
    with torch.no_grad():
        plain = torch.softmax(model(images), dim=1)
        return (plain + torch.softmax(model(torch.flip(images, dims=(-1,))), dim=1)) / 2


def tta_in_place(model, images):
    result = tta_probs(model, images)
    images[:] = torch.flip(images, dims=(-1,))
    return result


def tta_library(model, images):
    from course_lib.evaluation import collect_predictions

    return collect_predictions(model, [(images, torch.zeros(len(images)))], tta=("hflip",)).probs


def errors_include_right(y_true, probs, k):
    return np.argsort(-probs.max(axis=1), kind="stable")[:k]


def errors_ascending(y_true, probs, k):
    wrong = np.flatnonzero(probs.argmax(axis=1) != y_true)
    return wrong[np.argsort(probs[wrong].max(axis=1), kind="stable")][:k]


def errors_by_true_class(y_true, probs, k):
    wrong = np.flatnonzero(probs.argmax(axis=1) != y_true)
    return wrong[np.argsort(probs[wrong, y_true[wrong]], kind="stable")][:k]


def errors_padded(y_true, probs, k):
    pred = probs.argmax(axis=1)
    order = np.argsort(-probs.max(axis=1) - 10 * (pred != y_true), kind="stable")
    return order[:k]


def errors_as_list(y_true, probs, k):
    return most_confident_errors(y_true, probs, k).tolist()


def errors_library(y_true, probs, k):
    from course_lib.evaluation import most_confident_mistakes

    return most_confident_mistakes(y_true, probs, k=k).index.to_numpy()


MISTAKES = [
    (l07.check_sensitivity_specificity, transposed, "precision"),
    (l07.check_sensitivity_specificity, wrong_specificity, "specificity of class 0"),
    (l07.check_sensitivity_specificity, negative_predictive_value, "negative predictive value"),
    (l07.check_sensitivity_specificity, true_negatives_minus_tp, "share that cell"),
    (l07.check_sensitivity_specificity, single_value, "expected a pair"),
    (l07.check_sensitivity_specificity, library_report, "calls classification_report_frame"),
    (l07.check_auroc, auroc_swapped, "one minus the AUROC"),
    (l07.check_auroc, auroc_ties_lost, "tied pairs counted as wrong"),
    (l07.check_auroc, auroc_ties_won, "tied pairs counted as right"),
    (l07.check_auroc, auroc_accuracy, "accuracy at the threshold 0.5"),
    (l07.check_auroc, auroc_sklearn, "calls roc_auc_score"),
    (l07.check_auroc, auroc_sorts_in_place, "changed its input"),
    (l07.check_threshold_for_sensitivity, threshold_too_low, "a larger threshold also does"),
    (l07.check_threshold_for_sensitivity, threshold_too_high, "below the target"),
    (l07.check_threshold_for_sensitivity, threshold_library, "calls threshold_for_sensitivity"),
    (l07.check_patient_bootstrap_indices, slice_level, "patients were split up"),
    (l07.check_patient_bootstrap_indices, rows_then_patients, "You drew rows"),
    (l07.check_patient_bootstrap_indices, without_replacement, "without replacement"),
    (l07.check_patient_bootstrap_indices, one_draw_per_slice, "one per slice"),
    (l07.check_patient_bootstrap_indices, global_random, "same seeded rng"),
    (l07.check_patient_bootstrap_indices, only_first_patients, "never drawn"),
    (l07.check_patient_bootstrap_indices, as_list, "integer NumPy array"),
    (l07.check_patient_bootstrap_indices, patient_names, "integer NumPy array"),
    (l07.check_wilson_interval, wald, "a point"),
    (l07.check_wilson_interval, wald_clipped_inside, "Wald interval's"),
    (l07.check_wilson_interval, wilson_centred_at_p, "centred at p"),
    (l07.check_wilson_interval, wilson_missing_term, "a point"),
    (l07.check_wilson_interval, wilson_one_value, "expected a pair"),
    (l07.check_wilson_interval, wilson_numpy_triple, r"returned \(0\.8389, 1, 20\)"),
    (l07.check_wilson_interval, wilson_library, "calls proportion_ci"),
    (l07.check_expected_calibration_error, unweighted_bins, "plain mean"),
    (l07.check_expected_calibration_error, confidence_one_out_of_range, "LAST bin"),
    (l07.check_expected_calibration_error, confidence_one_in_own_bin, "a bin of its own"),
    (l07.check_expected_calibration_error, empty_bins_nan, "empty bin"),
    (l07.check_expected_calibration_error, true_class_confidence, "TRUE class"),
    (l07.check_expected_calibration_error, ece_library, "calls expected_calibration_error"),
    (l07.check_nll_at_temperature, nll_multiplied, "MULTIPLIED"),
    (l07.check_nll_at_temperature, nll_no_sign, "the sign is missing"),
    (l07.check_nll_at_temperature, nll_sum, "the sum over"),
    (l07.check_nll_at_temperature, nll_predicted_class, "PREDICTED class"),
    (l07.check_nll_at_temperature, nll_log2, "base-2"),
    (l07.check_nll_at_temperature, nll_naive, "logits in the thousands"),
    (l07.check_nll_at_temperature, nll_in_place, "changed the logits"),
    (l07.check_nll_at_temperature, nll_torch, "calls cross_entropy"),
    (l07.check_fit_temperature_grid, grid_argmax, "LARGEST"),
    (l07.check_fit_temperature_grid, grid_index, "POSITION"),
    (l07.check_fit_temperature_grid, grid_min_nll, "the smallest NLL itself"),
    (l07.check_fit_temperature_grid, grid_skips_last, "not the grid's temperature"),
    (l07.check_fit_temperature_grid, grid_library, "calls fit_temperature"),
    (l07.check_tta_probs, tta_average_logits, "averaged the LOGITS"),
    (l07.check_tta_probs, tta_logits_only, "do not sum to 1"),
    (l07.check_tta_probs, tta_vertical, "upside down"),
    (l07.check_tta_probs, tta_batch_flip, "order of the images"),
    (l07.check_tta_probs, tta_no_flip, "mirrored view is missing"),
    (l07.check_tta_probs, tta_train_mode, "training mode"),
    (l07.check_tta_probs, tta_in_place, "changed the images"),
    (l07.check_tta_probs, tta_library, "calls collect_predictions"),
    (l07.check_most_confident_errors, errors_include_right, "got it right"),
    (l07.check_most_confident_errors, errors_ascending, "least confident first"),
    (l07.check_most_confident_errors, errors_by_true_class, "TRUE class"),
    (l07.check_most_confident_errors, errors_padded, "fewer than k"),
    (l07.check_most_confident_errors, errors_as_list, "integer NumPy array"),
    (l07.check_most_confident_errors, errors_library, "calls most_confident_mistakes"),
]

_NUMPY_REPR = re.compile(r"np\.\w+\(|numpy\.|array\(|tensor\(|dtype\(")


@pytest.mark.parametrize(
    ("checker", "wrong", "message"), MISTAKES, ids=[wrong.__name__ for _, wrong, _ in MISTAKES]
)
def test_l07_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}") as error:
        checker(wrong)
    text = str(error.value)
    assert "Hint:" in text
    assert not _NUMPY_REPR.search(text), text


def test_l07_patient_bootstrap_without_replacement_is_not_called_not_random():
    with pytest.raises(CheckFailed) as error:
        l07.check_patient_bootstrap_indices(without_replacement)
    assert "without replacement" in str(error.value)
    assert "not random" not in str(error.value)


def test_l07_ece_puts_confidence_one_in_the_last_bin_of_a_mixed_bin():
    """The hole: a 1.0 that shares the top bin with lower confidences (not alone in it)."""
    probs, y = l07._mixed_top_bin()
    assert confidence_one_in_own_bin(probs, y, 10) != pytest.approx(
        expected_calibration_error(probs, y, 10)
    )
    with pytest.raises(CheckFailed, match="1.0 a bin of its own"):
        l07.check_expected_calibration_error(confidence_one_in_own_bin)


def test_l07_messages_never_show_numpy_reprs():
    """A pair of np.float64, an np.str_ patient id, an np.int64 count: all shown as plain text."""

    def numpy_scalars(cm, k):
        return np.float64(0.1), np.float64(0.2), np.int64(0)

    with pytest.raises(CheckFailed) as error:
        l07.check_sensitivity_specificity(numpy_scalars)
    assert "(0.1, 0.2, 0)" in str(error.value)
    assert not _NUMPY_REPR.search(str(error.value))
    with pytest.raises(CheckFailed) as error:
        l07.check_patient_bootstrap_indices(slice_level)
    assert "patient '" in str(error.value)
    assert not _NUMPY_REPR.search(str(error.value))


def test_l07_checks_are_fast():
    import time

    start = time.perf_counter()
    for checker, answer in REFERENCE:
        checker(answer)
    assert time.perf_counter() - start < 10
