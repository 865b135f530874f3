"""How fast data and models go: images per second of a DataLoader and of a training step.

A training run is only as fast as its slower half: the loader that decodes, resizes and augments
images on the CPU, or the model that learns from them (on the GPU, when there is one). Measure
both with the same batch size and compare: if the loader delivers fewer images per second than
the model can eat, the GPU waits, and more ``num_workers``, caching or lighter augmentation help;
if it delivers more, the loader is not the bottleneck.

>>> import torch
>>> from torch.utils.data import DataLoader, TensorDataset
>>> loader = DataLoader(TensorDataset(torch.zeros(10, 1, 8, 8), torch.zeros(10)), batch_size=4)
>>> result = measure_throughput(loader, warmup=0)
>>> result.images, result.batches
(10, 3)
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from course_lib._validation import check_int, check_type
from course_lib.config import default_device

__all__ = [
    "Throughput",
    "measure_datamodule",
    "measure_throughput",
    "measure_training_throughput",
]


@dataclass(frozen=True)
class Throughput:
    """What one measurement found.

    Attributes:
        images: Images timed (warm-up batches not counted).
        batches: Batches timed.
        seconds: Wall-clock seconds for them.
    """

    images: int
    batches: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        """Images per second (``inf`` if the clock saw no time pass)."""
        return self.images / self.seconds if self.seconds > 0 else float("inf")

    def __str__(self) -> str:
        return (
            f"{self.images_per_second:,.0f} images/s ({self.images} images in {self.seconds:.2f} s)"
        )


def _batch_size(batch) -> int:
    """Images in a batch: ``images`` or ``(images, labels, ...)`` with images ``(N, ...)``."""
    images = batch[0] if isinstance(batch, list | tuple) else batch
    if not hasattr(images, "shape") or len(images.shape) == 0:
        raise TypeError(
            f"a batch must be an (N, ...) tensor or a tuple (images, labels); got {type(batch)}"
        )
    return int(images.shape[0])


def measure_throughput(
    loader: Iterable, *, batches: int | None = None, warmup: int = 1
) -> Throughput:
    """Time how many images per second a DataLoader (or any iterable of batches) delivers.

    The first ``warmup`` batches are drawn but not timed: they include starting worker
    processes and filling caches, which a long training run pays once. Then up to ``batches``
    batches are timed (all remaining ones when ``None``). Only loading is timed; nothing is
    moved to a device.

    Args:
        loader: Iterable of batches, each an ``(N, C, H, W)`` tensor or a tuple
            ``(images, labels, ...)`` whose first item is one.
        batches: Batches to time after the warm-up, ``>= 1``; ``None``: the rest of one pass.
        warmup: Batches drawn first and not timed, ``>= 0``.

    Returns:
        A :class:`Throughput` (``images_per_second`` is the number to compare).

    Raises:
        ValueError: If ``batches`` or ``warmup`` is out of range, or no batch is left to time
            after the warm-up.
        TypeError: If ``batches`` or ``warmup`` is not an int, or a batch holds no
            ``(N, ...)`` array.
    """
    if batches is not None:
        check_int("batches", batches, minimum=1)
    check_int("warmup", warmup, minimum=0)
    iterator = iter(loader)
    for _ in range(warmup):
        if next(iterator, None) is None:
            break
    images = timed = 0
    start = time.perf_counter()
    for batch in iterator:
        images += _batch_size(batch)
        timed += 1
        if batches is not None and timed >= batches:
            break
    seconds = time.perf_counter() - start
    if timed == 0:
        raise ValueError(
            f"no batch left to time after warmup={warmup}; use a smaller warmup or more data"
        )
    return Throughput(images=images, batches=timed, seconds=seconds)


def measure_datamodule(
    datamodule, *, warm_epochs: int = 1, batches: int | None = None
) -> Throughput:
    """Time a LightningDataModule's training loader after warm-up epochs.

    Calls ``prepare_data()`` and ``setup("fit")``, draws ``warm_epochs`` whole epochs untimed
    (they start the worker processes and, with ``cache=True``, fill the caches, which persistent
    workers keep), then times one more pass with :func:`measure_throughput`. This is the speed
    of every epoch after the first in a long run.

    Args:
        datamodule: A ``LightningDataModule``, e.g.
            :class:`course_lib.data.BrainMRIDataModule` with the options to compare.
        warm_epochs: Untimed epochs first, ``>= 0``.
        batches: Batches to time (``None``: the whole epoch).

    Returns:
        A :class:`Throughput` of the timed pass.

    Raises:
        TypeError: If ``datamodule`` has no ``train_dataloader``, or ``warm_epochs`` or
            ``batches`` is not an int.
        ValueError: If ``warm_epochs`` or ``batches`` is out of range.
    """
    if not callable(getattr(datamodule, "train_dataloader", None)):
        raise TypeError(
            f"datamodule must be a LightningDataModule, got {type(datamodule).__name__}"
        )
    check_int("warm_epochs", warm_epochs, minimum=0)
    datamodule.prepare_data()
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    for _ in range(warm_epochs):
        for _batch in loader:
            pass
    return measure_throughput(loader, batches=batches, warmup=0)


def measure_training_throughput(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int = 5,
    warmup: int = 1,
    device: torch.device | str | None = None,
    lr: float = 1e-3,
) -> Throughput:
    """Time training steps (forward, cross-entropy, backward, Adam step) on one fixed batch.

    The batch is moved to ``device`` once, so this measures how many images per second the
    model can *learn from* there, with no loading at all: the loader must deliver at least this
    many to keep the device busy. The model is trained in place (use a throw-away copy).

    Args:
        model: Maps float32 ``(N, C, H, W)`` to logits ``(N, num_classes)``, e.g.
            :class:`course_lib.models.SimpleCNN`.
        images: float32 ``(N, C, H, W)`` batch.
        labels: int64 ``(N,)`` class indices.
        steps: Timed steps, ``>= 1``.
        warmup: Untimed steps first (kernel selection, memory allocation), ``>= 0``.
        device: Where to train; ``None``: :func:`course_lib.config.default_device`.
        lr: Adam learning rate.

    Returns:
        A :class:`Throughput` over ``steps * N`` images.

    Raises:
        TypeError: If ``model`` is not an ``nn.Module``, the batch is not tensors, or
            ``steps``/``warmup`` is not an int.
        ValueError: If shapes disagree or ``steps``/``warmup`` is out of range.
    """
    check_type("model", model, nn.Module, "a torch.nn.Module")
    if not torch.is_tensor(images) or not torch.is_tensor(labels):
        raise TypeError("images and labels must be torch tensors (a batch from a DataLoader)")
    if images.ndim != 4 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"need images (N, C, H, W) and labels (N,), got {tuple(images.shape)} and "
            f"{tuple(labels.shape)}"
        )
    check_int("steps", steps, minimum=1)
    check_int("warmup", warmup, minimum=0)
    device = torch.device(device) if device is not None else default_device()
    model = model.to(device).train()
    x, y = images.to(device).float(), labels.to(device).long()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    seconds = time.perf_counter() - start
    return Throughput(images=steps * int(x.shape[0]), batches=steps, seconds=seconds)
