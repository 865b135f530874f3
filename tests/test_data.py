from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import phantoms
import pytest
import torch
from phantoms import make_index
from PIL import Image
from torch.utils.data import SequentialSampler

from course_lib import datasets
from course_lib.config import CLASS_NAMES
from course_lib.data import (
    BrainMRIDataModule,
    BrainMRIDataset,
    EpochSampler,
    MissingClassWarning,
    MissingPatientIdsWarning,
    load_slices,
    resize_uint8,
    slice_cache_key,
    split_by_patient,
    with_duplicate_groups,
)
from course_lib.synthetic_spec import SyntheticSpec
from course_lib.transforms import train_transform


def blob(seed: int, size: int = 24) -> np.ndarray:
    return phantoms.blob(seed, size)


def fake_index(patients_per_class=(10, 10, 10, 10), slices=3, ids=True):
    """An index without files, for the splits."""
    rows = [
        {
            "path": f"{label}_{p}_{s}.png",
            "label": label,
            "patient_id": f"c{label}p{p}" if ids else pd.NA,
        }
        for label, n in enumerate(patients_per_class)
        for p in range(n)
        for s in range(slices)
    ]
    frame = pd.DataFrame(rows)
    frame["patient_id"] = frame["patient_id"].astype("string")
    return frame


# --------------------------------------------------------------------------- Dataset


def test_resize_uint8_keeps_same_size_and_resizes_other():
    image = blob(0, 16)
    assert resize_uint8(image, 16) is image
    out = resize_uint8(image, 8)
    assert (out.shape, out.dtype) == ((8, 8), np.uint8)


@pytest.mark.parametrize("channels", [1, 3])
def test_dataset_shapes_and_values(tmp_path, channels):
    index = make_index(tmp_path, size=20)
    dataset = BrainMRIDataset(index, image_size=16, channels=channels)
    image, label = dataset[3]
    assert image.shape == (channels, 16, 16)
    assert image.dtype == torch.float32
    assert 0 <= float(image.min()) and float(image.max()) <= 1
    assert label == 0
    assert isinstance(label, int)
    assert len(dataset) == 16
    if channels == 3:
        assert torch.equal(image[0], image[2])


def test_dataset_applies_albumentations_style_and_plain_transforms(tmp_path):
    index = make_index(tmp_path)

    def album(*, image):
        return {"image": (image.astype(np.float32) - 100) / 50}

    image, _ = BrainMRIDataset(index, image_size=16, transform=album)[0]
    expected = (resize_uint8(blob(0), 16).astype(np.float32) - 100) / 50
    np.testing.assert_allclose(image[0].numpy(), expected)
    hwc, _ = BrainMRIDataset(index, image_size=16, transform=lambda a: np.stack([a] * 3, -1))[0]
    assert hwc.shape == (3, 16, 16)
    chw, _ = BrainMRIDataset(
        index, image_size=16, channels=3, transform=lambda a: torch.zeros(1, 16, 16)
    )[0]
    assert chw.shape == (3, 16, 16)


def test_dataset_with_course_transforms(tmp_path):
    from course_lib import transforms

    index = make_index(tmp_path)
    dataset = BrainMRIDataset(index, image_size=16, transform=transforms.eval_transform(16))
    image, _ = dataset[0]
    assert image.shape == (1, 16, 16)
    assert image.dtype == torch.float32


def test_dataset_cache_keeps_images(tmp_path):
    index = make_index(tmp_path)
    cached = BrainMRIDataset(index, image_size=16, cache=True)
    plain = BrainMRIDataset(index, image_size=16)
    first = cached[0][0]
    for path in index["path"]:
        (tmp_path / path).unlink()
    assert torch.equal(cached[0][0], first)
    with pytest.raises(FileNotFoundError):
        plain[0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"channels": 2}, ValueError, "channels"),
        ({"image_size": 0}, ValueError, "image_size"),
        ({"transform": "flip"}, TypeError, "transform"),
    ],
)
def test_dataset_bad_arguments(tmp_path, kwargs, error, match):
    index = make_index(tmp_path, patients_per_class=(1,), slices=1)
    with pytest.raises(error, match=match):
        BrainMRIDataset(index, **{"image_size": 16, **kwargs})


