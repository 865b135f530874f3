"""Losses and re-weighting for class imbalance: focal loss, class weights, a weighted sampler.

Three ways to make a network care about rare classes (lesson 06):

- **re-weight the loss**: :func:`class_weights` gives one weight per class for
  ``torch.nn.CrossEntropyLoss(weight=...)`` or :class:`FocalLoss`;
- **re-sample the data** (oversampling, Buda et al. 2018): :func:`sampler_weights` and
  :func:`make_weighted_sampler` draw rare-class slices more often;
- **focus on hard examples** (focal loss, Lin et al. 2017): :class:`FocalLoss`.

Labels are integer class indices in ``course_lib.config.CLASS_NAMES`` order.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import WeightedRandomSampler

from course_lib._validation import check_choice, check_int, check_interval, check_number

_REDUCTIONS = ("none", "mean", "sum")
_WEIGHT_METHODS = ("inverse", "inverse_sqrt", "effective")


class FocalLoss(nn.Module):
    """Multi-class focal loss on logits (Lin et al. 2017, "Focal Loss for Dense Object Detection").

    For a sample of class ``y`` with softmax probabilities ``p``, the loss is
    ``-sum_c q_c * w_c * (1 - p_c) ** gamma * log(p_c)``, where ``q`` is the one-hot target (or
    its label-smoothed version) and ``w`` the optional per-class weights (the paper's alpha).
    The factor ``(1 - p_c) ** gamma`` shrinks the loss of well-classified samples, so training
    concentrates on the hard ones. With ``gamma=0`` the loss is exactly
    ``torch.nn.functional.cross_entropy`` with the same ``weight``, ``label_smoothing`` and
    ``reduction`` (the weighted mean divides by the summed weights of the targets, as PyTorch does).

    Args:
        gamma: Focusing parameter, ``>= 0``; the paper's default is 2.
        weight: Optional per-class weights, shape ``(C,)``, non-negative (e.g. from
            :func:`class_weights`). Stored as a buffer, so it follows ``.to(device)``.
        reduction: ``"none"`` (shape ``(N,)``), ``"mean"`` or ``"sum"`` (scalars).
        label_smoothing: In ``[0, 1]``; mixes the one-hot target with the uniform distribution.

    Shapes:
        ``forward(logits, target)``: ``logits`` float ``(N, C)``, ``target`` integer ``(N,)``
        with values in ``[0, C)``.

    Raises:
        ValueError: If ``gamma < 0``, ``reduction`` is unknown, ``label_smoothing`` is outside
            ``[0, 1]`` or ``weight`` is not a 1-D non-negative tensor.
        TypeError: If ``gamma`` or ``label_smoothing`` is not a number.

    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> target = torch.tensor([0, 0])
    >>> round(FocalLoss(gamma=0.0)(logits, target).item(), 4)
    1.1269
    >>> round(FocalLoss(gamma=2.0)(logits, target).item(), 4)
    0.8259
    """

    def __init__(
        self,
        gamma: float = 2.0,
        weight: torch.Tensor | None = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        check_number("gamma", gamma, minimum=0)
        check_choice("reduction", reduction, _REDUCTIONS)
        check_interval("label_smoothing", label_smoothing, 0, 1)
        if weight is not None:
            weight = torch.as_tensor(weight, dtype=torch.float32)
            if weight.ndim != 1 or bool((weight < 0).any()) or not bool(weight.isfinite().all()):
                raise ValueError(
                    "weight must be a 1-D tensor of C finite non-negative class weights, "
                    f"got {weight.tolist()!r}"
                )
        self.gamma = float(gamma)
        self.reduction = reduction
        self.label_smoothing = float(label_smoothing)
        self.register_buffer("weight", weight)

    def extra_repr(self) -> str:
        """Show the settings in ``repr(module)``."""
        return (
            f"gamma={self.gamma}, reduction={self.reduction!r}, "
            f"label_smoothing={self.label_smoothing}, weighted={self.weight is not None}"
        )

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            logits: Float tensor ``(N, C)`` of unnormalised scores.
            target: Integer tensor ``(N,)`` of class indices in ``[0, C)``.

        Returns:
            Shape ``(N,)`` for ``reduction="none"``, else a scalar tensor.

        Raises:
            ValueError: If the shapes disagree, ``target`` is not integer or holds a value
                outside ``[0, C)``, or ``weight`` does not have ``C`` entries.
        """
        if logits.ndim != 2:
            raise ValueError(f"logits must have shape (N, C), got {tuple(logits.shape)}")
        n, c = logits.shape
        if target.ndim != 1 or target.shape[0] != n:
            raise ValueError(
                f"target must have shape ({n},) to match logits {tuple(logits.shape)}, "
                f"got {tuple(target.shape)}"
            )
        if target.dtype.is_floating_point or target.dtype == torch.bool:
            raise ValueError(f"target must hold integer class indices, got dtype {target.dtype}")
        if n and (int(target.min()) < 0 or int(target.max()) >= c):
            raise ValueError(
                f"target values must be in [0, {c}), got min {int(target.min())} "
                f"and max {int(target.max())}"
            )
        if self.weight is not None and self.weight.shape[0] != c:
            raise ValueError(
                f"weight has {self.weight.shape[0]} entries but logits have C={c} classes"
            )
        log_p = F.log_softmax(logits.float(), dim=1)
        q = F.one_hot(target.long(), c).to(log_p.dtype)
        if self.label_smoothing:
            q = q * (1.0 - self.label_smoothing) + self.label_smoothing / c
        terms = -q * log_p
        if self.gamma:
            terms = terms * (1.0 - log_p.exp()).clamp(min=0.0).pow(self.gamma)
        if self.weight is not None:
            weight = self.weight.to(log_p)
            terms = terms * weight
        loss = terms.sum(dim=1)
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return loss.sum()
        denom = weight[target].sum() if self.weight is not None else loss.new_tensor(n)
        return loss.sum() / denom


def _check_labels(labels, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as a 1-D int64 array of non-negative class indices."""
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.bool_):
        raise TypeError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    if arr.min() < 0:
        raise ValueError(f"{name} must be >= 0, got min {arr.min()}")
    return arr.astype(np.int64)


def class_weights(
    labels, num_classes: int, *, method: str = "inverse", beta: float = 0.999
) -> torch.Tensor:
    """One loss weight per class, larger for rarer classes, rescaled to mean 1.

    Methods, for a class with ``n_c`` of the ``N`` training samples and ``C`` classes:

    - ``"inverse"``: ``N / (C * n_c)`` (scikit-learn's ``"balanced"``);
    - ``"inverse_sqrt"``: ``1 / sqrt(n_c)``, a gentler version;
    - ``"effective"``: ``(1 - beta) / (1 - beta ** n_c)``, the inverse "effective number of
      samples" of Cui et al. 2019 (``beta -> 0``: no re-weighting; ``beta -> 1``: inverse).

    The weights are then rescaled so that the classes present have mean weight 1, which keeps
    the loss (and so the learning rate) on the same scale as the unweighted loss.

    A class with **no** samples gets weight 0 and a ``RuntimeWarning``: there is nothing to
    re-weight, and a huge weight would only matter if such a sample appeared later.

    Args:
        labels: Integer class indices, shape ``(N,)`` (list, numpy array or tensor).
        num_classes: ``C``; labels must be in ``[0, C)``.
        method: ``"inverse"``, ``"inverse_sqrt"`` or ``"effective"``.
        beta: For ``"effective"`` only, in ``[0, 1)``.

    Returns:
        Float32 tensor of shape ``(C,)``.

    Raises:
        ValueError: If ``method`` is unknown, ``num_classes < 1``, a label is outside
            ``[0, C)``, ``labels`` is empty or not 1-D, or ``beta`` is outside ``[0, 1)``.
        TypeError: If ``labels`` is not integer, ``num_classes`` not an int or ``beta`` not a
            number.

    >>> class_weights([0, 0, 0, 1], num_classes=2)
    tensor([0.5000, 1.5000])
    >>> class_weights([0, 0, 0, 1], num_classes=2, method="inverse_sqrt")
    tensor([0.7321, 1.2679])
    """
    check_choice("method", method, _WEIGHT_METHODS)
    num_classes = check_int("num_classes", num_classes, minimum=1)
    beta = check_interval("beta", beta, 0, 1, closed="left")
    arr = _check_labels(labels)
    if arr.max() >= num_classes:
        raise ValueError(f"labels must be < num_classes={num_classes}, got max {arr.max()}")
    counts = np.bincount(arr, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    n_c = counts[present]
    if method == "inverse":
        weights[present] = counts.sum() / (num_classes * n_c)
    elif method == "inverse_sqrt":
        weights[present] = 1.0 / np.sqrt(n_c)
    else:
        weights[present] = (1.0 - beta) / (1.0 - beta**n_c)
    weights[present] /= weights[present].mean()
    if not present.all():
        warnings.warn(
            f"classes {np.flatnonzero(~present).tolist()} have no samples in labels; "
            "they get weight 0",
            RuntimeWarning,
            stacklevel=2,
        )
    return torch.as_tensor(weights, dtype=torch.float32)


def sampler_weights(labels) -> torch.Tensor:
    """Per-sample weights ``1 / n_{y_i}`` for ``torch.utils.data.WeightedRandomSampler``.

    Drawing samples with these weights makes every class equally likely in each batch
    (oversampling of the rare classes, Buda et al. 2018).

    Args:
        labels: Integer class indices, shape ``(N,)``.

    Returns:
        Float64 tensor of shape ``(N,)``; the weights of each class sum to 1.

    Raises:
        ValueError: If ``labels`` is empty, not 1-D or negative.
        TypeError: If ``labels`` is not integer.

    >>> sampler_weights([0, 0, 1])
    tensor([0.5000, 0.5000, 1.0000], dtype=torch.float64)
    """
    arr = _check_labels(labels)
    counts = np.bincount(arr)
    return torch.as_tensor(1.0 / counts[arr], dtype=torch.float64)


def make_weighted_sampler(
    labels, *, num_samples: int | None = None, seed: int = 0
) -> WeightedRandomSampler:
    """A seeded ``WeightedRandomSampler`` that draws every class equally often on average.

    Pass it as ``DataLoader(dataset, sampler=...)`` (and no ``shuffle``). It samples with
    replacement, so rare-class slices repeat within an epoch: use augmentation with it.

    Args:
        labels: Integer class indices of the dataset, shape ``(N,)``.
        num_samples: Draws per epoch; default ``N``.
        seed: Seed of the sampler's own ``torch.Generator``.

    Returns:
        The sampler.

    Raises:
        ValueError: If ``num_samples < 1`` or ``labels`` is invalid (see
            :func:`sampler_weights`).
        TypeError: If ``seed`` or ``num_samples`` is not an int, or ``labels`` is not integer.

    >>> len(make_weighted_sampler([0, 0, 0, 1], num_samples=8))
    8
    """
    seed = check_int("seed", seed)
    weights = sampler_weights(labels)
    if num_samples is not None:
        num_samples = check_int("num_samples", num_samples, minimum=1)
    num_samples = len(weights) if num_samples is None else num_samples
    generator = torch.Generator().manual_seed(seed)
    return WeightedRandomSampler(
        weights, num_samples=num_samples, replacement=True, generator=generator
    )
