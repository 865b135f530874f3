"""Training helpers: a Trainer that follows the profile, safe checkpoint loading, learning curves.

>>> from course_lib.config import PROFILES
>>> trainer = make_trainer(PROFILES["smoke"], root_dir="/tmp/mri-doctest", logger=False)
>>> trainer.max_epochs, type(trainer.checkpoint_callback).__name__
(1, 'ModelCheckpoint')
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import pickle
import random
import re
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    ProgressBar,
)
from pytorch_lightning.loggers import CSVLogger, Logger, TensorBoardLogger

from course_lib._validation import check_choice, check_int
from course_lib.config import Profile, epoch_seed, get_profile, seed_everything
from course_lib.models import TumorClassifier, time_budget

#: Name of the checkpoint of the last epoch (``last.ckpt``), what ``ckpt_path="last"`` finds.
LAST = ModelCheckpoint.CHECKPOINT_NAME_LAST

#: The :func:`~course_lib.config.epoch_seed` stream of :class:`EpochSeed`.
EPOCH_SEED_STREAM = 1

#: What :func:`make_trainer` can show while it trains (its ``progress`` argument).
PROGRESS = ("lines", "bar", "none")

#: Lightning's loggers: at INFO they print a banner per Trainer (devices, a litlogger tip, the
#: ``limit_*_batches`` notices, the model summary, checkpoint restores).
LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning.fabric")

#: Warnings that say nothing a student can act on: (message regex, category).
KNOWN_WARNINGS = (
    # Lightning 2.6's pytree helper on torch 2.14 (not our code; also filtered in pytest)
    (r"`isinstance\(treespec, LeafSpec\)`", FutureWarning),
    # the course keeps two ModelCheckpoints on purpose (best and last); "best" is the first
    (
        r"`\.(test|validate)\(ckpt_path=\"best\"\)` is called with Trainer configured with",
        UserWarning,
    ),
    # a few dozen cached slices load fastest in the main process
    (r"The '\w+' does not have many workers", UserWarning),
    # a frozen backbone keeps its batch norms in eval mode on purpose
    (r"Found \d+ module\(s\) in eval mode", UserWarning),
)


def hide_lightning_noise() -> None:
    """Hide Lightning's per-run banner and the warnings in :data:`KNOWN_WARNINGS`, from now on.

    Sets the :data:`LIGHTNING_LOGGERS` to ``WARNING`` (real warnings and errors still show) and
    adds ``ignore`` filters for the known warnings. :func:`make_trainer` calls it unless
    ``quiet=False``; undo it with ``logging.getLogger("pytorch_lightning").setLevel("INFO")``.
    """
    for name in LIGHTNING_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for message, category in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)


class EpochLines(ProgressBar):
    """A progress bar that prints one plain line per epoch (and one when a run is tested).

    ``epoch 3  train/loss 0.912  val/loss 0.877  val/balanced_accuracy 0.551  (12 s)``

    Plain text shows the same in a terminal, a notebook, a saved notebook and CI logs, where
    Lightning's default bar leaves a dozen widget bars per run. Lines go to ``sys.stdout``.

    Args:
        keys: The logged metrics to show, in this order, when they exist.
    """

    def __init__(self, keys: Sequence[str] = ("train/loss", "val/loss", "val/balanced_accuracy")):
        super().__init__()
        self.keys = tuple(keys)
        self._enabled = True
        self._start = 0.0

    def disable(self) -> None:
        """Stop printing (Lightning calls it, e.g. during the learning-rate finder)."""
        self._enabled = False

    def enable(self) -> None:
        """Print again."""
        self._enabled = True

    def _values(self, trainer: pl.Trainer) -> str:
        metrics = trainer.callback_metrics
        shown = [f"{key} {float(metrics[key]):.3f}" for key in self.keys if key in metrics]
        return "  ".join(shown)

    def on_train_start(self, trainer: pl.Trainer, pl_module) -> None:
        """Start the clock and say how many epochs are planned."""
        self._start = time.perf_counter()
        total = trainer.max_epochs
        budget = time_budget(trainer)
        if self._enabled and budget is not None:
            seconds = budget.time_elapsed() + budget.time_remaining()
            limit = f", or epoch {total - 1} if it comes first" if total and total > 0 else ""
            print(
                f"training for {seconds / 60:.3g} min (a time budget, max_time{limit}); the "
                "learning-rate schedule follows the clock",
                file=sys.stdout,
                flush=True,
            )
        elif self._enabled and total is not None and total > 0:
            first = trainer.current_epoch
            print(
                f"training epochs {first} to {total - 1} (numbered from 0, as in the logs and"
                " the checkpoints' names)",
                file=sys.stdout,
                flush=True,
            )

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module) -> None:
        """Print the epoch's line (its validation has run by now)."""
        if not self._enabled or trainer.sanity_checking:
            return
        seconds = time.perf_counter() - self._start
        width = len(str(max(trainer.max_epochs or 0, 1) - 1))
        line = f"epoch {trainer.current_epoch:>{width}}  {self._values(trainer)}"
        print(f"{line}  ({seconds:.0f} s)", file=sys.stdout, flush=True)

    def on_test_end(self, trainer: pl.Trainer, pl_module) -> None:
        """Say that the test ran, on how many batches."""
        if self._enabled:
            batches = sum(int(n) for n in trainer.num_test_batches)
            print(f"tested on {batches} batches", file=sys.stdout, flush=True)