def test_dataset_bad_index():
    with pytest.raises(TypeError, match="DataFrame"):
        BrainMRIDataset(["a.png"], image_size=16)
    with pytest.raises(ValueError, match="label"):
        BrainMRIDataset(pd.DataFrame({"path": ["a.png"]}), image_size=16)


# --------------------------------------------------------------------------- splits


def test_split_by_patient_keeps_patients_together_and_stratifies():
    index = fake_index()
    train, val = split_by_patient(index, val_fraction=0.2, seed=0)
    assert not set(train["patient_id"]) & set(val["patient_id"])
    assert sorted([*train.index, *val.index]) == list(index.index)
    assert len(val) == 24  # 2 of 10 patients per class, 3 slices each
    assert val["label"].value_counts().to_dict() == dict.fromkeys(range(4), 6)


def test_split_by_patient_is_seeded():
    index = fake_index()
    a = split_by_patient(index, val_fraction=0.25, seed=1)[1]
    b = split_by_patient(index, val_fraction=0.25, seed=1)[1]
    c = split_by_patient(index, val_fraction=0.25, seed=2)[1]
    assert list(a.index) == list(b.index)
    assert list(a.index) != list(c.index)


def test_split_by_patient_does_not_modify_input():
    index = fake_index()
    before = index.copy()
    split_by_patient(index, val_fraction=0.2, seed=0)
    pd.testing.assert_frame_equal(index, before)


def test_split_without_patient_ids_warns():
    index = fake_index(ids=False)
    with pytest.warns(MissingPatientIdsWarning, match="120 of 120 images have no patient id"):
        train, val = split_by_patient(index, val_fraction=0.2, seed=0)
    assert len(val) == 24
    index = fake_index().drop(columns="patient_id")
    with pytest.warns(MissingPatientIdsWarning):
        split_by_patient(index, val_fraction=0.2, seed=0)


@pytest.mark.parametrize(
    ("fraction", "error"), [(0, ValueError), (0.6, ValueError), ("0.2", TypeError)]
)
def test_split_bad_fraction(fraction, error):
    with pytest.raises(error, match="val_fraction"):
        split_by_patient(fake_index(), val_fraction=fraction, seed=0)


def test_split_too_few_patients():
    with pytest.raises(ValueError, match="needs at least 5 patients"):
        split_by_patient(fake_index((1, 1, 1, 0)), val_fraction=0.2, seed=0)


# --------------------------------------------------------------------------- DataModule


def identity(image):
    return image.astype(np.float32) / 255


@pytest.fixture(scope="module")
def synthetic_dm(tmp_path_factory):
    root = tmp_path_factory.mktemp("dm") / "syn"
    dm = BrainMRIDataModule(
        root=str(root),
        image_size=32,
        batch_size=8,
        synthetic=SyntheticSpec(per_class=8, test_per_class=4, slices_per_patient=2),
        val_fraction=0.25,
        seed=0,
    )
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_datamodule_synthetic_splits_and_batches(synthetic_dm):
    dm = synthetic_dm
    assert dm.num_classes == 4
    assert dm.classes == CLASS_NAMES
    assert sum(dm.class_counts.values()) == len(dm.train_index)
    assert len(dm.train_index) + len(dm.val_index) == 32
    assert len(dm.test_index) == 16
    parts = [set(p["patient_id"]) for p in (dm.train_index, dm.val_index, dm.test_index)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (8, 1, 32, 32)
    assert images.dtype == torch.float32
    assert labels.dtype == torch.int64


def test_datamodule_loaders_do_not_shuffle_eval(synthetic_dm):
    train = synthetic_dm.train_dataloader()
    assert isinstance(train.sampler, EpochSampler)
    assert train.sampler.weights is None
    for loader in (
        synthetic_dm.val_dataloader(),
        synthetic_dm.test_dataloader(),
        synthetic_dm.predict_dataloader(),
    ):
        assert isinstance(loader.sampler, SequentialSampler)
        assert loader.drop_last is False
    labels = torch.cat([y for _, y in synthetic_dm.test_dataloader()])
    assert labels.tolist() == synthetic_dm.test_index["label"].tolist()


def test_datamodule_imbalance_and_weighted_sampler(tmp_path):
    dm = BrainMRIDataModule(
        root=str(tmp_path / "syn"),
        image_size=32,
        batch_size=64,
        synthetic=SyntheticSpec(
            per_class={"glioma": 16, "meningioma": 4, "notumor": 16, "pituitary": 4},
            test_per_class=2,
            slices_per_patient=2,
        ),
        val_fraction=0.25,
        seed=0,
        sampler="weighted",
        augment=False,
        eval_transform=identity,
    )
    dm.prepare_data()
    with pytest.warns(MissingClassWarning, match="validation split has no image of"):
        dm.setup()  # two meningioma patients: both can land in training
    pool = dm.index[dm.index["split"] == "train"]["class_name"].value_counts().to_dict()
    assert pool == {"glioma": 16, "meningioma": 4, "notumor": 16, "pituitary": 4}
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, EpochSampler)
    assert loader.sampler.weights is not None
    drawn = torch.tensor(list(loader.sampler))
    labels = torch.as_tensor(dm.train_dataset.labels)[drawn]
    share = torch.bincount(labels, minlength=4).float() / len(labels)
    assert float(share.min()) > 0.1  # balanced draws: each class near a quarter


