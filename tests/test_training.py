from __future__ import annotations

import pickle
import random
import warnings

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
)
from pytorch_lightning.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset

from course_lib.config import PROFILES
from course_lib.data import BrainMRIDataModule
from course_lib.models import TumorClassifier
from course_lib.synthetic_spec import SyntheticSpec
from course_lib.training import (
    CheckpointError,
    EpochLines,
    EpochSeed,
    check_checkpoint_classes,
    default_callbacks,
    kept_epoch,
    load_classifier,
    make_trainer,
    read_checkpoint,
    read_metrics,
)

QUIET = {"enable_progress_bar": False, "enable_model_summary": False}


def _loader(n=16, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, size, size, generator=g)
    y = torch.arange(n) % 4
    return DataLoader(TensorDataset(x, y), batch_size=8)


def _small_model(**kwargs):
    return TumorClassifier(**kwargs)


def test_make_trainer_follows_profile(tmp_path):
    trainer = make_trainer("cpu", root_dir=tmp_path, max_epochs=3, **QUIET)
    assert trainer.max_epochs == 3  # override wins
    assert trainer.precision == "32-true"
    kinds = [type(c) for c in trainer.callbacks]
    for kind in (ModelCheckpoint, EarlyStopping, LearningRateMonitor):
        assert kind in kinds
    checkpoint = trainer.checkpoint_callback
    assert checkpoint.monitor == "val/balanced_accuracy"
    assert checkpoint.mode == "max"
    last = [c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)][1]
    assert (last.monitor, last.filename, last.save_top_k) == (None, "last", 1)
    assert checkpoint.dirpath == last.dirpath == str(tmp_path / "checkpoints")
    assert trainer.early_stopping_callback.patience == 5
    assert isinstance(trainer.loggers[0], CSVLogger)


def test_make_trainer_gpu_profile_on_cpu_resolves_auto_precision(tmp_path):
    trainer = make_trainer(PROFILES["gpu"], root_dir=tmp_path, logger=False, **QUIET)
    assert trainer.precision == "32-true"
    assert trainer.max_epochs == PROFILES["gpu"].max_epochs
    assert LearningRateMonitor not in [type(c) for c in trainer.callbacks]


def test_make_trainer_extra_callbacks_and_monitor(tmp_path):
    extra = Callback()
    trainer = make_trainer(
        "smoke", root_dir=tmp_path, monitor="val/loss", mode="min", callbacks=[extra], **QUIET
    )
    assert trainer.callbacks.count(extra) == 1
    assert trainer.checkpoint_callback.monitor == "val/loss"
    assert trainer.early_stopping_callback.mode == "min"


def test_make_trainer_seeds(tmp_path):
    make_trainer("smoke", root_dir=tmp_path, seed=3, logger=False, **QUIET)
    first = torch.rand(3)
    make_trainer("smoke", root_dir=tmp_path, seed=3, logger=False, **QUIET)
    torch.testing.assert_close(torch.rand(3), first)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"profile": "tpu"}, ValueError, "Unknown profile"),
        ({"profile": 3}, TypeError, "profile must be"),
        ({"mode": "best"}, ValueError, "mode"),
        ({"patience": 0}, ValueError, "patience"),
        ({"progress": "widgets"}, ValueError, "progress"),
    ],
)
def test_make_trainer_rejects_bad_arguments(tmp_path, kwargs, error, match):
    kwargs = {"profile": "smoke", **kwargs}
    with pytest.raises(error, match=match):
        make_trainer(root_dir=tmp_path, **kwargs)


def test_progress_lines_print_one_line_per_epoch_and_nothing_from_lightning(tmp_path, capsys):
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.INFO)
    trainer = make_trainer("smoke", root_dir=tmp_path, max_epochs=2, enable_model_summary=False)
    assert isinstance(trainer.progress_bar_callback, EpochLines)
    trainer.fit(_small_model(), _loader(), _loader(seed=1))
    trainer.test(ckpt_path="best", dataloaders=_loader(seed=2), verbose=False)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("training epochs 0 to 1 ")
    assert [line.split("  ")[0] for line in lines[1:3]] == ["epoch 0", "epoch 1"]
    assert "val/balanced_accuracy" in lines[2]
    assert lines[3] == "tested on 2 batches"
    assert logging.getLogger("pytorch_lightning").level == logging.WARNING
    assert "GPU available" not in err and "litlogger" not in err


