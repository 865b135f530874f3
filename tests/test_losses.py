from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight
from torch.utils.data import DataLoader

from course_lib.losses import FocalLoss, class_weights, make_weighted_sampler, sampler_weights


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(12, 4, generator=gen) * 3
    target = torch.randint(0, 4, (12,), generator=gen)
    return logits, target


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_focal_gamma0_equals_cross_entropy(batch, reduction, weighted, smoothing):
    logits, target = batch
    weight = torch.tensor([0.5, 2.0, 1.0, 3.0]) if weighted else None
    focal = FocalLoss(gamma=0.0, weight=weight, reduction=reduction, label_smoothing=smoothing)
    expected = F.cross_entropy(
        logits, target, weight=weight, reduction=reduction, label_smoothing=smoothing
    )
    torch.testing.assert_close(focal(logits, target), expected)


def test_focal_hand_computed():
    logits = torch.log(torch.tensor([[0.9, 0.1], [0.2, 0.8]]))
    target = torch.tensor([0, 0])
    loss = FocalLoss(gamma=2.0, reduction="none")(logits, target)
    expected = torch.tensor([-(0.1**2) * np.log(0.9), -(0.8**2) * np.log(0.2)])
    torch.testing.assert_close(loss, expected.float())


def test_focal_down_weights_easy_samples(batch):
    logits, target = batch
    ce = F.cross_entropy(logits, target, reduction="none")
    focal = FocalLoss(gamma=2.0, reduction="none")(logits, target)
    assert bool((focal <= ce + 1e-6).all())
    assert float(focal.sum()) < float(ce.sum())


def test_focal_alpha_weights_scale_per_sample():
    logits = torch.zeros(2, 2)
    target = torch.tensor([0, 1])
    loss = FocalLoss(gamma=1.0, weight=torch.tensor([1.0, 3.0]), reduction="none")(logits, target)
    torch.testing.assert_close(loss[1] / loss[0], torch.tensor(3.0))


def test_focal_gradients_flow_and_no_input_change(batch):
    logits, target = batch
    logits = logits.clone().requires_grad_(True)
    before = logits.detach().clone()
    FocalLoss()(logits, target).backward()
    assert logits.grad is not None
    assert bool(logits.grad.abs().sum() > 0)
    torch.testing.assert_close(logits.detach(), before)


def test_focal_weight_is_buffer():
    loss = FocalLoss(weight=torch.ones(4))
    assert "weight" in dict(loss.named_buffers())
    assert "gamma=2.0" in repr(loss)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gamma": -1.0}, "gamma"),
        ({"reduction": "avg"}, "reduction"),
        ({"label_smoothing": 1.5}, "label_smoothing"),
        ({"weight": torch.tensor([1.0, -1.0])}, "weight"),
        ({"weight": torch.ones(2, 2)}, "weight"),
    ],
)
def test_focal_init_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FocalLoss(**kwargs)


@pytest.mark.parametrize("kwargs", [{"gamma": "2"}, {"gamma": True}, {"label_smoothing": None}])
def test_focal_init_rejects_non_numbers(kwargs):
    with pytest.raises(TypeError, match=f"{next(iter(kwargs))} must be a number"):
        FocalLoss(**kwargs)


def test_focal_forward_raises(batch):
    logits, target = batch
    loss = FocalLoss()
    with pytest.raises(ValueError, match="logits"):
        loss(logits[0], target)
    with pytest.raises(ValueError, match="target must have shape"):
        loss(logits, target[:3])
    with pytest.raises(ValueError, match="integer"):
        loss(logits, target.float())
    with pytest.raises(ValueError, match="target values"):
        loss(logits, torch.full_like(target, 4))
    with pytest.raises(ValueError, match="weight has 3"):
        FocalLoss(weight=torch.ones(3))(logits, target)