class EpochSeed(Callback):
    """Seed Python, NumPy and torch at the start of every training epoch from ``(seed, epoch)``.

    With the DataModule's epoch-seeded sampler and augmentation, this makes each epoch a function
    of the weights it starts from and ``(seed, epoch)`` alone: the model's own randomness
    (dropout) is drawn anew each epoch too, so a run resumed from ``last.ckpt`` trains exactly as
    the uninterrupted run did (on the CPU; GPU kernels may add their own non-determinism unless
    ``deterministic=True``).

    Args:
        seed: The run's seed.
    """

    def __init__(self, seed: int = 42):
        self.seed = check_int("seed", seed, minimum=0)
        self._seeded_epoch: int | None = None

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module, batch, batch_idx: int) -> None:
        """At the first batch of an epoch, seed everything from ``(seed, current epoch)``.

        (Not in ``on_train_epoch_start``: Lightning skips that hook for the epoch a run resumes
        at.)
        """
        if trainer.current_epoch == self._seeded_epoch:
            return
        self._seeded_epoch = trainer.current_epoch
        seed = epoch_seed(self.seed, trainer.current_epoch, EPOCH_SEED_STREAM)
        random.seed(seed)
        np.random.seed(seed)  # noqa: NPY002 - the legacy global state is what libraries read
        torch.manual_seed(seed)  # CUDA too


def default_callbacks(
    *,
    dirpath: str | os.PathLike | None = None,
    monitor: str = "val/balanced_accuracy",
    mode: str = "max",
    patience: int = 5,
    logger: bool = True,
    seed: int | None = 42,
) -> list[Callback]:
    """The callbacks every course run uses.

    - ``ModelCheckpoint`` keeping the best epoch by ``monitor`` (``trainer.checkpoint_callback``);
    - a second ``ModelCheckpoint`` keeping the last epoch as ``last.ckpt``, for resuming with
      ``fit(..., ckpt_path="last")``. (Lightning's own ``save_last=True`` writes ``last.ckpt``
      only when the best checkpoint changes, so after epochs without improvement it would
      resume from an older epoch and train it again.)
    - ``EarlyStopping`` on ``monitor`` after ``patience`` epochs without improvement;
    - ``LearningRateMonitor`` (only with a logger: it logs ``lr-AdamW``);
    - :class:`EpochSeed` (unless ``seed`` is ``None``), so that a resumed run trains as the
      uninterrupted one.

    The progress display is :func:`make_trainer`'s (its ``progress`` argument).

    Args:
        dirpath: Folder for the checkpoints; a fixed folder is what lets a new Trainer resume
            with ``ckpt_path="last"`` (``None``: Lightning's per-version folder).
        monitor: Logged metric to select and stop on.
        mode: ``"max"`` (accuracy-like) or ``"min"`` (loss-like).
        patience: Epochs without improvement before stopping, ``>= 1``.
        logger: Whether the run has a logger.
        seed: Seed of :class:`EpochSeed` (``None``: leave the global random state alone).

    Returns:
        A new list of callbacks.

    Raises:
        ValueError: If ``mode`` is not ``"max"``/``"min"`` or ``patience`` is below 1.
        TypeError: If ``patience`` or ``seed`` is not an int.
    """
    check_choice("mode", mode, ("max", "min"))
    check_int("patience", patience, minimum=1)
    short = monitor.rsplit("/", 1)[-1]
    callbacks: list[Callback] = [
        ModelCheckpoint(
            dirpath=dirpath,
            monitor=monitor,
            mode=mode,
            filename=f"epoch{{epoch:02d}}-{short}{{{monitor}:.3f}}",
            auto_insert_metric_name=False,
        ),
        ModelCheckpoint(dirpath=dirpath, filename=LAST, enable_version_counter=False),
        EarlyStopping(monitor=monitor, mode=mode, patience=patience),
    ]
    if logger:
        callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    if seed is not None:
        callbacks.append(EpochSeed(seed))
    return callbacks


