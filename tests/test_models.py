from __future__ import annotations

import copy
import socket
import types
import warnings

import pytest
import pytorch_lightning as pl
import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib import models
from course_lib.losses import FocalLoss
from course_lib.models import (
    BACKBONES,
    PretrainedWeightsUnavailable,
    SimpleCNN,
    TumorClassifier,
    adapt_first_conv,
    build_backbone,
    classifier_head,
)


def _loader(n=16, size=32, channels=1, seed=0, batch_size=8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, channels, size, size, generator=g)
    y = torch.arange(n) % 4
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)


def _trainer(tmp_path, **kwargs):
    defaults = dict(
        default_root_dir=tmp_path,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
    )
    return pl.Trainer(**{**defaults, **kwargs})


# --- SimpleCNN -----------------------------------------------------------------------------


@pytest.mark.parametrize("widths", [(8,), (8, 16, 32)])
def test_simple_cnn_depth_and_output(widths):
    model = SimpleCNN(2, 3, widths=widths, dropout=0.0)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == list(widths)
    assert convs[0].in_channels == 2
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == len(widths)
    out = model(torch.zeros(5, 2, 16, 16))
    assert out.shape == (5, 3)
    assert out.dtype == torch.float32


def test_simple_cnn_without_batch_norm():
    model = SimpleCNN(widths=(4, 8), batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert all(m.bias is not None for m in model.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"widths": ()}, ValueError, "widths"),
        ({"widths": (8, 0)}, ValueError, "widths"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"in_channels": 0}, ValueError, "in_channels"),
        ({"in_channels": 1.5}, TypeError, "in_channels"),
        ({"num_classes": 1}, ValueError, "num_classes"),
        ({"num_classes": 4.0}, TypeError, "num_classes must be an int"),
        ({"widths": (8, 16.0)}, TypeError, r"widths\[1\] must be an int"),
        ({"dropout": "0.3"}, TypeError, "dropout must be a number"),
    ],
)
def test_simple_cnn_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SimpleCNN(**kwargs)


# --- backbones -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", BACKBONES)
def test_build_backbone_shapes(name):
    model = build_backbone(name, in_channels=1, num_classes=3, pretrained=False).eval()
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 1
    assert classifier_head(model).out_features == 3
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 3)


def test_build_backbone_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="resnet18.*efficientnet_b0"):
        build_backbone("vgg99", pretrained=False)


def test_build_backbone_rejects_bad_sizes():
    with pytest.raises(ValueError, match="num_classes"):
        build_backbone("resnet18", num_classes=1, pretrained=False)
    with pytest.raises(ValueError, match="in_channels"):
        build_backbone("resnet18", in_channels=0, pretrained=False)


def test_classifier_head_rejects_foreign_model():
    with pytest.raises(TypeError, match="build_backbone"):
        classifier_head(nn.Linear(2, 2))


def test_summed_first_conv_matches_rgb_on_replicated_grey():
    torch.manual_seed(0)
    rgb_model = torchvision.models.resnet18(weights=None).eval()
    grey_model = copy.deepcopy(rgb_model)
    grey_model.conv1 = adapt_first_conv(rgb_model.conv1, 1)
    grey = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        expected = rgb_model(grey.repeat(1, 3, 1, 1))
        got = grey_model(grey)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    # and averaging (the wrong choice) would not match
    assert not torch.allclose(
        grey_model.conv1(grey) / 3, rgb_model.conv1(grey.repeat(1, 3, 1, 1)), atol=1e-4
    )


def test_adapt_first_conv_other_channel_counts():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    before = conv.weight.detach().clone()
    two = adapt_first_conv(conv, 2)
    x = torch.rand(1, 1, 8, 8)
    torch.testing.assert_close(two(x.repeat(1, 2, 1, 1)), conv(x.repeat(1, 3, 1, 1)))
    torch.testing.assert_close(adapt_first_conv(conv, 3).weight, before)
    torch.testing.assert_close(conv.weight, before)  # input not modified
    with pytest.raises(ValueError, match="in_channels"):
        adapt_first_conv(conv, 0)


# --- pretrained weights, offline and cached ----------------------------------------------


def _refuse_connections(*args, **kwargs):
    raise OSError("network unreachable (test)")


def test_pretrained_offline_warns_once_and_falls_back(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(socket, "create_connection", _refuse_connections)
    with pytest.warns(PretrainedWeightsUnavailable, match="cannot be reached") as record:
        model = build_backbone("resnet18", pretrained=True)
    assert len(record) == 1
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 4)


