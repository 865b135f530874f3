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
    PRETRAINING_SITES,
    STRATEGIES,
    PretrainedBackbone,
    compare_transfer,
    corpus_table,
    imagenet_first_conv,
    load_backbone_weights,
    patient_subset,
    pretrain_backbone,
    pretrained_weights_available,
    pretraining_spec,
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
    assert line.startswith(f"tiny run: 1 epoch in {run.seconds:.0f} s, kept epoch 0 ")
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
    assert table["starts from"].tolist() == ["random weights", "ImageNet", "ImageNet"]
    assert table["kept epoch"].tolist() == [0, 0, 0]
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
    assert table["starts from"].tolist() == ["random (no ImageNet weights here)"]


def test_compare_transfer_checks_strategies(tiny_data, tmp_path):
    for strategies in ([], ["frozen", "linear probe"]):
        with pytest.raises(ValueError, match="strategies must be a non-empty selection"):
            compare_transfer(tiny_data, root_dir=tmp_path, strategies=strategies)


def test_pretrained_weights_available_can_stay_quiet(offline):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the lesson says it in its own words
        assert pretrained_weights_available("resnet18", warn=False) is False


def test_pretraining_spec_has_other_patients_and_scanners_than_the_lessons():
    lesson = SyntheticSpec.from_profile("cpu")
    corpus = pretraining_spec("cpu")
    assert corpus.seed != lesson.seed
    assert not set(corpus.sites) & {"site_A", "site_B", "site_C"}  # the lessons' sites=3
    assert corpus.sites == PRETRAINING_SITES
    assert corpus.per_class > lesson.per_class and corpus.contrast == lesson.contrast
    with pytest.raises(ValueError, match="no pretraining recipe for profile 'laptop'"):
        pretraining_spec(PROFILES["cpu"].with_overrides(name="laptop"))


def test_corpus_table_counts_the_patients_the_generator_draws(tiny_data):
    table = corpus_table({"tiny": tiny_data.synthetic, "corpus": pretraining_spec("smoke")})
    assert list(table.columns) == ["tiny", "corpus"]
    assert table.loc["patients", "tiny"] == tiny_data.index["patient_id"].nunique()
    assert table.loc["slices", "tiny"] == len(tiny_data.index)
    assert table.loc["scanner sites", "tiny"] == "A, B, C"
    assert table.loc["scanner sites", "corpus"] == "D, E"
    with pytest.raises(ValueError, match="at least one SyntheticSpec"):
        corpus_table({})
    with pytest.raises(TypeError, match=r"specs\['x'\] must be a SyntheticSpec"):
        corpus_table({"x": 3})


def _pretrained(backbone="resnet18", seed=0):
    """A PretrainedBackbone made by hand: a random network's weights, as if pretrained."""
    torch.manual_seed(seed)
    state = models.build_backbone(backbone, pretrained=False).state_dict()
    return PretrainedBackbone(
        backbone=backbone,
        state_dict=state,
        corpus=pretraining_spec("smoke"),
        epochs=1,
        test={},
        seconds=0.0,
        best_epoch=0,
        path=None,
        cached=False,
    )


def test_load_backbone_weights_copies_all_but_the_head():
    weights = _pretrained(seed=1)
    torch.manual_seed(2)
    model = models.TumorClassifier(backbone="resnet18")
    head = model.backbone.fc.weight.detach().clone()
    load_backbone_weights(model, weights)
    torch.testing.assert_close(model.backbone.conv1.weight, weights.state_dict["conv1.weight"])
    torch.testing.assert_close(
        model.backbone.bn1.running_var, weights.state_dict["bn1.running_var"]
    )
    torch.testing.assert_close(model.backbone.fc.weight.detach(), head)  # the head stays new
    with pytest.raises(ValueError, match="do not fit this model's backbone"):
        load_backbone_weights(model, _pretrained("simple_cnn"))
    grey = models.TumorClassifier(backbone="resnet18", in_channels=3)
    with pytest.raises(ValueError, match="do not fit"):
        load_backbone_weights(grey, weights)
    with pytest.raises(TypeError, match="weights must be a PretrainedBackbone"):
        load_backbone_weights(model, weights.state_dict)


@pytest.mark.slow
def test_compare_transfer_starts_from_the_course_backbone(tiny_data, tmp_path, capsys):
    weights = _pretrained(seed=3)
    table, runs = compare_transfer(
        tiny_data,
        root_dir=tmp_path,
        patients_per_class=2,
        weights=weights,
        profile=TINY,
        **TRAINER,
    )
    assert list(table.index) == list(STRATEGIES)
    course = "MRI corpus (pretrain_backbone)"
    assert table["starts from"].tolist() == ["random weights", course, course]
    frozen = runs["frozen"].model.backbone
    torch.testing.assert_close(
        frozen.layer1[0].conv1.weight, weights.state_dict["layer1.0.conv1.weight"]
    )
    heads = [run.model.backbone.fc.weight for run in runs.values()]
    assert not torch.equal(heads[1], weights.state_dict["fc.weight"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == list(STRATEGIES)
    with pytest.raises(ValueError, match="pretrained for 'simple_cnn', not for backbone"):
        compare_transfer(tiny_data, root_dir=tmp_path, weights=_pretrained("simple_cnn"))
    with pytest.raises(TypeError, match="weights must be a PretrainedBackbone or None"):
        compare_transfer(tiny_data, root_dir=tmp_path, weights=weights.state_dict)


@pytest.mark.slow
def test_pretrain_backbone_trains_saves_then_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))  # the corpus goes here
    first = pretrain_backbone(profile=TINY, seed=1)
    assert not first.cached and first.path.parent == tmp_path / "data" / "pretrained"
    assert first.path.name.startswith("resnet18-smoke-synthetic-32px-16pc-")
    assert first.path.is_file() and first.best_epoch == 0
    fresh = models.build_backbone("resnet18", pretrained=False)
    assert set(first.state_dict) == set(fresh.state_dict())
    out = capsys.readouterr().out
    assert "pretraining resnet18 from random weights on the MRI corpus" in out
    assert "saved the pretrained weights to" in out
    again = pretrain_backbone(profile=TINY, seed=1)
    assert again.cached and again.test == first.test and again.seconds == first.seconds
    torch.testing.assert_close(again.state_dict, first.state_dict)
    assert capsys.readouterr().out.startswith("loaded resnet18, pretrained for 1 epoch on")
    first.path.write_bytes(b"not a checkpoint")
    redone = pretrain_backbone(profile=TINY, seed=1, verbose=False)
    assert not redone.cached and capsys.readouterr().out == ""
    assert pretrain_backbone(profile=TINY, seed=1, retrain=True, verbose=False).cached is False


def test_pretrain_backbone_checks_arguments(tmp_path):
    with pytest.raises(ValueError, match="Unknown backbone 'resnet999'"):
        pretrain_backbone("resnet999", profile=TINY, cache_dir=tmp_path)
    with pytest.raises(TypeError, match="seed must be an int"):
        pretrain_backbone(profile=TINY, cache_dir=tmp_path, seed=1.5)
    with pytest.raises(ValueError, match="no pretraining recipe"):
        pretrain_backbone(profile=TINY.with_overrides(name="mine"), cache_dir=tmp_path)
