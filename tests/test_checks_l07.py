"""Lesson 07 checks: pass on reference answers, "not answered yet" on stubs, hints on mistakes."""

import numpy as np
import pytest

from course_lib.checks import CheckFailed, l07
from course_lib.metrics import expected_calibration_error as reference_ece


def stub(*args, **kwargs):
    raise NotImplementedError("count from the confusion matrix")


def sensitivity_specificity(cm, k):
    tp = cm[k, k]
    fn = cm[k].sum() - tp
    fp = cm[:, k].sum() - tp
    tn = cm.sum() - tp - fn - fp
    return tp / (tp + fn), tn / (tn + fp)


def patient_bootstrap_indices(patient_ids, rng):
    patients = np.unique(patient_ids)
    drawn = rng.choice(patients, size=len(patients), replace=True)
    return np.concatenate([np.flatnonzero(patient_ids == p) for p in drawn])


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


def threshold_for_sensitivity(y, scores, target):
    positives = np.sort(scores[y == 1])[::-1]
    return float(positives[int(np.ceil(target * len(positives))) - 1])


def wilson_interval(k, n, z):
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return max(0.0, centre - half), min(1.0, centre + half)


REFERENCE = [
    (l07.check_sensitivity_specificity, sensitivity_specificity),
    (l07.check_patient_bootstrap_indices, patient_bootstrap_indices),
    (l07.check_expected_calibration_error, expected_calibration_error),
    (l07.check_threshold_for_sensitivity, threshold_for_sensitivity),
    (l07.check_wilson_interval, wilson_interval),
]


@pytest.mark.parametrize(("checker", "answer"), REFERENCE)
def test_l07_checks_pass_on_solution(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out


@pytest.mark.parametrize(("checker", "answer"), REFERENCE)
def test_l07_checks_say_not_answered_on_stub(checker, answer):
    with pytest.raises(CheckFailed, match=r"(?s)not answered yet.*Hint: "):
        checker(stub)


def test_reference_ece_answer_matches_the_library():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4), size=50)
    y = rng.integers(0, 4, size=50)
    for n_bins in (1, 7, 15):
        got = expected_calibration_error(probs, y, n_bins)
        assert got == pytest.approx(reference_ece(probs, y, n_bins=n_bins))


def transposed(cm, k):
    return sensitivity_specificity(cm.T, k)


def wrong_specificity(cm, k):
    sens, _ = sensitivity_specificity(cm, k)
    return sens, 1 - sens


def single_value(cm, k):
    return cm[k, k] / cm[k].sum()


def slice_level(patient_ids, rng):
    return rng.integers(0, len(patient_ids), size=len(patient_ids))


def global_random(patient_ids, rng):
    return patient_bootstrap_indices(patient_ids, np.random.default_rng())


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


def too_low(y, scores, target):
    return float(scores[y == 1].min())


def too_high(y, scores, target):
    return float(np.sort(scores[y == 1])[::-1][int(target * (y == 1).sum()) - 1] + 0.01)


def wald(k, n, z):
    p = k / n
    half = z * np.sqrt(p * (1 - p) / n)
    return p - half, p + half


def wald_clipped_inside(k, n, z):
    if k in (0, n):
        return wilson_interval(k, n, z)
    return wald(k, n, z)


def wilson_one_value(k, n, z):
    return wilson_interval(k, n, z)[0]


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l07.check_sensitivity_specificity, transposed, "precision"),
        (l07.check_sensitivity_specificity, wrong_specificity, "specificity of class 0"),
        (l07.check_sensitivity_specificity, single_value, "expected a pair"),
        (l07.check_patient_bootstrap_indices, slice_level, "patients were split up"),
        (l07.check_patient_bootstrap_indices, global_random, "same seeded rng"),
        (l07.check_expected_calibration_error, unweighted_bins, "plain mean"),
        (l07.check_expected_calibration_error, confidence_one_out_of_range, "LAST bin"),
        (l07.check_threshold_for_sensitivity, too_low, "largest threshold"),
        (l07.check_threshold_for_sensitivity, too_high, "below the target"),
        (l07.check_wilson_interval, wald, "a point"),
        (l07.check_wilson_interval, wald_clipped_inside, "Wald interval's"),
        (l07.check_wilson_interval, wilson_one_value, "expected a pair"),
    ],
)
def test_l07_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}") as error:
        checker(wrong)
    assert "Hint:" in str(error.value)


def test_patient_bootstrap_check_catches_missing_patients_and_bad_types():
    def only_first_patients(patient_ids, rng):
        patients = np.unique(patient_ids)[:3]
        drawn = rng.choice(patients, size=5, replace=True)
        return np.concatenate([np.flatnonzero(patient_ids == p) for p in drawn])

    def as_list(patient_ids, rng):
        return patient_bootstrap_indices(patient_ids, rng).tolist()

    def patient_names(patient_ids, rng):
        return rng.choice(np.unique(patient_ids), size=5)

    with pytest.raises(CheckFailed, match="never drawn"):
        l07.check_patient_bootstrap_indices(only_first_patients)
    with pytest.raises(CheckFailed, match="integer NumPy array"):
        l07.check_patient_bootstrap_indices(as_list)
    with pytest.raises(CheckFailed, match="integer NumPy array"):
        l07.check_patient_bootstrap_indices(patient_names)