def test_pretrained_download_error_warns(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(models, "_weights_host_reachable", lambda url, timeout=0: True)

    def fail(*args, **kwargs):
        raise TimeoutError("timed out (test)")

    monkeypatch.setattr(torchvision.models.ResNet18_Weights, "get_state_dict", fail)
    with pytest.warns(PretrainedWeightsUnavailable, match="download failed.*TimeoutError"):
        build_backbone("resnet18", pretrained=True)


def test_pretrained_weights_read_from_hub_cache_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(socket, "create_connection", _refuse_connections)
    fake = torchvision.models.resnet18(weights=None).state_dict()
    fake["conv1.weight"] = torch.full_like(fake["conv1.weight"], 0.01)
    fake["layer1.0.conv1.weight"] = torch.full_like(fake["layer1.0.conv1.weight"], 0.02)
    url = torchvision.models.ResNet18_Weights.DEFAULT.url
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(fake, cache / url.rsplit("/", 1)[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = build_backbone("resnet18", pretrained=True)
    torch.testing.assert_close(model.conv1.weight, torch.full((64, 1, 7, 7), 0.03))
    torch.testing.assert_close(model.layer1[0].conv1.weight, fake["layer1.0.conv1.weight"])


def test_pretrained_corrupt_cache_warns(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    url = torchvision.models.EfficientNet_B0_Weights.DEFAULT.url
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / url.rsplit("/", 1)[-1]).write_bytes(b"not a checkpoint")
    with pytest.warns(PretrainedWeightsUnavailable, match="could not be read"):
        build_backbone("efficientnet_b0", pretrained=True)


def test_weights_host_probe_times_out_quickly(monkeypatch):
    seen = {}

    def fake_connect(address, timeout):
        seen["address"], seen["timeout"] = address, timeout
        raise TimeoutError

    monkeypatch.setattr(socket, "create_connection", fake_connect)
    assert models._weights_host_reachable("https://download.pytorch.org/x.pth") is False
    assert seen == {"address": ("download.pytorch.org", 443), "timeout": models.CONNECT_TIMEOUT_S}


# --- TumorClassifier -------------------------------------------------------------------------


@pytest.mark.parametrize("backbone", BACKBONES)
def test_fast_dev_run_every_backbone(backbone, tmp_path):
    model = TumorClassifier(backbone=backbone)
    trainer = _trainer(tmp_path, fast_dev_run=True)
    trainer.fit(model, _loader(), _loader())
    logged = set(trainer.callback_metrics)
    for stage in ("train", "val"):
        for name in ("loss", "accuracy", "balanced_accuracy", "f1_macro", "recall_glioma"):
            assert f"{stage}/{name}" in logged
    assert trainer.global_step == 1


def test_metrics_values_and_test_stage(tmp_path):
    model = TumorClassifier()
    trainer = _trainer(tmp_path, fast_dev_run=True)
    trainer.test(model, _loader())
    metrics = trainer.callback_metrics
    recalls = [metrics[f"test/recall_{name}"] for name in model.class_names]
    torch.testing.assert_close(metrics["test/balanced_accuracy"], torch.stack(recalls).mean())
    x, y = next(iter(_loader()))  # fast_dev_run tests one batch
    with torch.no_grad():
        pred = model.eval()(x).argmax(dim=1)
    assert float(metrics["test/accuracy"]) == pytest.approx(float((pred == y).float().mean()))
    for k, name in enumerate(model.class_names):
        expected = float((pred[y == k] == k).float().mean())
        assert float(metrics[f"test/recall_{name}"]) == pytest.approx(expected)


def test_predict_step_returns_probabilities(tmp_path):
    model = TumorClassifier()
    trainer = _trainer(tmp_path)
    batches = trainer.predict(model, _loader(n=10))
    probs = torch.cat(batches)
    assert probs.shape == (10, 4)
    assert probs.dtype == torch.float32
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(10))
    images_only = model.predict_step(torch.zeros(3, 1, 32, 32), 0)
    assert images_only.shape == (3, 4)


def test_bf16_mixed_precision_on_cpu(tmp_path):
    model = TumorClassifier(backbone="simple_cnn")
    trainer = _trainer(tmp_path, fast_dev_run=True, precision="bf16-mixed")
    trainer.fit(model, _loader(), _loader())
    assert trainer.precision == "bf16-mixed"
    assert torch.isfinite(trainer.callback_metrics["train/loss"])


@pytest.mark.parametrize("scheduler", ["onecycle", "none"])
@pytest.mark.parametrize("loss", ["weighted_ce", "focal"])
def test_losses_and_schedulers_train(loss, scheduler, tmp_path):
    model = TumorClassifier(
        loss=loss, class_weights=[1.0, 2.0, 1.0, 0.5], scheduler=scheduler, label_smoothing=0.1
    )
    expected = FocalLoss if loss == "focal" else nn.CrossEntropyLoss
    assert isinstance(model.criterion, expected)
    torch.testing.assert_close(model.criterion.weight, torch.tensor([1.0, 2.0, 1.0, 0.5]))
    trainer = _trainer(tmp_path, max_epochs=1, limit_train_batches=2, limit_val_batches=1)
    trainer.fit(model, _loader(), _loader())
    lr = trainer.optimizers[0].param_groups[0]["lr"]
    if scheduler == "none":
        assert lr == pytest.approx(1e-3)
    else:
        assert lr < 1e-3  # one-cycle ends far below its peak


def test_cosine_schedule_decays_per_step(tmp_path):
    model = TumorClassifier(lr=0.01)
    trainer = _trainer(tmp_path, max_epochs=1, limit_train_batches=2, limit_val_batches=0)
    trainer.fit(model, _loader(), _loader())
    scheduler = trainer.lr_scheduler_configs[0]
    assert scheduler.interval == "step"
    assert scheduler.scheduler.T_max == 2
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_schedule_needs_finite_run(tmp_path):
    model = TumorClassifier()
    trainer = _trainer(tmp_path, max_epochs=-1, max_steps=-1, limit_val_batches=0)
    with pytest.raises(ValueError, match="finite run"):
        trainer.fit(model, _loader(), _loader())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backbone": "vgg99"}, "Unknown backbone"),
        ({"loss": "hinge"}, "Unknown loss"),
        ({"scheduler": "step"}, "Unknown scheduler"),
        ({"lr": 0.0}, "lr"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"focal_gamma": -0.5}, "focal_gamma"),
        ({"loss": "weighted_ce"}, "needs class_weights"),
        ({"loss": "ce", "class_weights": [1.0] * 4}, "ignores them"),
        ({"loss": "focal", "class_weights": [1.0, 2.0]}, "needs 4 values"),
        ({"class_names": ["a", "b"]}, "class_names needs 4"),
    ],
)
def test_classifier_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TumorClassifier(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": "1e-3"}, "lr must be a number"),
        ({"weight_decay": None}, "weight_decay must be a number"),
        ({"label_smoothing": True}, "label_smoothing must be a number"),
        ({"focal_gamma": "2"}, "focal_gamma must be a number"),
        ({"in_channels": 1.0}, "in_channels must be an int"),
    ],
)
def test_classifier_rejects_wrong_kinds(kwargs, match):
    with pytest.raises(TypeError, match=match):
        TumorClassifier(**kwargs)