@pytest.mark.parametrize("progress", ["bar", "none"])
def test_progress_bar_or_none(tmp_path, progress):
    trainer = make_trainer("smoke", root_dir=tmp_path, logger=False, progress=progress)
    assert not any(isinstance(c, EpochLines) for c in trainer.callbacks)
    assert (trainer.progress_bar_callback is None) == (progress == "none")
    trainer = make_trainer("smoke", root_dir=tmp_path, logger=False, enable_progress_bar=False)
    assert trainer.progress_bar_callback is None


def test_default_callbacks_without_logger():
    kinds = [type(c) for c in default_callbacks(logger=False)]
    assert kinds == [ModelCheckpoint, ModelCheckpoint, EarlyStopping, EpochSeed]
    kinds = [type(c) for c in default_callbacks(logger=False, seed=None)]
    assert kinds == [ModelCheckpoint, ModelCheckpoint, EarlyStopping]


def _fit(tmp_path, max_epochs, ckpt_path=None, callbacks=()):
    trainer = make_trainer(
        "smoke", root_dir=tmp_path, max_epochs=max_epochs, callbacks=callbacks, **QUIET
    )
    model = _small_model()
    trainer.fit(model, _loader(), _loader(seed=1), ckpt_path=ckpt_path)
    return trainer, model


class _RecordOptimizerAtStart(Callback):
    def on_train_start(self, trainer, pl_module):
        self.step = trainer.global_step
        state = trainer.optimizers[0].state_dict()["state"][0]
        self.state = {k: v.clone() for k, v in state.items()}
        self.scheduler_epoch = trainer.lr_scheduler_configs[0].scheduler.last_epoch


def test_resume_from_last_checkpoint(tmp_path):
    first, _ = _fit(tmp_path, max_epochs=1)
    assert first.global_step == 2
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    recorder = _RecordOptimizerAtStart()
    with pytest.warns(UserWarning, match="exists and is not empty"):
        second, _ = _fit(tmp_path, max_epochs=2, ckpt_path="last", callbacks=[recorder])
    assert recorder.step == 2  # continued, not restarted
    assert recorder.scheduler_epoch == 2
    saved_state = saved["optimizer_states"][0]["state"][0]
    assert int(recorder.state["step"]) == 2
    torch.testing.assert_close(recorder.state["exp_avg"], saved_state["exp_avg"])
    torch.testing.assert_close(recorder.state["exp_avg_sq"], saved_state["exp_avg_sq"])
    assert second.global_step == 4
    assert second.current_epoch == 2


def test_load_classifier_round_trip(tmp_path):
    trainer, model = _fit(tmp_path, max_epochs=1)
    loaded = load_classifier(trainer.checkpoint_callback.best_model_path)
    assert isinstance(loaded, TumorClassifier)
    assert loaded.training is False
    assert loaded.hparams == model.hparams
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)


def test_load_classifier_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint_path"):
        load_classifier(tmp_path / "nope.ckpt")


class _Payload:
    pass


def test_load_classifier_refuses_arbitrary_objects(tmp_path):
    model = _small_model()
    path = tmp_path / "unsafe.ckpt"
    torch.save(
        {
            "state_dict": model.state_dict(),
            "hyper_parameters": {**model.hparams, "extra": _Payload()},
            "pytorch-lightning_version": "2.6.0",
        },
        path,
    )
    with pytest.raises(pickle.UnpicklingError):
        load_classifier(path)


