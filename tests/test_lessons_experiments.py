"""Scarce-data subsets, one training run, and the transfer-learning comparison, all tiny."""

import time
import warnings

import pandas as pd
import pytest
import torch
import torchvision
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_recall

from course_lib import models
from course_lib.config import PROFILES
from course_lib.data import BrainMRIDataModule
from course_lib.lessons.experiments import (
    STRATEGIES,
    compare_transfer,
    imagenet_first_conv,
    patient_subset,
    pretrained_weights_available,
    run_experiment,
    subset_loader,
)
from course_lib.synthetic_spec import SyntheticSpec

TINY = PROFILES["smoke"].with_overrides(image_size=32, batch_size=8, max_epochs=1)
TRAINER = {"limit_train_batches": 1, "limit_val_batches": 1, "limit_test_batches": 1}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    data = BrainMRIDataModule(
        root=str(tmp_path_factory.mktemp("experiments") / "syn"),
        image_size=32,
        batch_size=8,
        synthetic=SyntheticSpec(per_class=12, test_per_class=4, slices_per_patient=2),
        val_fraction=0.34,
        seed=0,
    )
    data.prepare_data()
    data.setup()
    return data


@pytest.fixture
def offline(monkeypatch):
    """No weights in the cache and no network: the library falls back to random weights."""
    monkeypatch.setattr(models, "_weights_host_reachable", lambda url, timeout=0: False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: "/nonexistent-hub")


def index(labels, patients):
    return pd.DataFrame({"label": labels, "patient_id": patients, "path": "x"})


def test_patient_subset_keeps_whole_patients_per_class():
    idx = index([0] * 6 + [1] * 6, ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e", "f", "f"])
    before = idx.copy()
    kept = patient_subset(idx, 2, seed=0)
    assert kept.groupby("label")["patient_id"].nunique().tolist() == [2, 2]
    assert len(kept) == 8 and kept.index.is_monotonic_increasing
    assert kept.equals(patient_subset(idx, 2, seed=0))
    draws = {tuple(sorted(set(patient_subset(idx, 1, seed=s)["patient_id"]))) for s in range(20)}
    assert len(draws) > 1
    pd.testing.assert_frame_equal(idx, before)


@pytest.mark.parametrize(
    ("data", "n", "error", "message"),
    [
        ([1, 2], 1, TypeError, "pandas DataFrame"),
        (pd.DataFrame({"label": [0]}), 1, ValueError, r"lacks column\(s\) \['patient_id'\]"),
        (index([0, 0], ["a", "b"]), 1.5, TypeError, "patients_per_class must be an int"),
        (index([0, 0], ["a", "b"]), 0, ValueError, "must be >= 1"),
        (index([0, 0], ["a", "b"]), 3, ValueError, "class 0 has 2 patients"),
    ],
)
def test_patient_subset_checks_arguments(data, n, error, message):
    with pytest.raises(error, match=message):
        patient_subset(data, n, seed=0)


@pytest.mark.parametrize("augment", [False, True])
def test_subset_loader_batches_the_chosen_patients(tiny_data, augment):
    loader = subset_loader(tiny_data, 2, augment=augment, seed=1)
    assert len(loader.dataset) == 4 * 2 * 2  # classes x patients x slices per patient
    assert set(loader.dataset.index["patient_id"]) <= set(tiny_data.train_index["patient_id"])
    images, labels = next(iter(loader))
    assert images.shape == (8, 1, 32, 32) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    has_noise = any(type(t).__name__ == "GaussNoise" for t in loader.dataset.transform)
    assert has_noise == augment


def test_run_experiment_trains_tests_and_reads_curves(tiny_data, tmp_path, capsys):
    model = models.TumorClassifier(backbone="simple_cnn")
    start = time.perf_counter()
    run = run_experiment(
        model, tiny_data, name="tiny run", root_dir=tmp_path, profile=TINY, **TRAINER
    )
    elapsed = time.perf_counter() - start
    assert run.name == "tiny run" and run.model is model and model.global_step == 1
    assert {"train/loss", "val/loss", "val/balanced_accuracy"} <= set(run.metrics.columns)
    x, y = next(iter(tiny_data.test_dataloader()))  # limit_test_batches=1: the first batch
    with torch.no_grad():
        pred = model.eval()(x).argmax(dim=1)
    expected = multiclass_recall(pred, y, num_classes=4, average="macro")
    assert run.test["test/balanced_accuracy"] == pytest.approx(float(expected))
    assert run.test["test/accuracy"] == pytest.approx(float((pred == y).float().mean()))
    assert run.seconds < elapsed  # training only, not the test and the setup around it
    assert (tmp_path / "tiny_run" / "logs").is_dir()
    assert run.best_epoch == 0  # one epoch: its checkpoint is the one kept
    kept = run.metrics.loc[0, "val/balanced_accuracy"]
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"tiny run: 1 epochs in {run.seconds:.0f} s, kept epoch 0 ")
    assert f"(val balanced accuracy {kept:.3f})" in line
    assert line.endswith(f"test {run.test['test/balanced_accuracy']:.3f}")
    run_experiment(
        model, tiny_data, name="quiet", root_dir=tmp_path, profile=TINY, verbose=False, **TRAINER
    )
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        run_experiment(model, tiny_data, name=" ", root_dir=tmp_path, profile=TINY)