def test_datamodule_folder_source_three_channels(tmp_path):
    for split in ("Training", "Testing"):
        for label, name in enumerate(CLASS_NAMES):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(5):
                Image.fromarray(blob(100 * label + i + (50 if split == "Testing" else 0))).save(
                    tmp_path / split / name / f"{i}.png"
                )
    dm = BrainMRIDataModule(
        source="kaggle",
        root=str(tmp_path),
        image_size=16,
        channels=3,
        batch_size=4,
        augment=False,
        train_transform=identity,
        eval_transform=identity,
    )
    dm.prepare_data()
    with pytest.warns(MissingPatientIdsWarning):
        dm.setup()
    images, _ = next(iter(dm.val_dataloader()))
    assert images.shape == (4, 3, 16, 16)
    assert len(dm.test_index) == 20
    assert len(dm.train_index) + len(dm.val_index) == 20


def augmented(dataset, epoch, workers):
    dataset.set_epoch(epoch)
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=workers)
    return [x for x, _ in loader]


def test_augmentation_is_drawn_from_seed_epoch_and_worker(synthetic_dm):
    one = synthetic_dm.train_index.index[0]
    dataset = BrainMRIDataset(
        synthetic_dm.train_index.loc[[one] * 4],
        image_size=32,
        transform=train_transform(32, seed=0, strength="strong"),
        seed=5,
    )
    first = augmented(dataset, 3, workers=2)  # items 0 and 2 from worker 0, 1 and 3 from 1
    assert not (torch.equal(first[0], first[1]) and torch.equal(first[2], first[3]))
    augmented(dataset, 4, workers=2)  # another epoch in between changes nothing below
    again = augmented(dataset, 3, workers=2)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    alone = augmented(dataset, 3, workers=0)  # the main process draws as worker 0 does
    assert torch.equal(alone[0], first[0]) and torch.equal(alone[1], first[2])
    other = augmented(dataset, 4, workers=0)
    assert not torch.equal(other[0], alone[0])


def test_epoch_sampler_draws_from_seed_and_epoch_only():
    sampler = EpochSampler(20, seed=3)
    orders = {}
    for epoch in (0, 1, 2, 1):
        sampler.set_epoch(epoch)
        orders.setdefault(epoch, []).append(list(sampler))
    assert orders[1][0] == orders[1][1]  # epoch 1 again, after epoch 2: the same order
    assert orders[0][0] != orders[1][0]
    assert sorted(orders[0][0]) == list(range(20))
    weighted = EpochSampler(4, seed=3, weights=[0, 0, 1, 1], num_samples=50)
    assert set(weighted) == {2, 3} and len(list(weighted)) == 50 == len(weighted)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"seed": -1}, ValueError),
        ({"seed": 1.5}, TypeError),
        ({"weights": [1, 1]}, ValueError),
        ({"weights": [1, -1, 1, 1]}, ValueError),
        ({"weights": [0, 0, 0, 0]}, ValueError),
        ({"num_samples": 0}, ValueError),
    ],
)
def test_epoch_sampler_bad_arguments(kwargs, error):
    with pytest.raises(error):
        EpochSampler(4, **{"seed": 0, **kwargs})


def test_datamodule_default_transforms(synthetic_dm):
    images, _ = next(iter(synthetic_dm.val_dataloader()))
    assert images.shape[1:] == (1, 32, 32)
    assert abs(float(images.mean())) < 3  # normalised, not 0..255