def test_read_metrics_one_row_per_epoch(tmp_path):
    trainer, _ = _fit(tmp_path, max_epochs=2)
    metrics = read_metrics(trainer.log_dir)
    assert list(metrics.index) == [0, 1]
    for column in ("train/loss", "val/loss", "val/balanced_accuracy", "train/accuracy"):
        assert column in metrics.columns
        assert metrics[column].notna().all()
    assert not any(c.endswith("_step") or c == "step" for c in metrics.columns)
    np.testing.assert_allclose(metrics["lr-AdamW"], [1e-3, 5e-4])  # cosine over 2 epochs
    assert metrics.equals(read_metrics(tmp_path / "logs" / "version_0" / "metrics.csv"))


def test_read_metrics_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="metrics.csv"):
        read_metrics(tmp_path)
    pd.DataFrame({"step": [0], "loss": [1.0]}).to_csv(tmp_path / "metrics.csv", index=False)
    with pytest.raises(ValueError, match="epoch"):
        read_metrics(tmp_path)


def _curves():
    return pd.DataFrame(
        {
            "train/loss": [1.2, 0.8, 0.5],
            "val/loss": [1.3, 0.9, 1.0],
            "val/accuracy": [0.4, 0.6, 0.7],
        },
        index=pd.Index([0, 1, 2], name="epoch"),
    )


def test_plot_learning_curves_draws_both_stages_and_best_epoch():
    import matplotlib.pyplot as plt

    from course_lib.plotting import plot_learning_curves

    fig, ax = plt.subplots()
    assert plot_learning_curves(_curves(), ax=ax) is ax
    assert [line.get_label() for line in ax.get_lines()] == ["train", "val"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [1.3, 0.9, 1.0])
    assert [t.get_text() for t in ax.texts] == ["lowest val 0.900 (epoch 1)"]  # min for a loss
    assert ax.get_xlabel() == "epoch"
    ax.clear()
    plot_learning_curves(_curves(), ax=ax, metric="accuracy")
    assert [line.get_label() for line in ax.get_lines()] == ["val"]
    assert [t.get_text() for t in ax.texts] == ["highest val 0.700 (epoch 2)"]  # max otherwise
    ax.clear()
    plot_learning_curves(_curves(), ax=ax, kept_epoch=2)  # the checkpoint's epoch, not the min
    assert [line.get_label() for line in ax.get_lines()] == ["train", "val", "checkpoint kept"]
    np.testing.assert_allclose(ax.get_lines()[2].get_xdata(), [2, 2])
    assert [t.get_text() for t in ax.texts] == ["kept: epoch 2, val 1.000"]
    assert ax.texts[0].get_ha() == "right"  # a mark in the right half: text to its left, inside
    plt.close(fig)


def test_plot_learning_curves_errors():
    from course_lib.plotting import plot_learning_curves

    with pytest.raises(TypeError, match="DataFrame"):
        plot_learning_curves({"train/loss": [1.0]})
    with pytest.raises(ValueError, match="available.*accuracy"):
        plot_learning_curves(_curves(), metric="f1_macro")
    with pytest.raises(ValueError, match="kept_epoch must be one of the epochs"):
        plot_learning_curves(_curves(), kept_epoch=5)
    with pytest.raises(TypeError, match="kept_epoch"):
        plot_learning_curves(_curves(), kept_epoch=1.0)


def test_kept_epoch_is_the_best_checkpoints_epoch(tmp_path):
    trainer, _ = _fit(tmp_path, max_epochs=2)
    best = trainer.checkpoint_callback.best_model_path
    assert kept_epoch(trainer) == torch.load(best, weights_only=True)["epoch"]
    assert f"epoch{kept_epoch(trainer):02d}" in best
    untrained = make_trainer("smoke", root_dir=tmp_path / "new", logger=False, **QUIET)
    assert kept_epoch(untrained) is None


