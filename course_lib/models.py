"""Models: a CNN from scratch, pretrained backbones adapted to MRI, and the classifier module.

Every model here takes a float32 batch of shape ``(N, C, H, W)`` (C = ``in_channels``, usually 1
for a grey MRI slice) and returns logits of shape ``(N, num_classes)``; the class order is
:data:`course_lib.config.CLASS_NAMES`.

- :class:`SimpleCNN`: the network students build in lesson 04 from the basic blocks.
- :func:`build_backbone`: a model by name: ``"simple_cnn"`` or an ImageNet-pretrained torchvision
  network whose first convolution is adapted to 1-channel input and whose head is new.
- :class:`TumorClassifier`: the ``LightningModule`` that trains any of them.

Pretrained weights need the network once (then torch's hub cache holds them). Offline, the model
starts from random weights and :class:`PretrainedWeightsUnavailable` is warned once; nothing hangs.
"""

from __future__ import annotations

import math
import os
import socket
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlparse

import pytorch_lightning as pl
import torch
import torchvision
from pytorch_lightning.callbacks import BaseFinetuning, Timer
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score, MulticlassRecall
from torchmetrics.wrappers import ClasswiseWrapper

from course_lib._validation import check_choice, check_int, check_interval, check_number
from course_lib.config import CLASS_NAMES
from course_lib.losses import FocalLoss

#: Seconds to wait for the weights server before falling back to random weights.
CONNECT_TIMEOUT_S = 3.0

LOSSES = ("ce", "weighted_ce", "focal")
SCHEDULERS = ("cosine", "onecycle", "none")