def test_hyperparameters_saved_and_class_names():
    model = TumorClassifier(backbone="resnet18", lr=3e-4)
    assert model.hparams.backbone == "resnet18"
    assert model.hparams.lr == 3e-4
    assert model.class_names == ["glioma", "meningioma", "notumor", "pituitary"]
    assert TumorClassifier(num_classes=2).class_names == ["0", "1"]


def test_freeze_and_unfreeze_backbone():
    model = TumorClassifier(backbone="resnet18", freeze_backbone=True)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"backbone.fc.weight", "backbone.fc.bias"}
    model.train()
    assert model.backbone.bn1.training is False  # frozen batch norms keep their statistics
    assert model.backbone.fc.training is True
    running_mean = model.backbone.bn1.running_mean.clone()
    model(torch.rand(4, 1, 32, 32))
    torch.testing.assert_close(model.backbone.bn1.running_mean, running_mean)
    model.unfreeze_backbone()
    assert all(p.requires_grad for p in model.parameters())
    assert model.backbone.bn1.training is True
    model(torch.rand(4, 1, 32, 32))  # unfrozen batch norms learn the new statistics again
    assert not torch.allclose(model.backbone.bn1.running_mean, running_mean)


def test_channels_last_option():
    model = TumorClassifier(backbone="simple_cnn", channels_last=True)
    conv = model.backbone.features[0]
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 4)