def test_class_weights_inverse_matches_sklearn(rng):
    labels = rng.choice(4, size=200, p=[0.5, 0.3, 0.15, 0.05])
    ours = class_weights(labels, 4).numpy()
    ref = compute_class_weight("balanced", classes=np.arange(4), y=labels)
    np.testing.assert_allclose(ours, ref / ref.mean(), rtol=1e-6)
    assert ours.dtype == np.float32
    assert ours.mean() == pytest.approx(1.0)


def test_class_weights_methods_order():
    labels = np.array([0] * 90 + [1] * 10)
    inv = class_weights(labels, 2).numpy()
    sqrt = class_weights(labels, 2, method="inverse_sqrt").numpy()
    eff = class_weights(labels, 2, method="effective", beta=0.9).numpy()
    np.testing.assert_allclose(inv, [0.2, 1.8], rtol=1e-6)
    np.testing.assert_allclose(sqrt, [0.5, 1.5], rtol=1e-6)
    # effective number with beta=0.9: (1-b)/(1-b^n) -> close to 1 for both: mild re-weighting
    expected = np.array([0.1 / (1 - 0.9**90), 0.1 / (1 - 0.9**10)])
    np.testing.assert_allclose(eff, expected / expected.mean(), rtol=1e-6)
    assert eff[1] / eff[0] < sqrt[1] / sqrt[0] < inv[1] / inv[0]


def test_class_weights_balanced_classes_are_one():
    w = class_weights(torch.tensor([0, 1, 2, 0, 1, 2]), 3, method="effective")
    torch.testing.assert_close(w, torch.ones(3))


def test_class_weights_missing_class_warns_and_zero():
    with pytest.warns(RuntimeWarning, match=r"classes \[2\]"):
        w = class_weights([0, 0, 1], 3)
    assert float(w[2]) == 0.0
    assert float(w[:2].mean()) == pytest.approx(1.0)


def test_class_weights_raises():
    with pytest.raises(ValueError, match="method"):
        class_weights([0, 1], 2, method="log")
    with pytest.raises(ValueError, match="num_classes"):
        class_weights([0, 1], 0)
    with pytest.raises(ValueError, match="beta"):
        class_weights([0, 1], 2, method="effective", beta=1.0)
    with pytest.raises(ValueError, match="num_classes=2"):
        class_weights([0, 2], 2)
    with pytest.raises(ValueError, match="non-empty"):
        class_weights([], 2)
    with pytest.raises(ValueError, match=">= 0"):
        class_weights([-1, 0], 2)
    with pytest.raises(TypeError, match="integer"):
        class_weights([0.0, 1.0], 2)
    with pytest.raises(TypeError, match="num_classes must be an int"):
        class_weights([0, 1], 2.0)
    with pytest.raises(TypeError, match="beta must be a number"):
        class_weights([0, 1], 2, method="effective", beta="0.9")


def test_sampler_weights_sum_per_class():
    labels = np.array([0, 0, 0, 1, 2, 2])
    w = sampler_weights(labels).numpy()
    np.testing.assert_allclose(np.bincount(labels, weights=w), [1.0, 1.0, 1.0])


def test_weighted_sampler_balances_and_is_seeded():
    labels = np.array([0] * 90 + [1] * 10)
    idx_a = list(make_weighted_sampler(labels, num_samples=2000, seed=1))
    idx_b = list(make_weighted_sampler(labels, num_samples=2000, seed=1))
    idx_c = list(make_weighted_sampler(labels, num_samples=2000, seed=2))
    assert idx_a == idx_b
    assert idx_a != idx_c
    frac_minority = np.mean(labels[idx_a] == 1)
    assert 0.45 < frac_minority < 0.55
    loader = DataLoader(list(range(100)), batch_size=10, sampler=make_weighted_sampler(labels))
    assert sum(len(b) for b in loader) == 100


def test_weighted_sampler_raises():
    with pytest.raises(TypeError, match="seed"):
        make_weighted_sampler([0, 1], seed=1.5)
    with pytest.raises(ValueError, match="num_samples"):
        make_weighted_sampler([0, 1], num_samples=0)
    with pytest.raises(TypeError, match="num_samples must be an int"):
        make_weighted_sampler([0, 1], num_samples=4.0)
