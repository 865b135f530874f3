"""Checks for the lesson 06 exercises: class imbalance by hand."""

from __future__ import annotations

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from course_lib.checks import check, expect, expect_array
from course_lib.metrics import headline_metrics


def balanced_accuracy_score(y_true, y_pred) -> float:
    """Reference: mean recall over the classes present in ``y_true`` (no sklearn warning)."""
    return headline_metrics(y_true, y_pred)["balanced_accuracy"]


def _labels() -> tuple[np.ndarray, np.ndarray]:
    """Fresh imbalanced labels and predictions: 6 of class 2, 3 of class 1, 1 of class 0."""
    y_true = np.array([2, 2, 2, 2, 2, 2, 1, 1, 1, 0])
    y_pred = np.array([2, 2, 2, 2, 2, 2, 1, 2, 2, 2])
    return y_true, y_pred


def _number(got, what: str) -> float:
    expect(got is not None, f"{what} returned None.", "Did you forget to `return` the result?")
    expect(
        isinstance(got, (int, float, np.integer, np.floating)),
        f"{what} returned a {type(got).__name__}; expected one number.",
        "Return a float, e.g. float(np.mean(recalls)).",
    )
    return float(got)


@check(
    "balanced_accuracy",
    hint="For each class present in y_true: recall = correct of that class / its count; "
    "return the mean of these recalls.",
)
def check_balanced_accuracy(balanced_accuracy) -> None:
    """Check ``balanced_accuracy(y_true, y_pred) -> float``: mean recall over present classes."""
    y_true, y_pred = _labels()
    got = _number(balanced_accuracy(y_true.copy(), y_pred.copy()), "balanced_accuracy")
    expect(
        not np.isclose(got, np.mean(y_true == y_pred)),
        f"balanced_accuracy gave {got:.3f}, the plain accuracy; expected "
        f"{balanced_accuracy_score(y_true, y_pred):.3f}.",
        "Plain accuracy lets the big class dominate: average the recall of each class instead.",
    )
    expect(
        np.isclose(got, balanced_accuracy_score(y_true, y_pred)),
        f"balanced_accuracy(imbalanced example) is {got:.4f}; expected "
        f"{balanced_accuracy_score(y_true, y_pred):.4f} (recalls 0, 1/3 and 1).",
        "Recall of class k = mean(y_pred[y_true == k] == k).",
    )
    # a class that is never true (3) must not count; labels need not start at 0 or be dense
    y2 = np.array([0, 0, 1, 1, 1, 1])
    p2 = np.array([0, 3, 1, 1, 3, 3])
    got2 = _number(balanced_accuracy(y2.copy(), p2.copy()), "balanced_accuracy")
    expect(
        np.isclose(got2, balanced_accuracy_score(y2, p2)),
        f"balanced_accuracy with a class that is predicted but never true gave {got2:.4f}; "
        f"expected {balanced_accuracy_score(y2, p2):.4f}.",
        "Average over the classes in np.unique(y_true) only.",
    )


@check(
    "inverse_frequency_weights",
    hint="weight_c = N / (C * n_c), with N samples, C classes and n_c samples of class c.",
)
def check_inverse_frequency_weights(inverse_frequency_weights) -> None:
    """Check ``inverse_frequency_weights(labels, num_classes) -> (C,) float array``."""
    labels = np.array([0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3])
    expected = compute_class_weight("balanced", classes=np.arange(4), y=labels)
    got = inverse_frequency_weights(labels.copy(), 4)
    if isinstance(got, np.ndarray) and got.shape == expected.shape:
        counts = np.bincount(labels, minlength=4)
        expect(
            not np.allclose(got, counts / counts.sum()),
            "inverse_frequency_weights returned the class frequencies n_c / N.",
            "Rare classes need LARGE weights: invert the frequency.",
        )
        expect(
            not np.allclose(got, 1.0 / counts),
            "inverse_frequency_weights returned 1 / n_c: right ratios, wrong scale.",
            "Multiply by N / C so that a balanced data set gets weight 1 for every class.",
        )
    expect_array(
        got,
        expected,
        what="inverse_frequency_weights(12 labels, 4 classes)",
        hint="N = 12, C = 4: class 2 has 8 samples, so its weight is 12 / (4 * 8) = 0.375.",
    )
    balanced = inverse_frequency_weights(np.array([0, 1, 2, 0, 1, 2]), 3)
    expect_array(
        balanced,
        np.ones(3),
        what="inverse_frequency_weights(balanced labels, 3)",
        hint="Balanced classes must all get weight 1.",
    )


@check(
    "correct_for_priors",
    hint="Divide each column by the class's training frequency, then divide each row by its sum.",
)
def check_correct_for_priors(correct_for_priors) -> None:
    """Check ``correct_for_priors(probs, train_priors) -> (N, C)`` (rebalanced to uniform)."""
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [1 / 3, 1 / 3, 1 / 3]])
    priors = np.array([0.6, 0.3, 0.1])
    scratch = probs.copy()
    got = correct_for_priors(scratch, priors.copy())
    expect(
        np.array_equal(scratch, probs),
        "correct_for_priors changed its input probs.",
        "Compute a new array (probs / priors) instead of dividing in place (probs /= ...).",
    )
    raw = probs / priors
    if isinstance(got, np.ndarray) and got.shape == probs.shape:
        expect(
            not np.allclose(got, raw),
            "correct_for_priors returned rows that do not sum to 1.",
            "After dividing by the priors, renormalise: p / p.sum(axis=1, keepdims=True).",
        )
    expect_array(
        got,
        raw / raw.sum(axis=1, keepdims=True),
        what="correct_for_priors(probs, priors)",
        hint="A slice the model scores exactly like the training priors ([0.6, 0.3, 0.1]) "
        "must come out uniform: divide by the priors, do not multiply.",
    )