def test_compile_option_compiles_backbone_in_place():
    model = TumorClassifier(backbone="simple_cnn", compile=True)
    assert model.backbone._compiled_call_impl is not None
    # the state dict keys stay the plain ones, so checkpoints load without torch.compile
    assert "backbone.features.0.weight" in model.state_dict()
    assert TumorClassifier().backbone._compiled_call_impl is None


def test_simple_cnn_pooling_choice():
    assert isinstance(SimpleCNN(widths=(4,)).pool, nn.AdaptiveMaxPool2d)
    assert isinstance(SimpleCNN(widths=(4,), pooling="avg").pool, nn.AdaptiveAvgPool2d)
    with pytest.raises(ValueError, match="pooling must be one of"):
        SimpleCNN(widths=(4,), pooling="median")


# --------------------------------------------------------------------------- schedules, budgets


@pytest.mark.parametrize("scheduler", ["onecycle", "cosine"])
def test_schedule_factor_follows_torchs_schedulers(scheduler):
    total, peak = 200, 0.5
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=peak)
    if scheduler == "onecycle":
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=total)
    else:
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    torch_lrs, ours = [], []
    for step in range(total):
        torch_lrs.append(optimizer.param_groups[0]["lr"])
        ours.append(peak * models.schedule_factor(scheduler, step / total))
        optimizer.step()
        schedule.step()
    # torch counts its phases in steps (ending one step early); as functions of progress the
    # two curves agree within a step's change of the learning rate
    assert max(abs(a - b) for a, b in zip(torch_lrs, ours, strict=True)) < 0.02 * peak
    assert models.schedule_factor(scheduler, 1.0) < 1e-4


def test_schedule_factor_rejects_an_unknown_schedule():
    with pytest.raises(ValueError, match="scheduler must be one of"):
        models.schedule_factor("linear", 0.5)


def _budget_trainer(**kwargs):
    return pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )


def test_run_progress_is_the_larger_of_steps_and_time(monkeypatch):
    trainer = _budget_trainer(max_time={"seconds": 100}, max_epochs=-1)
    model = TumorClassifier()
    model.trainer = trainer
    timer = models.time_budget(trainer)
    assert timer is not None and models.time_budget(_budget_trainer(max_epochs=1)) is None
    monkeypatch.setattr(timer, "time_elapsed", lambda stage="train": 25.0)
    monkeypatch.setattr(timer, "time_remaining", lambda stage="train": 75.0)
    model._planned_steps = float("inf")  # no epoch limit: time alone
    assert model.run_progress() == pytest.approx(0.25)
    model._planned_steps = 10  # 5 of 10 steps done beats a quarter of the time
    monkeypatch.setattr(type(trainer), "global_step", property(lambda self: 5))
    assert model.run_progress() == pytest.approx(0.5)


def test_a_run_with_a_time_budget_anneals_within_it(monkeypatch):
    """max_time alone: the schedule follows the clock and ends near zero when time is up.

    The clock is a fake one that moves 0.05 s per batch, so that a slow or busy machine (CI
    runs two test processes on two cores) cannot spend the warm-up on one batch.
    """
    from pytorch_lightning.callbacks import timer as timer_module

    clock = {"now": 1000.0}
    monkeypatch.setattr(timer_module, "time", types.SimpleNamespace(monotonic=lambda: clock["now"]))
    lrs = []

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, *args):
            lrs.append(trainer.optimizers[0].param_groups[0]["lr"])
            clock["now"] += 0.05

    trainer = _budget_trainer(max_time={"seconds": 3}, max_epochs=-1, callbacks=[Record()])
    model = TumorClassifier(lr=1e-2, scheduler="onecycle")
    trainer.fit(model, _loader(n=32, size=16), _loader(n=8, size=16))
    assert isinstance(trainer.lr_scheduler_configs[0].scheduler, torch.optim.lr_scheduler.LambdaLR)
    assert 55 <= len(lrs) <= 62  # 3 s at 0.05 s a batch: time, not the epochs, stopped it
    assert trainer.current_epoch >= 2  # many epochs of 4 batches
    assert max(lrs) > 0.5e-2  # it reached (about) its peak ...
    assert lrs[0] < 0.1e-2 and lrs[-1] < 0.1e-2  # ... from a warm-up, and annealed at the end


def test_a_schedule_needs_an_end():
    trainer = _budget_trainer(max_epochs=-1)
    model = TumorClassifier(scheduler="cosine")
    with pytest.raises(ValueError, match="needs a finite run; set max_epochs, max_steps or max_t"):
        trainer.fit(model, _loader(), _loader())
