"""Small training experiments for lessons 04 and 05: scarce data, one run, transfer learning.

- :func:`patient_subset` and :func:`subset_loader`: a training set of a few whole patients per
  class, with or without augmentation (to make over-fitting and data scarcity visible);
- :func:`run_experiment`: train one model with the profile's budget, test its best checkpoint,
  return its learning curves, test metrics and time;
- :func:`pretrained_weights_available`: whether ImageNet weights can be had on this machine;
- :func:`imagenet_first_conv`: a backbone's first, RGB, convolution as ImageNet trained it;
- :func:`compare_transfer`: the same backbone from scratch, frozen and fine-tuned, with the same
  data, seed and budget, in one table;
- :func:`pretraining_spec`, :func:`corpus_table`, :func:`pretrain_backbone` and
  :func:`load_backbone_weights`: the course's own pretrained backbone, trained (and cached) on a
  second synthetic corpus of other patients and scanners, for transfer learning offline.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pytorch_lightning.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader

from course_lib import models, training, transforms
from course_lib._validation import check_int, check_type
from course_lib.acquisition import site_names
from course_lib.config import Profile, data_dir, get_profile, seed_everything
from course_lib.data import BrainMRIDataModule, BrainMRIDataset
from course_lib.lessons.inspection import count_parameters
from course_lib.synthetic_spec import SyntheticSpec

#: How :func:`compare_transfer` sets up each strategy: whether it starts from pretrained
#: weights (ImageNet's, or the course's own MRI backbone from :func:`pretrain_backbone`),
#: whether the backbone is frozen, and the peak learning rate (fine-tuning pretrained weights
#: takes a smaller step so as not to wipe out what they know; a network from scratch can take a
#: larger one, and a new head alone on a frozen backbone, a linear model, a larger one still, so
#: that it converges in a few dozen steps). Every strategy gets a new, randomly initialised head.
STRATEGIES: dict[str, dict] = {
    "from scratch": {"pretrained": False, "freeze_backbone": False, "lr": 1e-3},
    "frozen": {"pretrained": True, "freeze_backbone": True, "lr": 1e-2},
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
    trainer = training.make_trainer(
        profile, root_dir=folder, seed=seed, logger=CSVLogger(folder, name="logs"), **kwargs
    )
    start = time.perf_counter()
    if train_loader is None:
        trainer.fit(model, datamodule=data)
    else:
        trainer.fit(model, train_dataloaders=train_loader, val_dataloaders=data.val_dataloader())
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
    line = f"{run.name}: {epochs} epoch{'' if epochs == 1 else 's'} in {run.seconds:.0f} s"
    if run.best_epoch is not None and run.best_epoch in run.metrics.index:
        kept = run.metrics.loc[run.best_epoch].get("val/balanced_accuracy", float("nan"))
        line += f", kept epoch {run.best_epoch} (val balanced accuracy {kept:.3f})"
    test = run.test.get("test/balanced_accuracy")
    return line if test is None else f"{line}, test {test:.3f}"


def pretrained_weights_available(backbone: str = "resnet18", *, warn: bool = True) -> bool:
    """Whether this machine can load the ImageNet weights of a torchvision backbone.

    Reads torch's hub cache, or downloads the weights when the server can be reached (once;
    then they are cached). When they cannot be had, ``models.PretrainedWeightsUnavailable`` is
    warned with instructions (unless ``warn`` is false), and ``False`` returned.

    Args:
        backbone: A torchvision name from ``course_lib.models.BACKBONES``.
        warn: Warn when the weights cannot be had; ``False`` to say it yourself (a lesson
            prints a plain sentence instead of a warning with its source line).

    Returns:
        ``True`` when the weights loaded.

    Raises:
        ValueError: If ``backbone`` has no pretrained weights (``"simple_cnn"``, or unknown).
    """
    weights = models.imagenet_weights(backbone)
    with warnings.catch_warnings():
        if not warn:
            warnings.simplefilter("ignore", models.PretrainedWeightsUnavailable)
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


#: What the ``starts from`` column of :func:`compare_transfer` says for each kind of start.
_STARTS = {
    "scratch": "random weights",
    "imagenet": "ImageNet",
    "missing": "random (no ImageNet weights here)",
    "course": "MRI corpus (pretrain_backbone)",
}


def _build_classifier(backbone: str, setup: Mapping, seed: int, weights=None):
    """A ``TumorClassifier`` for one strategy, and what its backbone starts from.

    ``weights`` is ``None`` (ImageNet's, for the pretrained strategies) or a
    :class:`PretrainedBackbone`, whose weights all but the head are loaded.
    """
    seed_everything(seed)  # the same random head (and random backbone) for every strategy
    setup = dict(setup)
    if not setup.get("pretrained"):
        return models.TumorClassifier(backbone=backbone, **setup), _STARTS["scratch"]
    if weights is not None:
        freeze = setup.pop("freeze_backbone", False)
        model = models.TumorClassifier(backbone=backbone, **{**setup, "pretrained": False})
        load_backbone_weights(model, weights)
        if freeze:
            model.freeze_backbone()
        return model, _STARTS["course"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", models.PretrainedWeightsUnavailable)
        model = models.TumorClassifier(backbone=backbone, **setup)
    missing = any(issubclass(w.category, models.PretrainedWeightsUnavailable) for w in caught)
    return model, _STARTS["missing" if missing else "imagenet"]


def compare_transfer(
    data,
    *,
    root_dir: str | os.PathLike,
    backbone: str = "resnet18",
    patients_per_class: int | None = None,
    strategies: Sequence[str] = tuple(STRATEGIES),
    weights: PretrainedBackbone | None = None,
    profile: Profile | str | None = None,
    seed: int = 42,
    **trainer_overrides,
) -> tuple[pd.DataFrame, dict[str, RunResult]]:
    """Train one backbone from scratch, frozen and fine-tuned: same data, seed and budget.

    Every strategy sees the same training patients (with augmentation), the same validation and
    test splits, the same seed (so the same new head) and the same number of epochs; see
    :data:`STRATEGIES` for what each one sets. ``frozen`` and ``fine-tuned`` start from
    ``weights`` (the course's own backbone, pretrained on MRI by :func:`pretrain_backbone`) or,
    when it is ``None``, from ImageNet's. When ImageNet weights cannot be had they start from
    random weights; the ``starts from`` column says so, and the table must be read with it.

    Args:
        data: A ``BrainMRIDataModule`` (``channels=1``).
        root_dir: Folder for the runs.
        backbone: A torchvision backbone name (``"resnet18"``, ``"efficientnet_b0"``, ...).
        patients_per_class: Train on this many patients per class (:func:`subset_loader`) to
            make data scarce; ``None`` uses the whole training split.
        strategies: Names from :data:`STRATEGIES`, in the order of the table.
        weights: A :class:`PretrainedBackbone` of the same ``backbone`` to transfer from, or
            ``None`` for ImageNet's weights.
        profile: Profile for epochs, device and precision; ``None`` for this machine's.
        seed: The shared seed.
        **trainer_overrides: More ``pl.Trainer`` arguments, the same for every strategy.

    Returns:
        ``(table, runs)``: a DataFrame indexed by strategy with columns ``starts from`` (what
        the backbone's weights were before training: ``"random weights"``, ``"ImageNet"``,
        ``"random (no ImageNet weights here)"`` or ``"MRI corpus (pretrain_backbone)"``),
        ``trainable parameters``, ``% trainable``, ``test accuracy``,
        ``test balanced accuracy``, ``test macro-F1``, ``best val balanced accuracy``,
        ``kept epoch``, ``seconds``; and the :class:`RunResult` of each strategy. The runs are
        named ``"<strategy>"`` (``"<strategy> (ImageNet)"`` when ``weights`` is ``None``).

    Raises:
        ValueError: If ``strategies`` is empty or holds an unknown name, or ``weights`` were
            pretrained for another backbone.
        TypeError: If ``weights`` is neither ``None`` nor a :class:`PretrainedBackbone`.
    """
    strategies = list(strategies)
    if not strategies or any(s not in STRATEGIES for s in strategies):
        raise ValueError(
            f"strategies must be a non-empty selection of {list(STRATEGIES)}, got {strategies!r}"
        )
    if weights is not None:
        check_type("weights", weights, PretrainedBackbone, "a PretrainedBackbone or None")
        if weights.backbone != backbone:
            raise ValueError(
                f"weights were pretrained for {weights.backbone!r}, not for backbone="
                f"{backbone!r}; pretrain that backbone (pretrain_backbone({backbone!r}))"
            )
    rows, runs = {}, {}
    for strategy in strategies:
        loader = None
        if patients_per_class is not None:
            loader = subset_loader(data, patients_per_class, augment=True, seed=seed)
        model, start = _build_classifier(backbone, STRATEGIES[strategy], seed, weights)
        imagenet = weights is None and STRATEGIES[strategy]["pretrained"]
        name = f"{strategy} (ImageNet)" if imagenet else strategy
        run = run_experiment(
            model,
            data,
            name=name,
            root_dir=os.path.join(os.fspath(root_dir), backbone),
            train_loader=loader,
            profile=profile,
            seed=seed,
            **trainer_overrides,
        )
        trainable = count_parameters(run.model.backbone, trainable_only=True)
        rows[strategy] = {
            "starts from": start,
            "trainable parameters": trainable,
            "% trainable": 100 * trainable / count_parameters(run.model.backbone),
            "test accuracy": run.test["test/accuracy"],
            "test balanced accuracy": run.test["test/balanced_accuracy"],
            "test macro-F1": run.test["test/f1_macro"],
            "best val balanced accuracy": float(run.metrics["val/balanced_accuracy"].max()),
            "kept epoch": run.best_epoch,
            "seconds": run.seconds,
        }
        runs[strategy] = run
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "strategy"
    return table, runs


#: The course's own pretraining, per profile (:func:`pretrain_backbone`): the corpus's slices
#: per class (training pool and test split) and the epochs. The images have the profile's size,
#: as in the lessons: a frozen backbone's features are tied to the size in pixels at which they
#: were learned (on the cpu profile, a linear probe on a backbone pretrained at 64 px reached a
#: validation balanced accuracy of 0.94 on the lesson's slices at 64 px, 0.47 at 128 px).
PRETRAINING: dict[str, dict[str, int]] = {
    "smoke": {"per_class": 16, "test_per_class": 4, "epochs": 1},
    "cpu": {"per_class": 400, "test_per_class": 20, "epochs": 1},
    "gpu": {"per_class": 2000, "test_per_class": 100, "epochs": 6},
}

#: Scanner sites of the pretraining corpus: none of them is in the lessons' data (sites A to C).
PRETRAINING_SITES: tuple[str, ...] = ("site_D", "site_E")

#: Generator seed of the pretraining corpus (the lessons' data use 0): other heads, other
#: tumours, so no patient of the lessons' validation or test splits is in the corpus.
PRETRAINING_SEED = 5


def pretraining_spec(profile: Profile | str | None = None) -> SyntheticSpec:
    """The synthetic corpus the course's backbone is pretrained on, for a profile.

    Same four classes, contrast, plane and image size as the lessons' data, but other patients
    (generator seed :data:`PRETRAINING_SEED`), other scanners (:data:`PRETRAINING_SITES`) and
    the number of :data:`PRETRAINING`.

    Args:
        profile: A profile, its name, or ``None`` (this machine's).

    Returns:
        The :class:`~course_lib.synthetic_spec.SyntheticSpec`.

    Raises:
        ValueError: If the profile's name has no entry in :data:`PRETRAINING`.

    >>> spec = pretraining_spec("smoke")
    >>> spec.image_size, spec.per_class, spec.sites, spec.seed
    (64, 16, ('site_D', 'site_E'), 5)
    """
    profile = get_profile(profile) if profile is None or isinstance(profile, str) else profile
    if profile.name not in PRETRAINING:
        raise ValueError(
            f"no pretraining recipe for profile {profile.name!r}; PRETRAINING has "
            f"{list(PRETRAINING)}"
        )
    recipe = PRETRAINING[profile.name]
    return SyntheticSpec.from_profile(
        profile,
        per_class=recipe["per_class"],
        test_per_class=recipe["test_per_class"],
        sites=PRETRAINING_SITES,
        seed=PRETRAINING_SEED,
    )


def corpus_table(specs: Mapping[str, SyntheticSpec]) -> pd.DataFrame:
    """What synthetic data sets hold, side by side: patients, slices, sites, seed, size.

    Args:
        specs: ``{name: spec}``, e.g. the lesson's data (``data.synthetic``) and
            :func:`pretraining_spec`.

    Returns:
        A DataFrame with one column per data set and the rows ``patients``, ``slices``,
        ``scanner sites``, ``generator seed``, ``image size (px)``, ``contrast``, ``plane``.

    Raises:
        TypeError: If a value is not a ``SyntheticSpec``.
        ValueError: If ``specs`` is empty.

    >>> corpus_table({"tiny": SyntheticSpec(per_class=8, test_per_class=4)}).loc["patients"]
    tiny    12
    Name: patients, dtype: object
    """
    if not specs:
        raise ValueError("specs must name at least one SyntheticSpec, got an empty mapping")
    columns = {}
    for name, spec in specs.items():
        check_type(f"specs[{name!r}]", spec, SyntheticSpec, "a SyntheticSpec")
        totals = spec.total_counts().values()
        joined = {k: getattr(spec, k) for k in ("contrast", "plane")}
        joined = {k: v if isinstance(v, str) else "/".join(v) for k, v in joined.items()}
        columns[name] = {
            "patients": sum(math.ceil(n / spec.slices_per_patient) for n in totals),
            "slices": sum(totals),
            "scanner sites": ", ".join(s.removeprefix("site_") for s in site_names(spec.sites)),
            "generator seed": spec.seed,
            "image size (px)": spec.image_size,
            **joined,
        }
    return pd.DataFrame(columns)


@dataclass
class PretrainedBackbone:
    """A backbone the course pretrained itself (what :func:`pretrain_backbone` returns).

    Attributes:
        backbone: The backbone's name (``"resnet18"``).
        state_dict: The trained ``build_backbone`` network's weights, head included
            (:func:`load_backbone_weights` leaves the head out).
        corpus: The corpus it learned from (:func:`pretraining_spec`).
        epochs: Epochs of pretraining.
        test: Its test metrics on the corpus's own test split (``{"test/accuracy": ...}``).
        seconds: Wall time of the pretraining (when it ran, not when it was loaded).
        best_epoch: The epoch whose weights were kept.
        path: The file the weights are saved in.
        cached: Whether they were loaded from ``path`` instead of trained now.
    """

    backbone: str
    state_dict: dict[str, torch.Tensor]
    corpus: SyntheticSpec
    epochs: int
    test: dict[str, float]
    seconds: float
    best_epoch: int | None
    path: Path
    cached: bool


def _pretrained_line(result: PretrainedBackbone) -> str:
    """One line on where a pretrained backbone comes from and how well it learned its corpus."""
    score = result.test.get("test/balanced_accuracy", float("nan"))
    return (
        f"loaded {result.backbone}, pretrained for {result.epochs} "
        f"epoch{'' if result.epochs == 1 else 's'} on the MRI corpus "
        f"(in {result.seconds:.0f} s; test balanced accuracy on the corpus {score:.3f}), "
        f"from {result.path}"
    )


def pretrain_backbone(
    backbone: str = "resnet18",
    *,
    profile: Profile | str | None = None,
    root_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    seed: int = 0,
    retrain: bool = False,
    verbose: bool = True,
) -> PretrainedBackbone:
    """Pretrain a backbone on the course's MRI corpus, or load it when it was pretrained before.

    The corpus is :func:`pretraining_spec` (written once under ``data_dir()`` like every
    synthetic set); the network learns its four classes from random weights with the
    profile's batch size and device for :data:`PRETRAINING`'s epochs (with augmentation, best
    epoch by validation balanced accuracy, see :func:`run_experiment`). The weights are saved
    to ``cache_dir`` under a name made of the backbone, the profile, the corpus (its folder
    name, which holds the generator version) and the seed; a second call with the same
    arguments loads them in a second.

    With ``verbose``, the run prints a line per epoch and one at the end, or one line when
    the weights are loaded.

    Args:
        backbone: A name from ``course_lib.models.BACKBONES``.
        profile: A profile, its name, or ``None`` (this machine's): the corpus's size, the
            epochs, batch size, device and batch limits.
        root_dir: Folder for the run's logs and checkpoints (default: a temporary folder,
            removed afterwards).
        cache_dir: Folder for the saved weights (default ``data_dir() / "pretrained"``).
        seed: Seed of the splits, the augmentation and the training.
        retrain: Pretrain again even when saved weights exist (they are replaced).
        verbose: Print progress.

    Returns:
        A :class:`PretrainedBackbone`.

    Raises:
        ValueError: If ``backbone`` is unknown or the profile has no recipe.
        TypeError: If ``seed`` is not an int.
    """
    if backbone not in models.BACKBONES:
        raise ValueError(f"Unknown backbone {backbone!r}; choose one of {list(models.BACKBONES)}")
    seed = check_int("seed", seed, minimum=0)
    profile = get_profile(profile) if profile is None or isinstance(profile, str) else profile
    spec = pretraining_spec(profile)
    epochs = PRETRAINING[profile.name]["epochs"]
    folder = Path(cache_dir) if cache_dir is not None else data_dir() / "pretrained"
    path = folder / f"{backbone}-{profile.name}-{spec.folder_name()}-{epochs}ep-seed{seed}.pt"
    if path.is_file() and not retrain:
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            result = PretrainedBackbone(
                backbone=backbone,
                state_dict=saved["state_dict"],
                corpus=spec,
                epochs=epochs,
                test=dict(saved["test"]),
                seconds=float(saved["seconds"]),
                best_epoch=saved["best_epoch"],
                path=path,
                cached=True,
            )
        except Exception as error:  # a truncated or foreign file: train again, and say so
            if verbose:
                print(f"could not read {path} ({type(error).__name__}); pretraining again")
        else:
            if verbose:
                print(_pretrained_line(result), flush=True)
            return result
    data = BrainMRIDataModule(
        image_size=spec.image_size,
        batch_size=profile.batch_size,
        num_workers=profile.num_workers,
        synthetic=spec,
        seed=seed,
        cache=True,
    )
    data.prepare_data()
    data.setup()
    if verbose:
        print(
            f"pretraining {backbone} from random weights on the MRI corpus: "
            f"{len(data.train_index)} training slices of "
            f"{data.train_index['patient_id'].nunique()} patients at {spec.image_size} px, "
            f"{epochs} epoch{'s' if epochs != 1 else ''}",
            flush=True,
        )
    seed_everything(seed)
    model = models.TumorClassifier(backbone=backbone, pretrained=False)
    with tempfile.TemporaryDirectory(prefix="pretraining-") as scratch:
        run = run_experiment(
            model,
            data,
            name=f"pretraining {backbone}",
            root_dir=scratch if root_dir is None else root_dir,
            profile=profile,
            seed=seed,
            verbose=verbose,
            max_epochs=epochs,
            progress="lines" if verbose else "none",
        )
    state = {k: v.detach().cpu().clone() for k, v in run.model.backbone.state_dict().items()}
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    saved = {
        "backbone": backbone,
        "profile": profile.name,
        "corpus": spec.params(),
        "epochs": epochs,
        "state_dict": state,
        "test": run.test,
        "seconds": run.seconds,
        "best_epoch": run.best_epoch,
    }
    torch.save(saved, partial)
    os.replace(partial, path)  # never a half-written file under the final name
    if verbose:
        print(f"saved the pretrained weights to {path}", flush=True)
    return PretrainedBackbone(
        backbone=backbone,
        state_dict=state,
        corpus=spec,
        epochs=epochs,
        test=dict(run.test),
        seconds=run.seconds,
        best_epoch=run.best_epoch,
        path=path,
        cached=False,
    )


def load_backbone_weights(model, weights: PretrainedBackbone) -> None:
    """Copy a pretrained backbone's weights into a ``TumorClassifier``, all but the head.

    The head stays as it is (new and random, as in every transfer); batch-norm statistics are
    copied too.

    Args:
        model: A ``TumorClassifier`` with the same backbone; changed in place.
        weights: A :class:`PretrainedBackbone`.

    Raises:
        TypeError: If ``weights`` is not a :class:`PretrainedBackbone`.
        ValueError: If the weights do not fit the model's backbone (another architecture).
    """
    check_type("weights", weights, PretrainedBackbone, "a PretrainedBackbone")
    head = models.classifier_head(model.backbone)
    prefix = next(name for name, module in model.backbone.named_modules() if module is head)
    state = {k: v for k, v in weights.state_dict.items() if not k.startswith(f"{prefix}.")}
    expected = {k for k in model.backbone.state_dict() if not k.startswith(f"{prefix}.")}
    if set(state) != expected:
        raise ValueError(
            f"weights of {weights.backbone!r} do not fit this model's backbone "
            f"({model.hparams.backbone!r}): {len(set(state) ^ expected)} tensors differ"
        )
    try:
        model.backbone.load_state_dict(state, strict=False)
    except RuntimeError as error:  # same names, other shapes (another number of channels)
        raise ValueError(f"weights of {weights.backbone!r} do not fit: {error}") from None