def default_loggers(root_dir: str | os.PathLike, name: str = "logs") -> list[Logger]:
    """A ``CSVLogger`` (read it back with :func:`read_metrics`), plus TensorBoard when installed.

    Args:
        root_dir: Folder under which ``name/version_N/`` is created.
        name: Experiment name (sub-folder).

    Returns:
        The loggers, CSV first (so ``trainer.log_dir`` is the CSV run's folder).
    """
    loggers: list[Logger] = [CSVLogger(root_dir, name=name)]
    if importlib.util.find_spec("tensorboard") is not None:
        loggers.append(TensorBoardLogger(root_dir, name=name, version=loggers[0].version))
    return loggers


def make_trainer(
    profile: Profile | str | None = None,
    *,
    root_dir: str | os.PathLike,
    monitor: str = "val/balanced_accuracy",
    mode: str = "max",
    patience: int = 5,
    callbacks: Sequence[Callback] = (),
    logger: bool | Logger | Sequence[Logger] = True,
    seed: int | None = 42,
    progress: str = "lines",
    quiet: bool = True,
    **overrides,
) -> pl.Trainer:
    """Build a ``pl.Trainer`` that follows a profile, with the course's callbacks and loggers.

    Device and precision come from ``profile.trainer_kwargs()``: ``accelerator="auto"`` and the
    profile's precision, where ``"auto"`` means bf16-mixed on GPUs that support it, 16-mixed on
    other GPUs and 32-bit on a CPU. Epochs and batch limits come from the profile too.

    Args:
        profile: A :class:`~course_lib.config.Profile`, its name, or ``None`` for this machine's.
        root_dir: Folder for logs (``root_dir/logs/version_N/``) and checkpoints
            (``root_dir/checkpoints/``: the best epochs and ``last.ckpt``). To resume an
            interrupted run, build a trainer with the same ``root_dir`` and call
            ``trainer.fit(model, data, ckpt_path="last")`` (Lightning then warns that the
            checkpoint folder is not empty: expected when resuming). Use a new ``root_dir`` per
            experiment.
        monitor: Logged metric for checkpoint selection and early stopping.
        mode: ``"max"`` or ``"min"`` for ``monitor``.
        patience: Early-stopping patience in epochs.
        callbacks: Extra callbacks, added after the defaults (:func:`default_callbacks`).
        logger: ``True`` for :func:`default_loggers`, ``False`` for none, or your logger(s).
        seed: Seed for Python, NumPy, torch and DataLoader workers, and of the
            :class:`EpochSeed` callback (``None``: do not seed).
        progress: ``"lines"`` for one printed line per epoch (:class:`EpochLines`), ``"bar"``
            for Lightning's own bar, ``"none"`` for nothing (as ``enable_progress_bar=False``).
        quiet: Hide Lightning's banner and known warnings (:func:`hide_lightning_noise`).
        **overrides: Any other ``pl.Trainer`` argument; wins over the profile
            (e.g. ``max_epochs=3``, ``fast_dev_run=True``, ``deterministic=True``).

    Returns:
        The trainer.

    Raises:
        ValueError: If ``profile`` names no profile, or ``mode``/``patience``/``progress`` are
            invalid.
        TypeError: If ``profile`` is neither a Profile, a name nor ``None``.
    """
    check_choice("progress", progress, PROGRESS)
    if overrides.get("enable_progress_bar") is False:
        progress = "none"
    if quiet:
        hide_lightning_noise()
    if profile is None or isinstance(profile, str):
        profile = get_profile(profile)
    elif not isinstance(profile, Profile):
        raise TypeError(f"profile must be a Profile, a profile name or None, got {profile!r}")
    if seed is not None:
        seed_everything(seed)
    if logger is True:
        logger = default_loggers(root_dir)
    kwargs = {
        **profile.trainer_kwargs(),
        "default_root_dir": os.fspath(root_dir),
        "logger": logger,
        "callbacks": [
            *default_callbacks(
                dirpath=Path(root_dir) / "checkpoints",
                monitor=monitor,
                mode=mode,
                patience=patience,
                logger=bool(logger),
                seed=seed,
            ),
            *([EpochLines()] if progress == "lines" else []),
            *callbacks,
        ],
        "enable_progress_bar": progress != "none",
        # smoke runs have a handful of batches; log each so curves have points
        "log_every_n_steps": 1 if profile.name == "smoke" else 10,
    }
    kwargs.update(overrides)
    return pl.Trainer(**kwargs)


