"""Checks for the lesson 06 exercises: class imbalance by hand."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight

from course_lib.checks import check, expect, expect_array, expect_own_code
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
        "Return one number (a float), not an array or a list.",
    )
    return float(got)


@check(
    "balanced_accuracy",
    hint="One recall per class that occurs in y_true, then the mean of those recalls.",
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
        "A class's recall is the share of ITS slices that were predicted as that class.",
    )
    # a class that is never true (3) must not count; labels need not start at 0 or be dense
    y2 = np.array([0, 0, 1, 1, 1, 1])
    p2 = np.array([0, 3, 1, 1, 3, 3])
    got2 = _number(balanced_accuracy(y2.copy(), p2.copy()), "balanced_accuracy")
    expect(
        np.isclose(got2, balanced_accuracy_score(y2, p2)),
        f"balanced_accuracy with a class that is predicted but never true gave {got2:.4f}; "
        f"expected {balanced_accuracy_score(y2, p2):.4f}.",
        "Average over the classes that occur in y_true only: a class never true has no recall.",
    )


@check(
    "inverse_frequency_weights",
    hint="Count the labels of each class, then apply the formula to every count.",
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
        hint="Check one class by hand with the formula: N = 12 labels, C = 4 classes.",
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
    hint="Take each class's prior out of its column, then make each row sum to 1 again.",
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
        "Build a new array instead of dividing in place.",
    )
    raw = probs / priors
    if isinstance(got, np.ndarray) and got.shape == probs.shape:
        expect(
            not np.allclose(got, raw),
            "correct_for_priors returned rows that do not sum to 1.",
            "After removing the priors, rescale each row so that it sums to 1.",
        )
    expect_array(
        got,
        raw / raw.sum(axis=1, keepdims=True),
        what="correct_for_priors(probs, priors)",
        hint="A slice the model scores exactly like the training priors ([0.6, 0.3, 0.1]) "
        "must come out uniform: divide by the priors, do not multiply.",
    )


@check("balanced_accuracy (more cases)", hint="One recall per class in y_true, then the mean.")
def check_balanced_accuracy_more(balanced_accuracy) -> None:
    """Hidden cases: labels that are not 0..C-1, a perfect and a useless model, list inputs."""
    y = np.array([5, 5, 7, 7, 7, 9])
    for pred, what in ((y.copy(), "a perfect model"), (np.full(6, 7), "always predicting 7")):
        got = _number(balanced_accuracy(y.copy(), pred), "balanced_accuracy")
        expected = balanced_accuracy_score(y, pred)
        expect(
            np.isclose(got, expected),
            f"balanced_accuracy for {what} gave {got:.4f}; expected {expected:.4f}.",
            "Labels need not be 0, 1, 2, ...: use the classes that occur in y_true.",
        )


def _sampler_labels() -> np.ndarray:
    return np.array([0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0, 3])


@check("sampler_weights", hint="A slice's weight depends only on how many slices its class has.")
def check_sampler_weights(sampler_weights) -> None:
    """Check ``sampler_weights(labels) -> (N,)``: every class's weights sum to 1."""
    expect_own_code(sampler_weights, "sampler_weights", "make_weighted_sampler",
                    exercise="sampler_weights")  # fmt: skip
    labels = _sampler_labels()
    got = sampler_weights(labels.copy())
    expect(got is not None, "sampler_weights returned None.", "Did you forget to `return`?")
    got = got.numpy() if isinstance(got, torch.Tensor) else np.asarray(got, dtype=np.float64)
    counts = np.bincount(labels)
    expect(
        got.shape != (counts.size,),
        "sampler_weights returned one weight per CLASS; the sampler needs one per SLICE.",
        "WeightedRandomSampler draws slice i with probability proportional to weights[i].",
    )
    expect(
        got.shape == labels.shape,
        f"sampler_weights returned shape {got.shape}; expected {labels.shape}, one per label.",
        "Give every slice the weight of its class.",
    )
    got = got.astype(np.float64)
    expect(
        not np.allclose(got, counts[labels] / labels.size),
        "sampler_weights gave common classes LARGER weights (the class frequency).",
        "Rare classes must be drawn more often: the weight falls as the class count grows.",
    )
    totals = np.bincount(labels, weights=got)
    expect(
        np.allclose(totals, totals[0]),
        "with your weights the classes are not drawn equally often (their weights' sums "
        f"are {', '.join(f'{t:.3g}' for t in totals)}).",
        "Each class's weights must add up to the same total, whatever its count.",
    )
    expect_array(
        got,
        1.0 / counts[labels],
        what="sampler_weights(12 labels)",
        hint="Scale them so that each class's weights sum to 1.",
    )


