"""Lesson 06 checks: pass on reference answers, "not answered yet" on stubs, hints on mistakes."""

import numpy as np
import pytest
import torch

from course_lib.checks import CheckFailed, l06


def stub(*args, **kwargs):
    raise NotImplementedError("average the recall of each class")


def balanced_accuracy(y_true, y_pred):
    return float(np.mean([np.mean(y_pred[y_true == k] == k) for k in np.unique(y_true)]))


def inverse_frequency_weights(labels, num_classes):
    counts = np.bincount(labels, minlength=num_classes)
    return len(labels) / (num_classes * counts)


def correct_for_priors(probs, train_priors):
    adjusted = probs / train_priors
    return adjusted / adjusted.sum(axis=1, keepdims=True)


def sampler_weights(labels):
    return 1.0 / np.bincount(labels)[labels]


def focal_loss(logits, target, gamma):
    log_p = torch.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
    return (-((1 - log_p.exp()) ** gamma) * log_p).mean()


REFERENCE = [
    (l06.check_balanced_accuracy, balanced_accuracy),
    (l06.check_balanced_accuracy_more, balanced_accuracy),
    (l06.check_sampler_weights, sampler_weights),
    (l06.check_focal_loss, focal_loss),
    (l06.check_focal_loss_more, focal_loss),
    (l06.check_inverse_frequency_weights, inverse_frequency_weights),
    (l06.check_correct_for_priors, correct_for_priors),
]


@pytest.mark.parametrize(("checker", "answer"), REFERENCE)
def test_l06_checks_pass_on_solution(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out


@pytest.mark.parametrize(("checker", "answer"), REFERENCE)
def test_l06_checks_say_not_answered_on_stub(checker, answer):
    with pytest.raises(CheckFailed, match=r"(?s)not answered yet.*Hint: "):
        checker(stub)


def plain_accuracy(y_true, y_pred):
    return float(np.mean(y_true == y_pred))


def over_all_labels(y_true, y_pred):
    labels = np.union1d(y_true, y_pred)
    return float(np.mean([np.mean(y_pred[y_true == k] == k) if (y_true == k).any() else 0.0
                          for k in labels]))  # fmt: skip


def frequencies(labels, num_classes):
    counts = np.bincount(labels, minlength=num_classes)
    return counts / counts.sum()


def unscaled(labels, num_classes):
    return 1.0 / np.bincount(labels, minlength=num_classes)


def as_list(labels, num_classes):
    return inverse_frequency_weights(labels, num_classes).tolist()


def not_renormalised(probs, train_priors):
    return probs / train_priors


def multiplied(probs, train_priors):
    adjusted = probs * train_priors
    return adjusted / adjusted.sum(axis=1, keepdims=True)


def in_place(probs, train_priors):
    probs /= train_priors
    probs /= probs.sum(axis=1, keepdims=True)
    return probs


def per_class_weights(labels):
    return 1.0 / np.bincount(labels)


def frequency_per_slice(labels):
    counts = np.bincount(labels)
    return counts[labels] / len(labels)


def unnormalised_per_slice(labels):
    return np.ones(len(labels))


def inverse_count_scaled(labels):
    return 2.0 / np.bincount(labels)[labels]


def sampler_from_library(labels):
    from course_lib.losses import sampler_weights as library

    return library(labels)


def focal_wrong_factor(logits, target, gamma):
    log_p = torch.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
    return (-(log_p.exp() ** gamma) * log_p).mean()


def focal_summed(logits, target, gamma):
    log_p = torch.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
    return (-((1 - log_p.exp()) ** gamma) * log_p).sum()


def focal_numpy(logits, target, gamma):
    return float(focal_loss(logits, target, gamma))


def focal_wrong_class(logits, target, gamma):
    return focal_loss(logits, torch.zeros_like(target), gamma)


def focal_log_of_softmax(logits, target, gamma):
    p = torch.softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
    return (-((1 - p) ** gamma) * torch.log(p)).mean()


def focal_from_library(logits, target, gamma):
    from course_lib.losses import FocalLoss

    return FocalLoss(gamma=gamma)(logits, target)


def balanced_over_predicted(y_true, y_pred):
    return float(np.mean([np.mean(y_pred[y_true == k] == k) for k in np.unique(y_pred)]))


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l06.check_balanced_accuracy_more, balanced_over_predicted, "always predicting 7"),
        (l06.check_sampler_weights, per_class_weights, "one weight per CLASS"),
        (l06.check_sampler_weights, frequency_per_slice, "LARGER weights"),
        (l06.check_sampler_weights, unnormalised_per_slice, "not drawn equally often"),
        (l06.check_sampler_weights, inverse_count_scaled, "wrong values"),
        (l06.check_sampler_weights, sampler_from_library, "calls sampler_weights"),
        (l06.check_focal_loss, focal_wrong_factor, "p\\*\\*gamma"),
        (l06.check_focal_loss, focal_summed, "the sum over the batch"),
        (l06.check_focal_loss, focal_numpy, "expected a torch tensor"),
        (l06.check_focal_loss, focal_wrong_class, "gamma=0 gave"),
        (l06.check_focal_loss, focal_from_library, "calls FocalLoss"),
        (l06.check_focal_loss_more, focal_log_of_softmax, "not finite"),
        (l06.check_balanced_accuracy, plain_accuracy, "plain accuracy"),
        (l06.check_balanced_accuracy, over_all_labels, "never true"),
        (l06.check_inverse_frequency_weights, frequencies, "frequencies"),
        (l06.check_inverse_frequency_weights, unscaled, "wrong scale"),
        (l06.check_inverse_frequency_weights, as_list, "not a NumPy array"),
        (l06.check_correct_for_priors, not_renormalised, "do not sum to 1"),
        (l06.check_correct_for_priors, multiplied, "do not multiply"),
        (l06.check_correct_for_priors, in_place, "changed its input"),
    ],
)
def test_l06_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}") as error:
        checker(wrong)
    assert "Hint:" in str(error.value)


def test_balanced_accuracy_check_reports_a_crash():
    def crashes(y_true, y_pred):
        return y_true / "x"

    with pytest.raises(CheckFailed, match="your code raised TypeError"):
        l06.check_balanced_accuracy(crashes)


def test_balanced_accuracy_check_wants_a_number():
    with pytest.raises(CheckFailed, match="expected one number"):
        l06.check_balanced_accuracy(lambda y, p: [0.5])
    with pytest.raises(CheckFailed, match="returned None"):
        l06.check_balanced_accuracy(lambda y, p: None)