def test_datamodule_from_profile():
    dm = BrainMRIDataModule.from_profile("smoke", batch_size=4)
    assert (dm.image_size, dm.batch_size, dm.synthetic.per_class) == (64, 4, 24)
    assert dm.hparams["batch_size"] == 4


def test_datamodule_shares_the_default_synthetic_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    dm = BrainMRIDataModule.from_profile("smoke", seed=7)
    assert dm._dataset_root() == datasets.synthetic_dir(SyntheticSpec.from_profile("smoke"))
    assert dm._dataset_root().parent == tmp_path
    other = BrainMRIDataModule.from_profile("smoke", seed=7, synthetic=SyntheticSpec(seed=1))
    assert other._dataset_root() != dm._dataset_root()
    other = BrainMRIDataModule.from_profile("smoke", difficulty=2.0)._dataset_root()
    assert other != dm._dataset_root()


def test_datamodule_needs_setup():
    dm = BrainMRIDataModule()
    with pytest.raises(RuntimeError, match="setup"):
        dm.train_dataloader()
    with pytest.raises(RuntimeError, match="setup"):
        dm.class_counts  # noqa: B018


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"source": "imagenet"}, ValueError, "source"),
        ({"source": "folder"}, ValueError, "root"),
        ({"sampler": "oversample"}, ValueError, "sampler"),
        ({"channels": 4}, ValueError, "channels"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"image_size": 1.5}, TypeError, "image_size"),
        ({"num_workers": -1}, ValueError, "num_workers"),
        ({"val_fraction": 0.7}, ValueError, "val_fraction"),
        ({"classes": ["glioma", "glioma"]}, ValueError, "classes must be distinct"),
        ({"source": "br35h", "root": "x", "classes": ["tumor"]}, ValueError, "fixed classes"),
        ({"synthetic": {"per_class": 3}}, TypeError, "synthetic must be a SyntheticSpec"),
        ({"per_class": {"cats": 3}}, ValueError, "per_class keys"),
        ({"per_class": {"glioma": -1}}, ValueError, "per_class"),
        ({"per_class": "many"}, TypeError, "per_class"),
    ],
)
def test_datamodule_bad_arguments(kwargs, error, match):
    # the synthetic set's fields go through the spec
    build = BrainMRIDataModule.from_profile if "per_class" in kwargs else BrainMRIDataModule
    with pytest.raises(error, match=match):
        build(**kwargs)


def test_epoch_sampler_reshuffles_each_pass_of_a_plain_loop():
    sampler = EpochSampler(30, seed=1)
    first, second = list(sampler), list(sampler)
    assert first != second and sorted(first) == sorted(second)
    sampler.set_epoch(0)
    assert list(sampler) == first  # set_epoch picks the epoch again


# --------------------------------------------------------------------------- decoded slices


def test_load_slices_decodes_once_and_reuses_the_file(tmp_path, monkeypatch):
    index = make_index(tmp_path, (1, 1, 1, 1), slices=2)
    cache = tmp_path / "cache"
    stack = load_slices(index, 16, cache_dir=cache)
    assert stack.shape == (8, 16, 16) and stack.dtype == np.uint8
    expected = resize_uint8(datasets.load_image(index["path"][3]), 16)
    np.testing.assert_array_equal(stack[3], expected)
    assert [f.name for f in cache.iterdir()] == [f"{slice_cache_key(index['path'], 16)}.npy"]

    def no_decoding(path):
        raise AssertionError("decoded again")

    monkeypatch.setattr(datasets, "load_image", no_decoding)
    np.testing.assert_array_equal(load_slices(index, 16, cache_dir=cache), stack)


def test_a_changed_file_or_size_gets_a_new_cache_key(tmp_path):
    index = make_index(tmp_path, (1, 1, 1, 1), slices=1)
    key = slice_cache_key(index["path"], 16)
    assert slice_cache_key(index["path"], 32) != key
    Image.fromarray(blob(99)).save(index["path"][0])  # the same name, other pixels
    assert slice_cache_key(index["path"], 16) != key


def test_a_damaged_cache_file_is_decoded_again(tmp_path):
    index = make_index(tmp_path, (1, 1, 1, 1), slices=1)
    cache = tmp_path / "cache"
    stack = load_slices(index, 16, cache_dir=cache)
    (file,) = cache.iterdir()
    file.write_bytes(file.read_bytes()[:100])  # a run stopped while copying it
    np.testing.assert_array_equal(load_slices(index, 16, cache_dir=cache), stack)
    assert len(np.load(file)) == 4  # and written whole again