def _focal_reference(logits: torch.Tensor, target: torch.Tensor, gamma: float) -> torch.Tensor:
    log_p = torch.log_softmax(logits.double(), dim=1).gather(1, target[:, None]).squeeze(1)
    return (-((1 - log_p.exp()) ** gamma) * log_p).mean()


def _focal_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    logits = torch.tensor(
        [[2.0, 0.5, -1.0, 0.0], [0.1, 0.2, 3.0, -2.0], [-1.0, 1.0, 0.0, 0.5], [5.0, 0.0, 0.0, 1.0]]
    )
    return logits, torch.tensor([0, 2, 3, 1])


def _scalar(got, what: str) -> float:
    expect(
        isinstance(got, torch.Tensor),
        f"{what} returned a {type(got).__name__}; expected a torch tensor.",
        "Use PyTorch operations throughout, so that the loss can be differentiated.",
    )
    expect(
        got.ndim == 0,
        f"{what} returned shape {tuple(got.shape)}; expected a scalar (the batch mean).",
        "Average the per-slice losses over the batch.",
    )
    return float(got)


@check("focal_loss", hint="Log-probabilities, each row's true class, the factor, the mean.")
def check_focal_loss(focal_loss) -> None:
    """Check ``focal_loss(logits, target, gamma) -> 0-d tensor`` against the definition."""
    expect_own_code(focal_loss, "FocalLoss", "sigmoid_focal_loss", exercise="focal_loss")
    logits, target = _focal_inputs()
    ce = float(torch.nn.functional.cross_entropy(logits, target))
    got0 = _scalar(focal_loss(logits.clone(), target.clone(), 0.0), "focal_loss")
    expect(
        not np.isclose(got0, ce * len(target), atol=1e-4),
        "focal_loss returned the sum over the batch; expected the mean.",
        "Divide by the batch size (take the mean), as cross_entropy does.",
    )
    expect(
        np.isclose(got0, ce, atol=1e-5),
        f"focal_loss with gamma=0 gave {got0:.4f}; it must equal the cross-entropy, {ce:.4f}.",
        "With gamma = 0 the factor is 1: what is left is minus the log-probability of the true "
        "class, averaged.",
    )
    expected = float(_focal_reference(logits, target, 2.0))
    got = _scalar(focal_loss(logits.clone(), target.clone(), 2.0), "focal_loss")
    p_true = torch.softmax(logits, 1).gather(1, target[:, None]).squeeze(1)
    log_p_true = torch.log_softmax(logits, 1).gather(1, target[:, None]).squeeze(1)
    wrong_factor = float((-(p_true**2) * log_p_true).mean())
    expect(
        not np.isclose(got, wrong_factor, atol=1e-5),
        "focal_loss weights each slice by p**gamma: confident slices then count MORE.",
        "The factor is (1 - p) ** gamma, with p the probability of the true class.",
    )
    summed = float((-((1 - p_true) ** 2) * log_p_true).sum())
    expect(
        not np.isclose(got, summed, atol=1e-5),
        "focal_loss returned the sum over the batch; expected the mean.",
        "Divide by the batch size (take the mean), as cross_entropy does.",
    )
    expect(
        np.isclose(got, expected, atol=1e-5),
        f"focal_loss with gamma=2 gave {got:.4f}; that is not the formula's value.",
        "Check that you use the probability of each slice's TRUE class, from a softmax over "
        "its row.",
    )


@check("focal_loss (more cases)", hint="Work with log-probabilities; keep it differentiable.")
def check_focal_loss_more(focal_loss) -> None:
    """Hidden cases: very confident logits stay finite, gradients flow, inputs stay unchanged."""
    logits = torch.tensor([[60.0, -60.0, 0.0], [-60.0, 60.0, 0.0]], requires_grad=True)
    target = torch.tensor([1, 1])
    got = focal_loss(logits, target, 2.0)
    _scalar(got.detach() if isinstance(got, torch.Tensor) else got, "focal_loss")
    expect(
        bool(torch.isfinite(got)),
        "focal_loss is not finite for very confident logits.",
        "Use log_softmax rather than log(softmax(...)).",
    )
    expect(
        np.isclose(got.item(), float(_focal_reference(logits.detach(), target, 2.0)), atol=1e-4),
        "focal_loss is wrong for very confident logits.",
        "Use log_softmax rather than log(softmax(...)).",
    )
    got.backward()
    expect(
        logits.grad is not None and bool(torch.isfinite(logits.grad).all()),
        "focal_loss cannot be differentiated (no finite gradient reached the logits).",
        "Stay in PyTorch: no .numpy(), .item() or NumPy functions inside the loss.",
    )
