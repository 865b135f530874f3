"""Lesson 04's recipe for real MRI: where real slices are, and what each ingredient is worth.

:data:`ABLATION` is the recipe of ``configs/real_cpu.yaml`` built up one ingredient at a time;
:func:`ablation` trains each step for the same time budget and scores its last weights on the
held-out part of the data (``benchmarks/real_recipe.py`` does the same at 3, 10 and 20 minutes
against a plain PyTorch script).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from course_lib.config import Profile, data_dir, get_profile
from course_lib.data import BrainMRIDataModule
from course_lib.models import TumorClassifier, time_budget
from course_lib.training import make_trainer

#: Environment variable naming a folder of real slices for lesson 04 (class folders, or
#: Kaggle's Training/Testing layout).
REAL_DATA_VARIABLE = "COURSE_REAL_DATA"

#: Seconds of training per step of :data:`ABLATION`, per profile.
ABLATION_SECONDS = {"smoke": 4, "cpu": 45, "gpu": 60}

#: The recipe, one ingredient at a time: (step, model options, data options, trainer options).
#: Each step keeps the options of the steps before it.
ABLATION: tuple[tuple[str, dict, dict, dict], ...] = (
    (
        "plain: SimpleCNN, constant learning rate, no augmentation",
        {"backbone": "simple_cnn", "scheduler": "none"},
        {"augment": False},
        {},
    ),
    ("+ augmentation (light)", {}, {"augment": True, "augment_strength": "light"}, {}),
    ("+ one-cycle schedule over the budget", {"scheduler": "onecycle"}, {}, {}),
    ("+ label smoothing 0.1", {"label_smoothing": 0.1}, {}, {}),
    (
        "+ the bigger model: ResNet-18, lr 2e-3, weight decay 0.05",
        {"backbone": "resnet18", "lr": 2e-3, "weight_decay": 0.05, "channels_last": True},
        {},
        {},
    ),
    ("+ bf16 autocast", {}, {}, {"precision": "bf16-mixed"}),
)


def find_real_data(environ: dict | None = None) -> Path | None:
    """The first folder of real slices that exists, or ``None`` (then lessons use synthetic data).

    In this order: ``$COURSE_REAL_DATA``; ``data_dir() / "kaggle"`` (what ``course-data download
    kaggle`` writes); ``../shared/data/kaggle-training`` next to a clone of the course (the
    course's development copy of Kaggle's Training split).
    """
    environ = os.environ if environ is None else environ
    candidates = []
    if environ.get(REAL_DATA_VARIABLE):
        candidates.append(Path(environ[REAL_DATA_VARIABLE]))
    candidates.append(data_dir(environ) / "kaggle")
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "data" / "kaggle-training")
    return next((path for path in candidates if path.is_dir()), None)


def recipe_data(profile: Profile, real: Path | None, *, seed: int = 42, **options):
    """The DataModule of the recipe: real slices at 128 px, or the profile's synthetic set.

    Real data is decoded once (``cache``) and split with near-duplicates kept on one side
    (``group_duplicates``); its test part is the held-out score.
    """
    if real is None:
        return BrainMRIDataModule.from_profile(profile, seed=seed, **options)
    return BrainMRIDataModule(
        source="folder",
        root=os.fspath(real),
        image_size=128,
        batch_size=64,
        num_workers=0,
        seed=seed,
        cache=True,
        group_duplicates=True,
        **options,
    )


def ablation(
    real: Path | None,
    *,
    root_dir: str | os.PathLike,
    profile: Profile | str | None = None,
    seconds: float | None = None,
    seed: int = 42,
    steps=ABLATION,
) -> pd.DataFrame:
    """Train every step of the recipe for the same time; score each on the held-out part.

    Args:
        real: A folder of real slices (:func:`find_real_data`), or ``None`` for synthetic data.
        root_dir: Folder for the runs' logs and checkpoints.
        profile: Profile for device and batch limits; ``None`` for this machine's.
        seconds: Training time of each step (default :data:`ABLATION_SECONDS` of the profile).
        seed: Seed of the data split and of every run.
        steps: The steps (default :data:`ABLATION`).

    Returns:
        One row per step: ``step``, ``accuracy`` and ``balanced_accuracy`` of the last
        weights on the held-out part, ``epochs`` run, training ``images_per_s``.
    """
    if profile is None or isinstance(profile, str):
        profile = get_profile(profile)
    if seconds is None:
        seconds = ABLATION_SECONDS.get(profile.name, 45)
    model_options, data_options, trainer_options = {}, {}, {}
    datasets: dict[tuple, BrainMRIDataModule] = {}
    rows = []
    for i, (name, model_step, data_step, trainer_step) in enumerate(steps):
        model_options.update(model_step)
        data_options.update(data_step)
        trainer_options.update(trainer_step)
        key = tuple(sorted(data_options.items()))
        if key not in datasets:
            datasets[key] = recipe_data(profile, real, seed=seed, **data_options)
        data = datasets[key]
        trainer = make_trainer(
            profile,
            root_dir=Path(root_dir) / f"step{i}",
            seed=seed,
            logger=False,
            progress="none",
            patience=10**6,  # the budget ends the run, not early stopping
            enable_model_summary=False,
            max_epochs=-1,
            max_time={"seconds": seconds},
            **trainer_options,
        )
        model = TumorClassifier(**model_options)
        trainer.fit(model, datamodule=data)
        (scores,) = trainer.test(model, datamodule=data, verbose=False)
        train_s = time_budget(trainer).time_elapsed("train")
        rows.append(
            {
                "step": name,
                "accuracy": scores["test/accuracy"],
                "balanced_accuracy": scores["test/balanced_accuracy"],
                "epochs": trainer.global_step / max(1, trainer.num_training_batches),
                "images_per_s": trainer.global_step * data.batch_size / train_s,
            }
        )
        print(
            f"{name}: {rows[-1]['epochs']:.1f} epochs in {train_s:.0f} s, held-out balanced "
            f"accuracy {rows[-1]['balanced_accuracy']:.3f}",
            flush=True,
        )
    return pd.DataFrame(rows)