def test_a_cache_folder_that_cannot_be_written_only_costs_the_decode(tmp_path):
    index = make_index(tmp_path, (1, 1, 1, 1), slices=1)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    stack = load_slices(index, 16, cache_dir=blocked / "cache")
    assert stack.shape == (4, 16, 16) and blocked.read_text() == "not a folder"


def test_load_slices_names_an_unreadable_image(tmp_path):
    index = make_index(tmp_path, (1, 1, 1, 1), slices=1)
    Path(index["path"][2]).write_bytes(b"not an image")
    with pytest.raises(datasets.UnreadableImageError, match=r"2_0_0.png.*skip_unreadable=True"):
        load_slices(index, 16)


def test_dataset_reads_given_slices_and_checks_their_shape(tmp_path):
    index = make_index(tmp_path, (1, 1, 1, 1), slices=1)
    images = np.arange(4 * 16 * 16, dtype=np.uint32).reshape(4, 16, 16).astype(np.uint8)
    data = BrainMRIDataset(index, image_size=16, images=images)
    x, y = data[2]
    np.testing.assert_allclose(x[0].numpy(), images[2] / 255.0, rtol=1e-6)
    assert y == 2
    with pytest.raises(ValueError, match=r"images must be uint8 of shape \(4, 16, 16\)"):
        BrainMRIDataset(index, image_size=16, images=images[:3])
    with pytest.raises(ValueError, match="images must be uint8"):
        BrainMRIDataset(index, image_size=16, images=images.astype(np.float32))


# --------------------------------------------------------------------------- near-duplicates


def test_with_duplicate_groups_gives_copies_one_id_and_keeps_known_ids(tmp_path):
    index = make_index(tmp_path, (2, 2, 2, 2), slices=1, ids=False)
    # rows 1 and 5 are re-encoded copies of row 0: a chain 0-1, 0-5 makes one group
    for row in (1, 5):
        Image.fromarray(datasets.load_image(index["path"][0])).save(
            Path(index["path"][row]).with_suffix(".jpg"), quality=90
        )
        index.loc[row, "path"] = str(Path(index["path"][row]).with_suffix(".jpg"))
    index.loc[7, "patient_id"] = "known"
    grouped = with_duplicate_groups(index)
    ids = grouped["patient_id"]
    assert ids[0] == ids[1] == ids[5] and ids[0].startswith("near-duplicates-")
    assert ids.nunique() == 6 and ids[7] == "known"
    assert index["patient_id"].isna().sum() == 7  # the input is not modified


def test_datamodule_keeps_near_duplicates_on_one_side(tmp_path):
    root = tmp_path / "data"
    for c, name in enumerate(CLASS_NAMES):
        for i in range(10):
            image = phantoms.blob(100 * c + i, 64)
            phantoms.write(root / name / f"{i}.png", image)
            if i < 3:  # three copies of three slices per class
                for k in range(2):
                    Image.fromarray(image).save(root / name / f"{i}_copy{k}.jpg", quality=95 - k)
    dm = BrainMRIDataModule(
        source="folder",
        root=str(root),
        image_size=48,
        group_duplicates=True,
        cache=True,
        cache_dir=str(tmp_path / "cache"),
        val_fraction=0.25,
        augment_strength="light",
    )
    dm.setup()
    parts = [dm.train_index, dm.val_index, dm.test_index]
    sides = {}
    for side, part in enumerate(parts):
        for path in part["path"]:
            stem = Path(path).parent.name + "/" + Path(path).stem.split("_copy")[0]
            sides.setdefault(stem, set()).add(side)
    assert dm.index["patient_id"].nunique() == 4 * 10  # each slice and its copies: one group
    assert all(len(s) == 1 for s in sides.values())  # no slice's copies on two sides
    assert sum(len(p) for p in parts) == 4 * 16
    assert dm.train_dataset.images is not None and dm.train_dataset.images.shape[1:] == (48, 48)


def test_datamodule_rejects_an_unknown_augmentation_strength():
    with pytest.raises(ValueError, match="augment_strength must be one of"):
        BrainMRIDataModule(augment_strength="huge")