def test_pretrained_weights_available_offline_warns_and_says_no(offline):
    with pytest.warns(models.PretrainedWeightsUnavailable, match="cannot be reached"):
        assert pretrained_weights_available("resnet18") is False
    with pytest.raises(ValueError, match="those with ImageNet weights"):
        pretrained_weights_available("simple_cnn")


def test_imagenet_first_conv_loads_the_rgb_layer(monkeypatch):
    state = torchvision.models.resnet18(weights=None).state_dict()
    monkeypatch.setattr(models, "load_pretrained_state_dict", lambda weights: state)
    conv = imagenet_first_conv("resnet18")
    assert conv.weight.shape == (64, 3, 7, 7)
    torch.testing.assert_close(conv.weight.detach(), state["conv1.weight"])
    with pytest.raises(ValueError, match="those with ImageNet weights"):
        imagenet_first_conv("simple_cnn")


@pytest.mark.slow
def test_compare_transfer_same_budget_three_strategies(tiny_data, tmp_path, monkeypatch):
    state = torchvision.models.resnet18(weights=None).state_dict()  # stand-in ImageNet weights
    monkeypatch.setattr(models, "load_pretrained_state_dict", lambda weights: state)
    table, runs = compare_transfer(
        tiny_data, root_dir=tmp_path, patients_per_class=2, profile=TINY, **TRAINER
    )
    assert list(table.index) == list(STRATEGIES)
    assert table["ImageNet weights"].tolist() == [False, True, True]
    assert table.loc["frozen", "trainable parameters"] == 512 * 4 + 4
    assert table.loc["fine-tuned", "% trainable"] == 100.0
    for strategy, run in runs.items():  # the table reports each run's own test metrics
        assert table.loc[strategy, "test accuracy"] == run.test["test/accuracy"]
        assert table.loc[strategy, "test macro-F1"] == run.test["test/f1_macro"]
    frozen = runs["frozen"].model.eval()
    x, y = next(iter(tiny_data.test_dataloader()))
    with torch.no_grad():
        pred = frozen(x).argmax(dim=1)
    accuracy = multiclass_accuracy(pred, y, num_classes=4, average="micro")
    assert table.loc["frozen", "test accuracy"] == pytest.approx(float(accuracy))
    assert all(run.model.global_step == 1 for run in runs.values())
    assert runs["fine-tuned"].model.hparams.lr == STRATEGIES["fine-tuned"]["lr"]
    torch.testing.assert_close(  # the frozen backbone did not move
        runs["frozen"].model.backbone.layer1[0].conv1.weight, state["layer1.0.conv1.weight"]
    )


def test_compare_transfer_offline_says_so_in_the_table(tiny_data, tmp_path, offline):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fallback warning becomes the column, not noise
        table, _ = compare_transfer(
            tiny_data, root_dir=tmp_path, strategies=["frozen"], profile=TINY, **TRAINER
        )
    assert table["ImageNet weights"].dtype == bool
    assert table["ImageNet weights"].tolist() == [False]


def test_compare_transfer_checks_strategies(tiny_data, tmp_path):
    for strategies in ([], ["frozen", "linear probe"]):
        with pytest.raises(ValueError, match="strategies must be a non-empty selection"):
            compare_transfer(tiny_data, root_dir=tmp_path, strategies=strategies)