def kept_epoch(trainer: pl.Trainer) -> int | None:
    """The epoch whose checkpoint ``trainer``'s best ``ModelCheckpoint`` kept, numbered from 0.

    Read from the checkpoint file itself, so it is the epoch ``test(ckpt_path="best")`` loads
    (selected by the monitored metric, validation balanced accuracy by default).

    Args:
        trainer: A trainer after ``fit``.

    Returns:
        The epoch, or ``None`` when no best checkpoint was written.
    """
    callback = trainer.checkpoint_callback
    path = getattr(callback, "best_model_path", "") if callback is not None else ""
    if not path:
        return None
    return int(read_checkpoint(path)["epoch"])


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: empty, corrupt, not Lightning's, or for other classes."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint holding Python objects that ``torch.load(weights_only=True)`` refuses."""


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Read a Lightning checkpoint safely (``weights_only=True``) and check that it is one.

    Args:
        path: A ``.ckpt`` file.

    Returns:
        The checkpoint dict (``state_dict``, ``hyper_parameters``, ...), tensors on the CPU.

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        CheckpointError: If the file is empty, corrupt or truncated, or not a Lightning
            checkpoint.
        UnsafeCheckpointError: If it holds arbitrary Python objects, which ``weights_only``
            refuses to build (see :func:`load_classifier`); also a ``pickle.UnpicklingError``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint_path {os.fspath(path)!r} is not a file: pass a .ckpt that fit wrote "
            "(it prints the best one; the last epoch is <root>/checkpoints/last.ckpt)."
        )
    if path.stat().st_size == 0:
        raise CheckpointError(
            f"Checkpoint {os.fspath(path)!r} is empty (0 bytes): the run that wrote it was "
            "probably stopped while saving. Use another checkpoint (the best one, or last.ckpt)."
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        if found:  # a readable file with objects we refuse to build: not "corrupt"
            raise UnsafeCheckpointError(
                f"Checkpoint {os.fspath(path)!r} holds Python objects ({found.group(1)}) that a "
                "safe load refuses, since loading them can run code. If you trust the file, "
                "load it with TumorClassifier.load_from_checkpoint(path, weights_only=False)."
            ) from error
        raise CheckpointError(_corrupt(path, error)) from error
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise CheckpointError(_corrupt(path, error)) from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"{os.fspath(path)!r} is not a Lightning checkpoint (it has no state_dict); pass a "
            ".ckpt written by a Trainer."
        )
    return checkpoint


def _corrupt(path: Path, error: Exception) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (
        f"Checkpoint {os.fspath(path)!r} cannot be read ({reason}): it is corrupt or truncated. "
        "Use another checkpoint (the best one, or last.ckpt), or train again."
    )