class _StopAfter(Callback):
    """Stops a run after ``epochs`` epochs, as a lost Colab session would (the schedule of the
    whole run stays what it was)."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch + 1 >= self.epochs:
            trainer.should_stop = True


def _fit_datamodule(root, data_root, workers, ckpt_path=None, stop_after=None):
    data = BrainMRIDataModule(
        root=str(data_root),
        image_size=32,
        batch_size=8,
        num_workers=workers,
        synthetic=SyntheticSpec(per_class=12, test_per_class=4, slices_per_patient=2),
        seed=3,
    )
    trainer = make_trainer(
        "smoke",
        root_dir=root,
        max_epochs=3,
        limit_train_batches=1.0,
        logger=False,
        seed=3,
        callbacks=[_StopAfter(stop_after)] if stop_after else [],
        **QUIET,
    )
    model = TumorClassifier(backbone="simple_cnn", in_channels=1, num_classes=4)  # seeded
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*exists and is not empty")  # resuming
        trainer.fit(model, data, ckpt_path=ckpt_path)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_resume_reproduces_the_uninterrupted_run(tmp_path, workers):
    data_root = tmp_path / "data"
    straight = _fit_datamodule(tmp_path / "straight", data_root, workers=workers)
    _fit_datamodule(tmp_path / "resumed", data_root, workers=workers, stop_after=2)
    last = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1  # the last epoch, whether or not it was the best
    resumed = _fit_datamodule(tmp_path / "resumed", data_root, workers=workers, ckpt_path="last")
    pairs = zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True)
    for (name, a), b in pairs:
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_epoch_seed_draws_from_seed_and_epoch(tmp_path):
    class Epoch:
        current_epoch = 4

    callback = EpochSeed(seed=9)
    callback.on_train_batch_start(Epoch(), None, None, 0)
    first = (torch.rand(2), np.random.rand(), random.random())
    callback.on_train_batch_start(Epoch(), None, None, 1)  # same epoch: no reseeding
    assert torch.rand(1) != first[0][0]
    torch.rand(5)  # whatever ran before the epoch does not matter
    EpochSeed(seed=9).on_train_batch_start(Epoch(), None, None, 0)
    again = (torch.rand(2), np.random.rand(), random.random())
    torch.testing.assert_close(first[0], again[0])
    assert first[1:] == again[1:]
    with pytest.raises(ValueError, match="seed"):
        EpochSeed(seed=-1)


@pytest.mark.parametrize(
    ("content", "error", "match"),
    [
        (b"", CheckpointError, "is empty"),
        (b"\x80\x02 garbage", CheckpointError, "cannot be read"),
        (None, CheckpointError, "not a Lightning checkpoint"),
    ],
)
def test_read_checkpoint_names_what_is_wrong(tmp_path, content, error, match):
    path = tmp_path / "x.ckpt"
    if content is None:
        torch.save({"weights": torch.zeros(2)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(error, match=match):
        read_checkpoint(path)
    with pytest.raises(error, match=match):
        load_classifier(path)


def test_check_checkpoint_classes(tmp_path):
    checkpoint = {"hyper_parameters": {"num_classes": 2, "class_names": ["notumor", "tumor"]}}
    check_checkpoint_classes(checkpoint, ["notumor", "tumor"])
    with pytest.raises(CheckpointError, match="trained for 2 classes"):
        check_checkpoint_classes(checkpoint, ["glioma", "meningioma", "notumor", "pituitary"])
    with pytest.raises(CheckpointError, match="trained for 2 classes"):
        check_checkpoint_classes(checkpoint, ["tumor", "notumor"])  # same number, other order


def test_epoch_lines_announce_a_time_budget(capsys):
    from course_lib.training import EpochLines

    trainer = pl.Trainer(
        accelerator="cpu",
        max_time={"minutes": 2},
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        callbacks=[EpochLines()],
    )
    lines = trainer.progress_bar_callback
    lines.on_train_start(trainer, None)
    out = capsys.readouterr().out
    assert out.startswith("training for 2 min (a time budget, max_time); the learning-rate")
    trainer = pl.Trainer(
        accelerator="cpu",
        max_time={"minutes": 2},
        max_epochs=5,
        logger=False,
        enable_checkpointing=False,
        callbacks=[EpochLines()],
    )
    trainer.progress_bar_callback.on_train_start(trainer, None)
    assert "max_time, or epoch 4 if it comes first" in capsys.readouterr().out