#: One-cycle's shape, as ``torch.optim.lr_scheduler.OneCycleLR``'s defaults: the share of the run
#: spent warming up, the starting learning rate as a fraction of the peak (1/25) and the final one
#: (1/25 of that, divided by 10^4).
ONE_CYCLE = {"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4}


def _cosine_between(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


def schedule_factor(scheduler: str, progress: float) -> float:
    """The learning rate as a fraction of its peak, ``progress`` of the way through a run.

    The same shapes as torch's per-step schedulers (``CosineAnnealingLR`` from the peak to 0,
    ``OneCycleLR`` with its default :data:`ONE_CYCLE`), written as functions of the run's
    progress in ``[0, 1]`` rather than of a step count, so that a run with a time budget can
    follow them over wall-clock time (see :meth:`TumorClassifier.run_progress`).

    Args:
        scheduler: One of :data:`SCHEDULERS`.
        progress: Share of the run done; clipped to ``[0, 1]``.

    Returns:
        The multiplier of the peak learning rate.

    Raises:
        ValueError: If ``scheduler`` is unknown.

    >>> [round(schedule_factor("onecycle", p), 4) for p in (0.0, 0.3, 1.0)]
    [0.04, 1.0, 0.0]
    >>> schedule_factor("cosine", 0.5), schedule_factor("none", 0.9)
    (0.5, 1.0)
    """
    check_choice("scheduler", scheduler, SCHEDULERS)
    p = min(max(float(progress), 0.0), 1.0)
    if scheduler == "none":
        return 1.0
    if scheduler == "cosine":
        return _cosine_between(1.0, 0.0, p)
    warm, div, final = (ONE_CYCLE[k] for k in ("pct_start", "div_factor", "final_div_factor"))
    if p < warm:
        return _cosine_between(1 / div, 1.0, p / warm)
    return _cosine_between(1.0, 1 / (div * final), (p - warm) / (1 - warm))


def time_budget(trainer: pl.Trainer) -> Timer | None:
    """The trainer's time limit (Lightning's ``Timer``, which ``max_time`` adds), or ``None``."""
    for callback in trainer.callbacks:
        if isinstance(callback, Timer) and callback.time_remaining() is not None:
            return callback
    return None


class PretrainedWeightsUnavailable(UserWarning):
    """Pretrained weights could not be had (offline, say): the model starts from random weights."""


class SimpleCNN(nn.Module):
    """A small CNN from the basic blocks: [conv 3x3, batch norm, ReLU, max-pool 2x2] per stage.

    Then global pooling, dropout and one linear layer to the class logits. Each stage halves the
    height and width, so ``len(widths)`` stages need images of at least ``2 ** len(widths)``
    pixels per side.

    Global *max* pooling is the default because a tumour is small: the question is "does a
    lesion-like feature fire anywhere?", and averaging over the whole slice dilutes the answer
    (on the synthetic set, average pooling trained far slower; see
    ``benchmarks/synthetic_calibration.py``).

    Args:
        in_channels: Channels of the input images (1 for a grey slice).
        num_classes: Number of classes (outputs).
        widths: Output channels of each stage; its length is the depth.
        dropout: Dropout probability before the linear head, in ``[0, 1)``.
        batch_norm: Whether each stage has a ``BatchNorm2d`` after its convolution.
        pooling: Global pooling before the head, ``"max"`` or ``"avg"``.

    Raises:
        ValueError: If a size is not positive, ``widths`` is empty, ``dropout`` is outside
            ``[0, 1)`` or ``pooling`` is unknown.
        TypeError: If a size is not an int or ``dropout`` not a number.

    Shape:
        float32 ``(N, in_channels, H, W)`` in, float32 logits ``(N, num_classes)`` out.

    >>> model = SimpleCNN(in_channels=1, num_classes=4, widths=(8, 16))
    >>> tuple(model(torch.zeros(2, 1, 32, 32)).shape)
    (2, 4)
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 4,
        *,
        widths: Sequence[int] = (16, 32, 64, 128),
        dropout: float = 0.3,
        batch_norm: bool = True,
        pooling: str = "max",
    ) -> None:
        super().__init__()
        pools = {"max": nn.AdaptiveMaxPool2d, "avg": nn.AdaptiveAvgPool2d}
        check_choice("pooling", pooling, sorted(pools))
        in_channels = check_int("in_channels", in_channels, minimum=1)
        num_classes = check_int("num_classes", num_classes, minimum=2)
        widths = tuple(check_int(f"widths[{i}]", w, minimum=1) for i, w in enumerate(widths))
        if not widths:
            raise ValueError("widths must be a non-empty sequence of positive ints, got ()")
        check_interval("dropout", dropout, 0, 1, closed="left")
        layers: list[nn.Module] = []
        channels = in_channels
        for width in widths:
            layers.append(nn.Conv2d(channels, width, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.pool = pools[pooling](1)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(N, num_classes)`` for images ``(N, in_channels, H, W)``."""
        return self.head(self.pool(self.features(x)))


# name -> (torchvision builder, default ImageNet weights, attribute path of the head's Linear)
_TORCHVISION: dict[str, tuple[Callable[..., nn.Module], torchvision.models.WeightsEnum, str]] = {
    "resnet18": (torchvision.models.resnet18, torchvision.models.ResNet18_Weights.DEFAULT, "fc"),
    "efficientnet_b0": (
        torchvision.models.efficientnet_b0,
        torchvision.models.EfficientNet_B0_Weights.DEFAULT,
        "classifier.1",
    ),
    "convnext_tiny": (
        torchvision.models.convnext_tiny,
        torchvision.models.ConvNeXt_Tiny_Weights.DEFAULT,
        "classifier.2",
    ),
}

#: Names :func:`build_backbone` accepts.
BACKBONES: tuple[str, ...] = ("simple_cnn", *_TORCHVISION)

#: The backbones that have ImageNet weights (torchvision's).
PRETRAINED_BACKBONES: tuple[str, ...] = tuple(_TORCHVISION)


def _check_pretrained(name) -> None:
    if name not in PRETRAINED_BACKBONES:
        raise ValueError(
            f"backbone must be one of {list(PRETRAINED_BACKBONES)} (those with ImageNet "
            f"weights), got {name!r}"
        )


def imagenet_weights(name: str) -> torchvision.models.WeightsEnum:
    """The ImageNet weights torchvision publishes for a backbone (an enum, not the tensors).

    Raises:
        ValueError: If ``name`` is not in :data:`PRETRAINED_BACKBONES`.

    >>> imagenet_weights("resnet18").name
    'IMAGENET1K_V1'
    """
    _check_pretrained(name)
    return _TORCHVISION[name][1]


def build_torchvision_model(name: str, *, pretrained: bool = True) -> nn.Module:
    """A torchvision backbone exactly as ImageNet trained it: 3 input channels, 1000 classes.

    Args:
        name: One of :data:`PRETRAINED_BACKBONES`.
        pretrained: Load the ImageNet weights (random weights, with a
            :class:`PretrainedWeightsUnavailable` warning, when they cannot be had).

    Returns:
        The ``nn.Module``, not adapted to MRI (see :func:`build_backbone` for that).

    Raises:
        ValueError: If ``name`` is not in :data:`PRETRAINED_BACKBONES`.
    """
    _check_pretrained(name)
    builder, weights, _ = _TORCHVISION[name]
    model = builder(weights=None)
    if pretrained:
        state = load_pretrained_state_dict(weights)
        if state is not None:
            model.load_state_dict(state)
    return model


def _weights_host_reachable(url: str, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the host of ``url`` opens within ``timeout`` seconds."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def load_pretrained_state_dict(weights: torchvision.models.WeightsEnum) -> dict | None:
    """Return the state dict of torchvision ``weights``, or ``None`` when it cannot be had.

    The hub cache (``$TORCH_HOME/hub/checkpoints``) is read first, without the network. Otherwise
    the host of the weights is probed with a :data:`CONNECT_TIMEOUT_S` connect, and the download
    runs under a socket timeout, so an offline or firewalled machine gets ``None`` in seconds
    instead of hanging. Failures warn :class:`PretrainedWeightsUnavailable` once.

    Args:
        weights: A torchvision weights enum member, e.g. ``ResNet18_Weights.DEFAULT``.

    Returns:
        The state dict (tensors on the CPU) or ``None``.
    """
    cached = (
        Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)
    )
    reason = None
    if cached.is_file():
        try:
            return torch.load(cached, map_location="cpu", weights_only=True)
        except Exception as error:  # a truncated or foreign file: say so and go on without it
            reason = f"the cached file {cached} could not be read ({error})"
    elif not _weights_host_reachable(weights.url):
        reason = f"{urlparse(weights.url).hostname} cannot be reached (offline?)"
    else:
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(30.0)
        try:
            return weights.get_state_dict(progress=False, check_hash=True)
        except Exception as error:  # any download error: fall back, never crash a lesson
            reason = f"the download failed ({type(error).__name__}: {error})"
        finally:
            socket.setdefaulttimeout(previous)
    warnings.warn(
        f"Pretrained weights {weights} are unavailable: {reason}. The model starts from random "
        f"weights. To use them, download {weights.url} once into {cached.parent}.",
        PretrainedWeightsUnavailable,
        stacklevel=3,
    )
    return None


def adapt_first_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """Return a copy of an RGB convolution that takes ``in_channels`` channels.

    For one channel the new kernel is the *sum* of the red, green and blue kernels. A grey image
    ``g`` shown to an ImageNet network is ``(g, g, g)``, and the convolution gives
    ``W_r * g + W_g * g + W_b * g = (W_r + W_g + W_b) * g``: the summed kernel on ``g`` gives
    exactly the activations the pretrained network computes for the grey image replicated to
    RGB, i.e. on the scale its later layers and batch-norm statistics were trained for. (Averaging
    would divide them by three; keeping one colour would drop two thirds of the signal.) For
    ``in_channels`` other than 1 and 3 the summed kernel is spread evenly, ``sum / in_channels``
    per channel, which keeps the same property for identical channels; for 3 the weights are kept.

    Args:
        conv: The first convolution, weight ``(out, 3, kh, kw)``; not modified.
        in_channels: Channels of the new input.

    Returns:
        A new ``nn.Conv2d`` with weight ``(out, in_channels, kh, kw)``.

    Raises:
        ValueError: If ``in_channels`` is not positive.
        TypeError: If it is not an int.

    >>> conv = nn.Conv2d(3, 2, 1, bias=False)
    >>> adapt_first_conv(conv, 1).weight.shape
    torch.Size([2, 1, 1, 1])
    """
    in_channels = check_int("in_channels", in_channels, minimum=1)
    new = nn.Conv2d(
        in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=conv.groups,
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
    )
    with torch.no_grad():
        if in_channels == conv.in_channels:
            new.weight.copy_(conv.weight)
        else:
            summed = conv.weight.sum(dim=1, keepdim=True)
            new.weight.copy_(summed.repeat(1, in_channels, 1, 1) / in_channels)
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new


def _replace(model: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, name, module)


def _first_conv_path(model: nn.Module) -> str:
    return next(name for name, m in model.named_modules() if isinstance(m, nn.Conv2d))


def build_backbone(
    name: str, *, in_channels: int = 1, num_classes: int = 4, pretrained: bool = True
) -> nn.Module:
    """Build a classification network by name, adapted to ``in_channels``-channel MRI.

    torchvision networks get their first convolution adapted with :func:`adapt_first_conv` (the
    RGB kernels summed for grey input) and a new, randomly initialised linear head with
    ``num_classes`` outputs. ``"simple_cnn"`` is :class:`SimpleCNN` and always starts from random
    weights (there is nothing to pretrain it on), whatever ``pretrained`` says.

    Args:
        name: One of :data:`BACKBONES`.
        in_channels: Channels of the input images.
        num_classes: Number of classes.
        pretrained: Load ImageNet weights (warns :class:`PretrainedWeightsUnavailable` and uses
            random weights when they cannot be had).

    Returns:
        An ``nn.Module`` mapping float32 ``(N, in_channels, H, W)`` to logits ``(N, num_classes)``.

    Raises:
        ValueError: If ``name`` is not one of :data:`BACKBONES`, or a size is not positive.
        TypeError: If a size is not an int.

    >>> model = build_backbone("resnet18", pretrained=False)
    >>> model.conv1.in_channels, model.fc.out_features
    (1, 4)
    """
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; choose one of {list(BACKBONES)}")
    in_channels = check_int("in_channels", in_channels, minimum=1)
    num_classes = check_int("num_classes", num_classes, minimum=2)
    if name == "simple_cnn":
        return SimpleCNN(in_channels, num_classes)
    model = build_torchvision_model(name, pretrained=pretrained)
    head_path = _TORCHVISION[name][2]
    conv_path = _first_conv_path(model)
    _replace(model, conv_path, adapt_first_conv(model.get_submodule(conv_path), in_channels))
    old_head = model.get_submodule(head_path)
    _replace(model, head_path, nn.Linear(old_head.in_features, num_classes))
    return model


def classifier_head(model: nn.Module) -> nn.Module:
    """Return the final linear layer of a model from :func:`build_backbone` (not a copy).

    Raises:
        TypeError: If ``model`` was not built by :func:`build_backbone`.
    """
    if isinstance(model, SimpleCNN):
        return model.head[-1]
    for _, _, head_path in _TORCHVISION.values():
        try:
            head = model.get_submodule(head_path)
        except AttributeError:
            continue
        if isinstance(head, nn.Linear):
            return head
    raise TypeError(f"no known classifier head in {type(model).__name__}; use build_backbone")


class TumorClassifier(pl.LightningModule):
    """Classify MRI slices into tumour classes: any backbone, loss and schedule by name.

    Batches are ``(images, labels)``: float32 ``(N, in_channels, H, W)`` and int64 ``(N,)``.
    ``forward`` returns logits ``(N, num_classes)``; ``predict_step`` returns softmax
    probabilities ``(N, num_classes)``. Each stage (``train``, ``val``, ``test``) has its own
    metrics, logged per epoch as ``stage/loss``, ``stage/accuracy``, ``stage/balanced_accuracy``
    (= macro recall, the mean sensitivity over classes), ``stage/f1_macro`` and
    ``stage/recall_<class>``.

    Args:
        backbone: A name from :data:`BACKBONES`.
        num_classes: Number of classes.
        in_channels: Channels of the images.
        pretrained: Start from ImageNet weights (torchvision backbones).
        lr: Peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        loss: ``"ce"`` (cross-entropy, unweighted), ``"weighted_ce"`` (needs
            ``class_weights``) or ``"focal"`` (:class:`course_lib.losses.FocalLoss` with
            ``focal_gamma``; ``class_weights`` optional).
        class_weights: One weight per class, in label order, or ``None``.
        label_smoothing: Label smoothing in ``[0, 1)`` (all three losses).
        focal_gamma: Focusing parameter of the focal loss, ``>= 0``.
        scheduler: ``"cosine"`` (cosine decay over all steps), ``"onecycle"`` (warm-up then
            decay) or ``"none"``; both schedules step every batch.
        freeze_backbone: Start with everything but the head frozen (see :meth:`freeze_backbone`).
        channels_last: Run in ``channels_last`` memory format (faster convolutions on GPUs with
            tensor cores under mixed precision).
        compile: Compile the backbone with ``torch.compile`` (GPU; first batches are slow).
        class_names: Names in label order; default :data:`CLASS_NAMES` for 4 classes, else
            ``"0"``, ``"1"``, ...

    Raises:
        ValueError: For an unknown name or an out-of-range value; the message says which.
        TypeError: If a number (``lr``, ``weight_decay``, ``label_smoothing``,
            ``focal_gamma``) is not a number, or a size not an int.
    """

    def __init__(
        self,
        backbone: str = "simple_cnn",
        num_classes: int = 4,
        in_channels: int = 1,
        pretrained: bool = False,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        loss: str = "ce",
        class_weights: list[float] | None = None,
        label_smoothing: float = 0.0,
        focal_gamma: float = 2.0,
        scheduler: str = "cosine",
        freeze_backbone: bool = False,
        channels_last: bool = False,
        compile: bool = False,
        class_names: list[str] | None = None,
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"Unknown loss {loss!r}; choose one of {list(LOSSES)}")
        if scheduler not in SCHEDULERS:
            raise ValueError(f"Unknown scheduler {scheduler!r}; choose one of {list(SCHEDULERS)}")
        check_number("lr", lr, above=0)
        check_number("weight_decay", weight_decay, minimum=0)
        check_interval("label_smoothing", label_smoothing, 0, 1, closed="left")
        check_number("focal_gamma", focal_gamma, minimum=0)
        if loss == "weighted_ce" and class_weights is None:
            raise ValueError(
                "loss='weighted_ce' needs class_weights (one per class; "
                "see course_lib.losses.class_weights)"
            )
        if loss == "ce" and class_weights is not None:
            raise ValueError(
                "class_weights were given with loss='ce', which ignores them; "
                "use loss='weighted_ce' or loss='focal', or drop class_weights"
            )
        if class_weights is not None and len(class_weights) != num_classes:
            raise ValueError(
                f"class_weights needs {num_classes} values (one per class), got {class_weights!r}"
            )
        if class_names is None:
            class_names = (
                list(CLASS_NAMES)
                if num_classes == len(CLASS_NAMES)
                else [str(i) for i in range(num_classes)]
            )
        if len(class_names) != num_classes:
            raise ValueError(
                f"class_names needs {num_classes} names (one per class), got {class_names!r}"
            )
        self.save_hyperparameters()
        self.class_names = list(class_names)
        self.backbone = build_backbone(
            backbone, in_channels=in_channels, num_classes=num_classes, pretrained=pretrained
        )
        self.criterion = self._make_loss()
        metrics = MetricCollection(
            {
                "accuracy": MulticlassAccuracy(num_classes, average="micro"),
                "balanced_accuracy": MulticlassRecall(num_classes, average="macro"),
                "f1_macro": MulticlassF1Score(num_classes, average="macro"),
            }
        )
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        # one recall per class, logged as e.g. "val/recall_glioma"
        for stage in ("train", "val", "test"):
            recall = ClasswiseWrapper(
                MulticlassRecall(num_classes, average=None),
                labels=self.class_names,
                prefix=f"{stage}/recall_",
            )
            setattr(self, f"{stage}_recall", recall)
        self._backbone_frozen = False
        if freeze_backbone:
            self.freeze_backbone()
        if channels_last:
            self.backbone = self.backbone.to(memory_format=torch.channels_last)
        if compile:
            self.backbone.compile()

    def _make_loss(self) -> nn.Module:
        hp = self.hparams
        weight = None
        if hp.class_weights is not None:
            weight = torch.as_tensor(hp.class_weights, dtype=torch.float32)
        if hp.loss == "focal":
            return FocalLoss(
                gamma=hp.focal_gamma, weight=weight, label_smoothing=hp.label_smoothing
            )
        return nn.CrossEntropyLoss(weight=weight, label_smoothing=hp.label_smoothing)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits ``(N, num_classes)`` for float32 images ``(N, in_channels, H, W)``."""
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.backbone(x)

    # --- transfer learning ---------------------------------------------------------------
    def freeze_backbone(self) -> None:
        """Freeze every parameter except the classifier head; batch norms stop updating too.

        Lightning's ``BaseFinetuning.freeze`` (with ``train_bn=False``) does the freezing; the
        frozen batch-norm layers are also kept in eval mode during training (see :meth:`train`),
        so they normalise with their ImageNet running statistics and MRI batches do not
        overwrite them.
        """
        BaseFinetuning.freeze(self.backbone, train_bn=False)
        BaseFinetuning.make_trainable(classifier_head(self.backbone))
        self._backbone_frozen = True
        self.train(self.training)

    def unfreeze_backbone(self) -> None:
        """Make every parameter trainable again (fine-tuning), batch norms included."""
        BaseFinetuning.make_trainable(self.backbone)
        self._backbone_frozen = False
        self.train(self.training)

    def train(self, mode: bool = True) -> TumorClassifier:
        """Set train/eval mode; with a frozen backbone its batch norms stay in eval mode."""
        super().train(mode)
        if mode and getattr(self, "_backbone_frozen", False):
            for module in self.backbone.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    # --- steps -----------------------------------------------------------------------------
    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self.criterion(logits, y)
        preds = logits.argmax(dim=1)
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(preds, y)
        getattr(self, f"{stage}_recall").update(preds, y)
        on_step = stage == "train"
        self.log(f"{stage}/loss", loss, on_step=on_step, on_epoch=True, prog_bar=True)
        if stage != "train":  # training's are logged once, at the end of the epoch (cheaper)
            self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def _log_recall(self, stage: str) -> None:
        recall = getattr(self, f"{stage}_recall")
        self.log_dict(recall.compute())
        recall.reset()

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        """Loss of one training batch ``(images, labels)``."""
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        """Update validation loss and metrics on one batch."""
        self._step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        """Update test loss and metrics on one batch."""
        self._step(batch, "test")

    def on_train_epoch_end(self) -> None:  # noqa: D102
        # Logging the metric objects every step (as for validation) costs Lightning's
        # bookkeeping on each of the short steps of a GPU; computed once here, the values are
        # the same: the metrics accumulate over the epoch either way.
        self.log_dict(self.train_metrics.compute())
        self.train_metrics.reset()
        self._log_recall("train")

    def on_validation_epoch_end(self) -> None:  # noqa: D102
        self._log_recall("val")

    def on_test_epoch_end(self) -> None:  # noqa: D102
        self._log_recall("test")

    def predict_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        """Softmax probabilities float32 ``(N, num_classes)`` for ``images`` or ``(images, _)``."""
        x = batch[0] if isinstance(batch, list | tuple) else batch
        return torch.softmax(self(x).float(), dim=1)

    def run_progress(self) -> float:
        """How far the run is, in ``[0, 1]``: the larger of its share of steps and of time.

        Steps count against ``trainer.estimated_stepping_batches`` (from ``max_epochs`` or
        ``max_steps``); time against the trainer's ``max_time`` (:func:`time_budget`), measured
        from the start of training and kept across a resume. A run with both ends at whichever
        comes first, and its schedule ends with it. Under DDP rank 0's value is used by all, so
        that every process steps with the same learning rate.
        """
        trainer = self.trainer
        progress = 0.0
        total = getattr(self, "_planned_steps", None)
        if total is None:
            total = self._planned_steps = trainer.estimated_stepping_batches
        if total != float("inf"):
            progress = trainer.global_step / max(1, int(total))
        timer = time_budget(trainer)
        if timer is not None:
            elapsed = timer.time_elapsed()
            progress = max(progress, elapsed / max(elapsed + timer.time_remaining(), 1e-9))
        if trainer.world_size > 1:
            progress = float(trainer.strategy.broadcast(progress))
        return min(progress, 1.0)

    def configure_optimizers(self):
        """AdamW, with a per-step cosine or one-cycle schedule over the whole run.

        The whole run is ``max_epochs`` (or ``max_steps``) of steps; with a time budget
        (``max_time`` on the Trainer) it is the budget or the steps, whichever ends first, and
        the schedule follows :meth:`run_progress` (wall-clock time), so that a run told to
        train for 10 minutes warms up, peaks and anneals within those 10 minutes.
        """
        hp = self.hparams
        optimizer = torch.optim.AdamW(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.scheduler == "none":
            return optimizer
        total = self._planned_steps = self.trainer.estimated_stepping_batches
        if time_budget(self.trainer) is not None:
            # the function, not a callable object, so that LambdaLR does not pickle the trainer
            def factor(_step: int) -> float:
                return schedule_factor(hp.scheduler, self.run_progress())

            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": schedule, "interval": "step"},
            }
        if total == float("inf"):
            raise ValueError(
                f"scheduler={hp.scheduler!r} needs a finite run; set max_epochs, max_steps or "
                "max_time (a time budget) on the Trainer, or use scheduler='none'"
            )
        total = max(1, int(total))
        if hp.scheduler == "cosine":
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
        else:
            schedule = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=hp.lr, total_steps=total
            )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
