"""Small training experiments for lessons 04 and 05: scarce data, one run, transfer learning.

- :func:`patient_subset` and :func:`subset_loader`: a training set of a few whole patients per
  class, with or without augmentation (to make over-fitting and data scarcity visible);
- :func:`run_experiment`: train one model with the profile's budget, test its best checkpoint,
  return its learning curves, test metrics and time;
- :func:`pretrained_weights_available`: whether ImageNet weights can be had on this machine;
- :func:`imagenet_first_conv`: a backbone's first, RGB, convolution as ImageNet trained it;
- :func:`compare_transfer`: the same backbone from scratch, frozen and fine-tuned, with the same
  data, seed and budget, in one table.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from pytorch_lightning.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader

from course_lib import models, training, transforms
from course_lib._validation import check_int, check_type
from course_lib.config import Profile, get_profile, seed_everything
from course_lib.data import BrainMRIDataset
from course_lib.lessons.inspection import count_parameters

#: How :func:`compare_transfer` sets up each strategy: pretrained or not, frozen or not, and the
#: peak learning rate (fine-tuning pretrained weights takes a smaller step so as not to wipe out
#: what they know; a new head or a network from scratch can take a larger one).
STRATEGIES: dict[str, dict] = {
    "from scratch": {"pretrained": False, "freeze_backbone": False, "lr": 1e-3},
    "frozen": {"pretrained": True, "freeze_backbone": True, "lr": 1e-3},
    "fine-tuned": {"pretrained": True, "freeze_backbone": False, "lr": 3e-4},
}


def patient_subset(index: pd.DataFrame, patients_per_class: int, *, seed: int) -> pd.DataFrame:
    """Keep ``patients_per_class`` whole patients of each class, drawn at random (seeded).

    Whole patients, never single slices: neighbouring slices of one patient are near-copies,
    so "40 slices" of 10 patients hold far less information than 40 slices of 40 patients.

    Args:
        index: An index with columns ``label`` and ``patient_id`` (e.g. ``data.train_index``);
            not modified.
        patients_per_class: Patients to keep per class, ``>= 1``.
        seed: Seed of the draw.

    Returns:
        The kept rows, in their original order (index labels kept).

    Raises:
        TypeError: If ``index`` is not a DataFrame or ``patients_per_class`` not an int.
        ValueError: If a column is missing, ``patients_per_class`` is below 1, or a class has
            fewer patients than asked for.

    >>> idx = pd.DataFrame({"label": [0, 0, 0, 0, 1, 1], "patient_id": list("aabbcc")})
    >>> patient_subset(idx, 1, seed=0)["label"].tolist()
    [0, 0, 1, 1]
    """
    check_type("index", index, pd.DataFrame, "a pandas DataFrame")
    missing = sorted({"label", "patient_id"} - set(index.columns))
    if missing:
        raise ValueError(f"index lacks column(s) {missing}; use data.train_index after setup()")
    patients_per_class = check_int("patients_per_class", patients_per_class, minimum=1)
    rng = np.random.default_rng(seed)
    keep = []
    for label in sorted(index["label"].unique()):
        patients = index.loc[index["label"] == label, "patient_id"].unique()
        if len(patients) < patients_per_class:
            raise ValueError(
                f"class {label} has {len(patients)} patients, fewer than patients_per_class="
                f"{patients_per_class}; ask for fewer"
            )
        keep.extend(rng.choice(np.sort(patients), patients_per_class, replace=False))
    return index[index["patient_id"].isin(keep)]


def subset_loader(data, patients_per_class: int, *, augment: bool, seed: int = 42):
    """A shuffled training loader over a few patients of ``data``'s training split.

    Args:
        data: A ``BrainMRIDataModule``; ``setup()`` is called if needed. Its image size,
            channels, batch size and workers are used.
        patients_per_class: Patients per class, see :func:`patient_subset`.
        augment: Use the course's training augmentation
            (``course_lib.transforms.train_transform``) or only resize and normalise.
        seed: Seed of the draw of patients, the shuffling and the augmentation.

    Returns:
        A ``torch.utils.data.DataLoader`` of ``(images, labels)``: float32
        ``(B, channels, image_size, image_size)`` and int64 ``(B,)``.

    Raises:
        ValueError: See :func:`patient_subset`.
    """
    data.setup()
    index = patient_subset(data.train_index, patients_per_class, seed=seed)
    transform = (
        transforms.train_transform(data.image_size, seed=seed)
        if augment
        else transforms.eval_transform(data.image_size)
    )
    dataset = BrainMRIDataset(
        index, image_size=data.image_size, channels=data.channels, transform=transform, cache=True
    )
    return DataLoader(
        dataset,
        batch_size=data.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        num_workers=0,  # a few dozen cached slices: worker processes would cost more than they save
    )


@dataclass
class RunResult:
    """What :func:`run_experiment` returns.

    Attributes:
        name: The run's name.
        model: The trained ``TumorClassifier`` (weights of the best validation epoch).
        metrics: One row per epoch (``course_lib.training.read_metrics``).
        test: Test metrics of the best checkpoint, ``{"test/accuracy": ..., ...}``.
        seconds: Wall time of training.
        best_epoch: The epoch whose checkpoint was kept (numbered from 0, as in ``metrics``),
            chosen by validation balanced accuracy; ``None`` if no checkpoint was written.
    """

    name: str
    model: object
    metrics: pd.DataFrame
    test: dict[str, float]
    seconds: float
    best_epoch: int | None = None


def run_experiment(
    model,
    data,
    *,
    name: str,
    root_dir: str | os.PathLike,
    train_loader=None,
    profile: Profile | str | None = None,
    seed: int = 42,
    verbose: bool = True,
    **trainer_overrides,
) -> RunResult:
    """Train a model with the profile's budget, then test its best checkpoint.

    The trainer is :func:`course_lib.training.make_trainer` (best checkpoint by validation
    balanced accuracy, early stopping) with a CSV logger under ``root_dir/name``, Lightning's
    banner silenced and, with ``verbose``, one printed line when the run ends (instead of a
    progress bar per epoch)::

        no augmentation: 12 epochs in 31 s, kept epoch 7 (val balanced accuracy 0.667), test 0.542

    Args:
        model: A ``TumorClassifier``.
        data: A ``BrainMRIDataModule``: its validation and test splits are used, and its
            training split unless ``train_loader`` is given.
        name: Name of the run (its folder under ``root_dir``).
        root_dir: Folder for the runs' logs and checkpoints.
        train_loader: A training ``DataLoader`` to use instead of ``data``'s (e.g.
            :func:`subset_loader`).
        profile: Profile for epochs, device and precision; ``None`` for this machine's.
        seed: Seed of the run.
        verbose: Print the run's line.
        **trainer_overrides: More ``pl.Trainer`` arguments (e.g. ``max_epochs=20``).

    Returns:
        A :class:`RunResult`.

    Raises:
        ValueError: If ``name`` is empty.
        TypeError: If ``name`` is not a string.
    """
    if not check_type("name", name, str, "a string").strip():
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    profile = get_profile(profile) if profile is None or isinstance(profile, str) else profile
    folder = os.path.join(os.fspath(root_dir), name.replace(" ", "_"))
    kwargs = {
        "progress": "none",
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "log_every_n_steps": 1,  # small training sets have fewer batches than the default 10
        **trainer_overrides,
    }
    data.setup()
    with training.quiet_lightning():
        trainer = training.make_trainer(
            profile, root_dir=folder, seed=seed, logger=CSVLogger(folder, name="logs"), **kwargs
        )
        start = time.perf_counter()
        if train_loader is None:
            trainer.fit(model, datamodule=data)
        else:
            trainer.fit(
                model, train_dataloaders=train_loader, val_dataloaders=data.val_dataloader()
            )
        seconds = time.perf_counter() - start
        best = trainer.checkpoint_callback.best_model_path or None
        best_epoch = None
        if best:
            checkpoint = torch.load(best, map_location="cpu", weights_only=True)
            model.load_state_dict(checkpoint["state_dict"])
            best_epoch = int(checkpoint["epoch"])
        (test,) = trainer.test(model, dataloaders=data.test_dataloader(), verbose=False)
    result = RunResult(
        name=name,
        model=model,
        metrics=training.read_metrics(trainer.log_dir),
        test={k: float(v) for k, v in test.items()},
        seconds=seconds,
        best_epoch=best_epoch,
    )
    if verbose:
        print(_run_line(result), flush=True)
    return result


def _run_line(run: RunResult) -> str:
    """One line that sums up a finished run (what :func:`run_experiment` prints)."""
    epochs = int(run.metrics["train/loss"].notna().sum()) if "train/loss" in run.metrics else 0
    line = f"{run.name}: {epochs} epochs in {run.seconds:.0f} s"
    if run.best_epoch is not None and run.best_epoch in run.metrics.index:
        kept = run.metrics.loc[run.best_epoch].get("val/balanced_accuracy", float("nan"))
        line += f", kept epoch {run.best_epoch} (val balanced accuracy {kept:.3f})"
    test = run.test.get("test/balanced_accuracy")
    return line if test is None else f"{line}, test {test:.3f}"


def pretrained_weights_available(backbone: str = "resnet18") -> bool:
    """Whether this machine can load the ImageNet weights of a torchvision backbone.

    Reads torch's hub cache, or downloads the weights when the server can be reached (once;
    then they are cached). When they cannot be had, ``models.PretrainedWeightsUnavailable`` is
    warned with instructions, and ``False`` returned.

    Args:
        backbone: A torchvision name from ``course_lib.models.BACKBONES``.

    Returns:
        ``True`` when the weights loaded.

    Raises:
        ValueError: If ``backbone`` has no pretrained weights (``"simple_cnn"``, or unknown).
    """
    weights = models.imagenet_weights(backbone)
    return models.load_pretrained_state_dict(weights) is not None


def imagenet_first_conv(backbone: str = "resnet18", *, pretrained: bool = True):
    """The first convolution of a torchvision backbone as ImageNet trained it: 3 input channels.

    Args:
        backbone: A torchvision name from ``course_lib.models.BACKBONES``.
        pretrained: Load the ImageNet weights (random weights, with the warning of
            :func:`pretrained_weights_available`, when they cannot be had).

    Returns:
        A new ``nn.Conv2d`` with weight ``(out_channels, 3, kh, kw)``, e.g. ``(64, 3, 7, 7)``
        for ``"resnet18"``.

    Raises:
        ValueError: If ``backbone`` has no pretrained weights.

    >>> imagenet_first_conv("resnet18", pretrained=False).weight.shape
    torch.Size([64, 3, 7, 7])
    """
    model = models.build_torchvision_model(backbone, pretrained=pretrained)
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    return conv


def _build_classifier(backbone: str, setup: Mapping, seed: int):
    """A ``TumorClassifier`` for one strategy, and whether its ImageNet weights were loaded."""
    seed_everything(seed)  # the same random head (and random backbone) for every strategy
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", models.PretrainedWeightsUnavailable)
        model = models.TumorClassifier(backbone=backbone, **setup)
    missing = any(issubclass(w.category, models.PretrainedWeightsUnavailable) for w in caught)
    return model, bool(setup.get("pretrained")) and not missing


def compare_transfer(
    data,
    *,
    root_dir: str | os.PathLike,
    backbone: str = "resnet18",
    patients_per_class: int | None = None,
    strategies: Sequence[str] = tuple(STRATEGIES),
    profile: Profile | str | None = None,
    seed: int = 42,
    **trainer_overrides,
) -> tuple[pd.DataFrame, dict[str, RunResult]]:
    """Train one backbone from scratch, frozen and fine-tuned: same data, seed and budget.

    Every strategy sees the same training patients (with augmentation), the same validation and
    test splits, the same seed and the same number of epochs; see :data:`STRATEGIES` for what
    each one sets. When ImageNet weights cannot be had, ``frozen`` and ``fine-tuned`` start
    from random weights too; the ``ImageNet weights`` column says so, and the table must be
    read with it.

    Args:
        data: A ``BrainMRIDataModule`` (``channels=1``).
        root_dir: Folder for the runs.
        backbone: A torchvision backbone name (``"resnet18"``, ``"efficientnet_b0"``, ...).
        patients_per_class: Train on this many patients per class (:func:`subset_loader`) to
            make data scarce; ``None`` uses the whole training split.
        strategies: Names from :data:`STRATEGIES`.
        profile: Profile for epochs, device and precision; ``None`` for this machine's.
        seed: The shared seed.
        **trainer_overrides: More ``pl.Trainer`` arguments, the same for every strategy.

    Returns:
        ``(table, runs)``: a DataFrame indexed by strategy with columns ``ImageNet weights``
        (bool), ``trainable parameters``, ``% trainable``, ``test accuracy``,
        ``test balanced accuracy``, ``test macro-F1``, ``best val balanced accuracy``,
        ``seconds``; and the :class:`RunResult` of each strategy.

    Raises:
        ValueError: If ``strategies`` is empty or holds an unknown name.
    """
    strategies = list(strategies)
    if not strategies or any(s not in STRATEGIES for s in strategies):
        raise ValueError(
            f"strategies must be a non-empty selection of {list(STRATEGIES)}, got {strategies!r}"
        )
    rows, runs = {}, {}
    for strategy in strategies:
        loader = None
        if patients_per_class is not None:
            loader = subset_loader(data, patients_per_class, augment=True, seed=seed)
        model, loaded = _build_classifier(backbone, STRATEGIES[strategy], seed)
        run = run_experiment(
            model,
            data,
            name=f"{backbone}-{strategy}",
            root_dir=root_dir,
            train_loader=loader,
            profile=profile,
            seed=seed,
            **trainer_overrides,
        )
        trainable = count_parameters(run.model.backbone, trainable_only=True)
        rows[strategy] = {
            "ImageNet weights": loaded,
            "trainable parameters": trainable,
            "% trainable": 100 * trainable / count_parameters(run.model.backbone),
            "test accuracy": run.test["test/accuracy"],
            "test balanced accuracy": run.test["test/balanced_accuracy"],
            "test macro-F1": run.test["test/f1_macro"],
            "best val balanced accuracy": float(run.metrics["val/balanced_accuracy"].max()),
            "seconds": run.seconds,
        }
        runs[strategy] = run
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "strategy"
    return table, runs
