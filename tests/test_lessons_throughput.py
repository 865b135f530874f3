"""Loader and training throughput: counts, warm-up, validation."""

import time

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from course_lib.data import BrainMRIDataModule
from course_lib.lessons.throughput import (
    Throughput,
    measure_datamodule,
    measure_throughput,
    measure_training_throughput,
)
from course_lib.models import SimpleCNN
from course_lib.synthetic_spec import SyntheticSpec


def loader(n: int = 10, batch_size: int = 4) -> DataLoader:
    data = TensorDataset(torch.zeros(n, 1, 8, 8), torch.zeros(n, dtype=torch.long))
    return DataLoader(data, batch_size=batch_size)


def test_counts_images_after_warmup_and_stops_after_batches():
    full = measure_throughput(loader(), warmup=1)
    assert (full.images, full.batches) == (6, 2)  # batches of 4, 4, 2; the first is warm-up
    start = time.perf_counter()
    limited = measure_throughput(loader(), batches=1, warmup=0)
    elapsed = time.perf_counter() - start
    assert (limited.images, limited.batches) == (4, 1)
    assert limited.seconds <= elapsed  # only the timed batch, within the call
    assert limited.images_per_second == pytest.approx(4 / limited.seconds)


def test_accepts_bare_tensor_batches():
    batches = [torch.zeros(3, 1, 4, 4), torch.zeros(2, 1, 4, 4)]
    assert measure_throughput(batches, warmup=0).images == 5


def test_images_per_second_and_text():
    result = Throughput(images=100, batches=2, seconds=0.5)
    assert result.images_per_second == 200
    assert str(result) == "200 images/s (100 images in 0.50 s)"
    assert Throughput(images=1, batches=1, seconds=0.0).images_per_second == float("inf")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"batches": 0}, "batches must be"), ({"warmup": -1}, "warmup must be"),
     ({"warmup": 3}, "no batch left")],
)  # fmt: skip
def test_measure_throughput_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        measure_throughput(loader(), **kwargs)


@pytest.mark.parametrize("kwargs", [{"batches": 1.0}, {"warmup": True}])
def test_measure_throughput_rejects_counts_that_are_not_ints(kwargs):
    with pytest.raises(TypeError, match=f"{next(iter(kwargs))} must be an int"):
        measure_throughput(loader(), **kwargs)


def test_measure_throughput_rejects_batches_without_images():
    with pytest.raises(TypeError, match="a batch must be"):
        measure_throughput([("a", "b")], warmup=0)


def test_training_throughput_trains_the_model_in_place():
    torch.manual_seed(0)
    model = SimpleCNN(widths=(4, 8))
    before = [p.detach().clone() for p in model.parameters()]
    images, labels = torch.randn(6, 1, 16, 16), torch.tensor([0, 1, 2, 3, 0, 1])
    start = time.perf_counter()
    result = measure_training_throughput(model, images, labels, steps=2, device="cpu")
    elapsed = time.perf_counter() - start
    assert (result.images, result.batches) == (12, 2)
    assert result.seconds <= elapsed
    assert result.images_per_second == pytest.approx(12 / result.seconds)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("model", torch.zeros(2, 1, 8, 8), torch.zeros(2)), {}, TypeError, "nn.Module"),
        ((None, [1], torch.zeros(2)), {}, TypeError, "torch tensors"),
        ((None, torch.zeros(2, 8, 8), torch.zeros(2)), {}, ValueError, r"\(N, C, H, W\)"),
        ((None, torch.zeros(2, 1, 8, 8), torch.zeros(3)), {}, ValueError, "labels"),
        ((None, torch.zeros(2, 1, 8, 8), torch.zeros(2)), {"steps": 0}, ValueError, "steps"),
        ((None, torch.zeros(2, 1, 8, 8), torch.zeros(2)), {"warmup": -1}, ValueError, "warmup"),
    ],
)
def test_training_throughput_rejects_bad_arguments(args, kwargs, error, message):
    model = SimpleCNN(widths=(4,)) if args[0] is None else args[0]
    with pytest.raises(error, match=message):
        measure_training_throughput(model, *args[1:], **kwargs)


class TinyDataModule:
    """Counts the calls a DataModule gets; its loader yields two batches."""

    def __init__(self):
        self.calls = []

    def prepare_data(self):
        self.calls.append("prepare")

    def setup(self, stage=None):
        self.calls.append(f"setup:{stage}")

    def train_dataloader(self):
        self.calls.append("loader")
        return loader(n=6, batch_size=3)


def test_measure_datamodule_prepares_warms_and_times_one_pass():
    dm = TinyDataModule()
    result = measure_datamodule(dm, warm_epochs=2)
    assert dm.calls == ["prepare", "setup:fit", "loader"]
    assert (result.images, result.batches) == (6, 2)


def test_measure_datamodule_on_the_real_datamodule(tmp_path):
    dm = BrainMRIDataModule(
        root=str(tmp_path / "syn"), image_size=16, batch_size=4, val_fraction=0.25,
        synthetic=SyntheticSpec(per_class=8, test_per_class=4, slices_per_patient=2),
        cache=True, augment=False,
    )  # fmt: skip
    result = measure_datamodule(dm, batches=2)
    assert (result.images, result.batches) == (8, 2)
    # cache=True decodes every slice once in setup, so the timed pass reads no file
    assert dm.train_dataset.images is not None
    assert dm.train_dataset.images.shape == (len(dm.train_dataset), 16, 16)


@pytest.mark.parametrize(
    ("dm", "kwargs", "error", "message"),
    [("not a datamodule", {}, TypeError, "LightningDataModule"),
     (TinyDataModule(), {"warm_epochs": -1}, ValueError, "warm_epochs")],
)  # fmt: skip
def test_measure_datamodule_rejects_bad_arguments(dm, kwargs, error, message):
    with pytest.raises(error, match=message):
        measure_datamodule(dm, **kwargs)