def check_checkpoint_classes(checkpoint: dict, class_names, path: str | os.PathLike = "") -> None:
    """Check that a checkpoint was trained for ``class_names`` (their number and order).

    Raises:
        CheckpointError: If its model has another number of classes, or other class names.
    """
    hparams = checkpoint.get("hyper_parameters", {})
    trained, names = hparams.get("num_classes"), hparams.get("class_names")
    wanted = list(class_names)
    if trained is None or (trained == len(wanted) and (names is None or list(names) == wanted)):
        return
    raise CheckpointError(
        f"Checkpoint {os.fspath(path)!r} was trained for {trained} classes ({names}); the data "
        f"has {len(wanted)} ({wanted}). Use a checkpoint trained on these classes, or the same "
        "data options (source, classes) that fit used."
    )


def load_classifier(
    checkpoint_path: str | os.PathLike, *, map_location: str | torch.device = "cpu"
) -> TumorClassifier:
    """Load a :class:`TumorClassifier` from a Lightning checkpoint, safely.

    The file is read with ``torch.load(weights_only=True)``, which only rebuilds tensors and
    plain containers and never runs code stored in the file (an unsafe pickle can run anything).
    Our checkpoints hold only such values (hyperparameters are plain numbers, strings and lists),
    so this works for them; a checkpoint holding arbitrary Python objects (written by other code,
    e.g. with a ``Path`` or a custom class in its hyperparameters or callback state) is refused
    with an ``UnpicklingError``. Load such a file only if you trust it, with
    ``TumorClassifier.load_from_checkpoint(path, weights_only=False)``.

    Args:
        checkpoint_path: A ``.ckpt`` file written by a Trainer.
        map_location: Device for the tensors (default CPU; move the model afterwards).

    Returns:
        The model in eval mode.

    Raises:
        FileNotFoundError: If the file does not exist.
        CheckpointError: If it is empty, corrupt or not a Lightning checkpoint.
        UnsafeCheckpointError: If it holds arbitrary Python objects (a
            ``pickle.UnpicklingError`` too).
    """
    path = Path(checkpoint_path)
    read_checkpoint(path)
    model = TumorClassifier.load_from_checkpoint(path, map_location=map_location, weights_only=True)
    return model.eval()


def read_metrics(log_dir: str | os.PathLike) -> pd.DataFrame:
    """Read a ``CSVLogger`` run into one row per epoch, for learning curves.

    Lightning writes one row per logging event (per-step training loss, per-epoch metrics, ...)
    with blanks elsewhere; rows are merged per epoch, keeping the epoch's last value of each
    column. Per-step columns (``*_step``) and ``step`` are dropped; ``train/loss_epoch`` is
    renamed ``train/loss``; the learning rate (``lr-AdamW``, logged at each epoch's start) is
    kept. A ``trainer.test`` after ``fit`` adds a row of ``test/...`` values at the next epoch.

    Args:
        log_dir: A run folder holding ``metrics.csv`` (e.g. ``trainer.log_dir``), or the file.

    Returns:
        A DataFrame indexed by ``epoch`` (int) with float columns ``stage/metric``, e.g.
        ``train/loss``, ``val/loss``, ``val/balanced_accuracy``, sorted by name.

    Raises:
        FileNotFoundError: If there is no ``metrics.csv``.
        ValueError: If the file has no ``epoch`` column.
    """
    path = Path(log_dir)
    if path.is_dir():
        path = path / "metrics.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"no metrics.csv at {os.fspath(path)!r}; pass trainer.log_dir of a run with a CSVLogger"
        )
    frame = pd.read_csv(path)
    if "epoch" not in frame.columns:
        raise ValueError(f"{os.fspath(path)!r} has no 'epoch' column; is it a CSVLogger file?")
    # LearningRateMonitor logs at the start of an epoch with a blank epoch: take the next row's
    frame["epoch"] = frame["epoch"].bfill()
    frame = frame.dropna(subset=["epoch"])
    frame["epoch"] = frame["epoch"].astype(int)
    per_epoch = frame.groupby("epoch").last()
    drop = [c for c in per_epoch.columns if c == "step" or c.endswith("_step")]
    per_epoch = per_epoch.drop(columns=drop)
    per_epoch = per_epoch.rename(columns=lambda c: c.removesuffix("_epoch"))
    return per_epoch.dropna(axis=1, how="all").sort_index(axis=1)


@contextlib.contextmanager
def quiet_lightning():
    """Silence Lightning's per-run banner (device, tips) while several models train in a row.

    A context manager; the log levels and warning filters come back when it exits.
    """
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for message, category in KNOWN_WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=category)
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
