"""The data layer: a torch Dataset over an index, patient-aware splits, leakage checks, DataModule.

An *index* is the DataFrame the readers in :mod:`course_lib.datasets` return (one row per image,
columns ``path``, ``label``, ``class_name``, ``split``, ``patient_id``, ``source``, ...).
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from course_lib import datasets
from course_lib.config import CLASS_NAMES, get_profile
from course_lib.datasets.audit import check_index as _check_index


class MissingPatientIdsWarning(UserWarning):
    """The index has no patient ids, so images of one patient may land in two splits."""


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def resize_uint8(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a grayscale image to a square with bilinear interpolation (antialiased by PIL).

    Args:
        image: (H, W) uint8.
        size: Side of the output.

    Returns:
        (size, size) uint8; the input itself (not a copy) when it already has that shape.

    >>> resize_uint8(np.zeros((10, 20), np.uint8), 8).shape
    (8, 8)
    """
    if image.shape == (size, size):
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def _takes_image_keyword(transform) -> bool:
    """Whether to call ``transform(image=...)`` (albumentations), not ``transform(array)``."""
    try:
        parameters = inspect.signature(transform).parameters.values()
    except (TypeError, ValueError):  # no signature to read: assume albumentations style
        return True
    return any(p.name == "image" or p.kind is p.VAR_KEYWORD for p in parameters)


class BrainMRIDataset(Dataset):
    """Images listed in an index, as tensors.

    Each item is ``(image, label)``: ``image`` a (C, H, W) float32 tensor with
    ``H == W == image_size``; without a transform, the grayscale values divided by 255 (0..1),
    repeated over ``channels``. With a transform, it gets ``image=`` the resized (H, W) uint8 array
    (the albumentations convention) and may return an array (H, W) or (H, W, C), or a tensor
    (H, W) or (C, H, W); a one-channel result is repeated to ``channels``.

    Args:
        index: DataFrame with at least ``path`` and ``label`` columns.
        image_size: Side of the square images.
        channels: 1 (grayscale) or 3 (for backbones pretrained on RGB).
        transform: An albumentations-style callable ``transform(image=array)["image"]``, or a plain
            callable ``transform(array)``.
        cache: Keep each resized uint8 image in memory after its first load (each DataLoader
            worker process keeps its own copy).

    Raises:
        TypeError: If ``index`` is not a DataFrame or ``transform`` not callable.
        ValueError: If columns are missing, ``image_size`` is not a positive int or ``channels``
            is not 1 or 3.
    """

    def __init__(self, index, *, image_size: int, channels: int = 1, transform=None, cache=False):
        self.index = _check_index(index).reset_index(drop=True)
        self.image_size = _check_positive_int(image_size, "image_size")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable or None, got {transform!r}")
        self.channels = channels
        self.transform = transform
        self._keyword_call = transform is not None and _takes_image_keyword(transform)
        self.cache = bool(cache)
        self._cache: dict[int, np.ndarray] = {}
        self.labels = self.index["label"].to_numpy(dtype=np.int64, copy=True)

    def __len__(self) -> int:
        return len(self.index)

    def load(self, i: int) -> np.ndarray:
        """The ``i``-th image resized, (image_size, image_size) uint8, before any transform."""
        if i in self._cache:
            return self._cache[i]
        image = resize_uint8(datasets.load_image(self.index.at[i, "path"]), self.image_size)
        if self.cache:
            self._cache[i] = image
        return image

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = self.load(int(i))
        if self.transform is None:
            tensor = torch.from_numpy(image.astype(np.float32) / 255.0)[None]
        else:
            out = (
                self.transform(image=image.copy())
                if self._keyword_call
                else self.transform(image.copy())
            )
            out = out["image"] if isinstance(out, dict) else out
            tensor = out if torch.is_tensor(out) else torch.from_numpy(np.array(out, np.float32))
            if tensor.ndim == 2:
                tensor = tensor[None]
            elif tensor.ndim == 3 and not torch.is_tensor(out):
                tensor = tensor.permute(2, 0, 1)  # numpy (H, W, C) to (C, H, W)
            tensor = tensor.float()
        if tensor.shape[0] == 1 and self.channels == 3:
            tensor = tensor.expand(3, -1, -1).contiguous()
        return tensor, int(self.labels[i])


# --------------------------------------------------------------------------- splits


def _groups(index: pd.DataFrame) -> np.ndarray:
    """Patient ids as groups; rows without one become their own group (with a warning)."""
    if "patient_id" in index:
        ids = index["patient_id"].astype("string")
        missing = ids.isna().to_numpy()
    else:
        ids = pd.Series([pd.NA] * len(index), dtype="string")
        missing = np.ones(len(index), dtype=bool)
    if missing.any():
        warnings.warn(
            f"{int(missing.sum())} of {len(index)} images have no patient id; each becomes its "
            "own group, so slices of one patient may land in two splits (leakage). Use a dataset "
            "with patient ids (figshare, synthetic) or check for duplicates with find_duplicates.",
            MissingPatientIdsWarning,
            stacklevel=3,
        )
    groups = ids.to_numpy(dtype=object, na_value=None)
    return np.array(
        [f"__row{i}" if m else str(g) for i, (g, m) in enumerate(zip(groups, missing, strict=True))]
    )


def split_by_patient(
    index: pd.DataFrame, *, val_fraction: float = 0.2, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split an index in two, stratified by label, never putting a patient on both sides.

    Uses :class:`sklearn.model_selection.StratifiedGroupKFold` with ``round(1 / val_fraction)``
    folds and keeps the first fold as the second part, so the fraction is approximate (0.2 gives
    a fifth, 0.3 gives a third of the patients). A class with fewer patients than folds may be
    missing from the second part.

    Args:
        index: The index (``label`` and, ideally, ``patient_id`` columns).
        val_fraction: Share of the images for the second part, in (0, 0.5].
        seed: Seed of the shuffle.

    Returns:
        ``(train, val)``: two DataFrames with the original row labels.

    Raises:
        ValueError: If ``val_fraction`` is out of range, or there are fewer patients than folds.
        TypeError: If ``index`` is not a DataFrame.

    Warns:
        MissingPatientIdsWarning: If some rows have no ``patient_id``.
    """
    _check_index(index)
    if not isinstance(val_fraction, (int, float)) or not 0 < val_fraction <= 0.5:
        raise ValueError(f"val_fraction must be in (0, 0.5], got {val_fraction!r}")
    from sklearn.model_selection import StratifiedGroupKFold

    groups = _groups(index)
    n_splits = max(2, round(1 / val_fraction))
    if len(set(groups)) < n_splits:
        raise ValueError(
            f"val_fraction={val_fraction} needs at least {n_splits} patients, the index has "
            f"{len(set(groups))}; use a larger dataset or a larger val_fraction."
        )
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # Rare classes with fewer patients than folds: sklearn warns; the split is still valid.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        train_rows, val_rows = next(folds.split(np.zeros(len(index)), index["label"], groups))
    return index.iloc[np.sort(train_rows)].copy(), index.iloc[np.sort(val_rows)].copy()


# --------------------------------------------------------------------------- DataModule


def _seed_worker_transform(worker_id: int) -> None:
    """Give each DataLoader worker's albumentations pipeline its own seed.

    A seeded ``A.Compose`` is copied into every worker with the same generator state, so without
    this all workers would draw the same augmentations. Torch's per-worker seed derives from the
    loader's generator, so runs stay repeatable.
    """
    info = torch.utils.data.get_worker_info()
    transform = getattr(info.dataset, "transform", None)
    if hasattr(transform, "set_random_seed"):
        transform.set_random_seed(info.seed % 2**32)


class BrainMRIDataModule(pl.LightningDataModule):
    """Brain-MRI slices for training: synthetic by default, or any dataset the readers know.

    ``prepare_data`` writes the synthetic set (once); ``setup`` reads the index, splits the
    Training part by patient into train/val (stratified, seeded) and keeps Testing as test. A
    source without a test split (``folder`` without Training/Testing, ``figshare``, ``br35h``) has
    its test part split off by patient first, with ``val_fraction``.

    Args:
        source: ``"synthetic"``, ``"folder"``, ``"kaggle"``, ``"figshare"`` or ``"br35h"``.
        root: Dataset folder; for ``synthetic`` ``None`` means a folder under ``data_dir()``
            named after the parameters.
        image_size: Side of the square images.
        channels: 1 or 3.
        batch_size: Mini-batch size.
        num_workers: DataLoader workers.
        val_fraction: Share of patients for validation (see :func:`split_by_patient`).
        seed: Seed of the splits, the sampler and the augmentation.
        augment: Use ``course_lib.transforms.train_transform`` for training.
        sampler: ``"none"`` (shuffle) or ``"weighted"`` (class-balanced ``WeightedRandomSampler``).
        cache: Cache resized images in memory.
        pin_memory: ``None`` pins when CUDA is available.
        per_class: Synthetic training slices per class: an int, or a dict class name to count
            (imbalance).
        test_per_class: Synthetic test slices per class.
        slices_per_patient: Synthetic slices per patient.
        sites: Synthetic scanner sites.
        contrast: Synthetic contrast (``"T1CE"``, ...).
        difficulty: Synthetic difficulty.
        duplicates: Fraction of synthetic slices appended again as near-copies (re-saved under
            a new patient id, as in scraped public sets).
        data_seed: Seed of the synthetic generator (0, like
            :func:`course_lib.datasets.prepare_default`, so both share one folder).
        train_transform: Custom training transform (overrides ``augment``).
        eval_transform: Custom transform for val/test/predict.

    Raises:
        ValueError: If a choice or size is invalid.
    """

    SOURCES = ("synthetic", "folder", "kaggle", "figshare", "br35h")

    def __init__(
        self,
        source: str = "synthetic",
        root: str | None = None,
        image_size: int = 128,
        channels: int = 1,
        batch_size: int = 32,
        num_workers: int = 0,
        val_fraction: float = 0.2,
        seed: int = 42,
        augment: bool = True,
        sampler: str = "none",
        cache: bool = False,
        pin_memory: bool | None = None,
        per_class: int | dict[str, int] = 100,
        test_per_class: int = 25,
        slices_per_patient: int = 4,
        sites: int = 3,
        contrast: str = "T1CE",
        difficulty: float = 1.0,
        duplicates: float = 0.0,
        data_seed: int = 0,
        train_transform=None,
        eval_transform=None,
    ):
        super().__init__()
        if source not in self.SOURCES:
            raise ValueError(f"source must be one of {self.SOURCES}, got {source!r}")
        if source != "synthetic" and root is None:
            raise ValueError(f"source={source!r} needs root= (the dataset folder)")
        if sampler not in ("none", "weighted"):
            raise ValueError(f"sampler must be 'none' or 'weighted', got {sampler!r}")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels!r}")
        _check_positive_int(image_size, "image_size")
        _check_positive_int(batch_size, "batch_size")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be a non-negative int, got {num_workers!r}")
        if isinstance(per_class, dict):
            unknown = sorted(set(per_class) - set(CLASS_NAMES))
            if unknown or not per_class:
                raise ValueError(
                    f"per_class keys must be class names {CLASS_NAMES}, got {sorted(per_class)}"
                )
            for name, n in per_class.items():
                _check_positive_int(n, f"per_class[{name!r}]")
        else:
            _check_positive_int(per_class, "per_class")
        self.save_hyperparameters(ignore=["train_transform", "eval_transform"])
        self.source, self.root = source, root
        self.image_size, self.channels = image_size, channels
        self.batch_size, self.num_workers = batch_size, num_workers
        self.val_fraction, self.seed, self.data_seed = val_fraction, seed, data_seed
        self.augment, self.sampler, self.cache = augment, sampler, cache
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.synthetic = {
            "per_class": per_class,
            "test_per_class": test_per_class,
            "slices_per_patient": slices_per_patient,
            "sites": sites,
            "contrast": contrast,
            "difficulty": difficulty,
            "duplicates": duplicates,
        }
        self.train_transform, self.eval_transform = train_transform, eval_transform
        self.index = self.train_index = self.val_index = self.test_index = None
        self.classes: tuple[str, ...] = (
            CLASS_NAMES if source != "br35h" else datasets.BINARY_CLASSES
        )

    @classmethod
    def from_profile(cls, profile=None, **overrides) -> BrainMRIDataModule:
        """A DataModule sized by a profile (image size, samples, batch size, workers).

        Args:
            profile: A profile, its name, or ``None`` (this machine's).
            **overrides: Any ``__init__`` argument.

        Returns:
            The DataModule.
        """
        if profile is None or isinstance(profile, str):
            profile = get_profile(profile)
        # the synthetic sizes come from the same place as prepare_default's, so both share a folder
        synthetic = datasets.synthetic_params(profile)
        sizes = ("image_size", "per_class", "test_per_class", "slices_per_patient")
        kwargs = {
            **{key: synthetic[key] for key in sizes},
            "batch_size": profile.batch_size,
            "num_workers": profile.num_workers,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def class_counts(self) -> dict[str, int]:
        """Training images per class, in label order (after :meth:`setup`)."""
        self._require_setup()
        counts = self.train_index["label"].value_counts()
        return {name: int(counts.get(i, 0)) for i, name in enumerate(self.classes)}

    def _synthetic_params(self) -> dict:
        params = dict(self.synthetic)
        params.update(image_size=self.image_size, seed=self.data_seed)
        return params

    def _dataset_root(self):
        if self.source == "synthetic" and self.root is None:
            return datasets.synthetic_dir(self._synthetic_params())
        return self.root

    def prepare_data(self) -> None:
        """Write the synthetic dataset when needed (no state is set here)."""
        if self.source == "synthetic":
            datasets.prepare_synthetic(self._dataset_root(), **self._synthetic_params())

    def _require_setup(self) -> None:
        if self.train_index is None:
            raise RuntimeError("Call setup() first (a Trainer does it for you).")

    def setup(self, stage: str | None = None) -> None:
        """Read the index, split it and build the datasets (once; later calls do nothing)."""
        if self.train_index is not None:
            return
        index = datasets.read_dataset(self.source, self._dataset_root())
        self.index = index
        if (index["split"] == "test").any():
            pool, test = index[index["split"] == "train"], index[index["split"] == "test"]
        else:
            pool, test = split_by_patient(index, val_fraction=self.val_fraction, seed=self.seed)
        train, val = split_by_patient(pool, val_fraction=self.val_fraction, seed=self.seed)
        train_tf, eval_tf = self._transforms()
        self.train_dataset = self._dataset(train, train_tf)
        self.val_dataset = self._dataset(val, eval_tf)
        self.test_dataset = self._dataset(test, eval_tf)
        self.train_index, self.val_index, self.test_index = train, val, test

    def _transforms(self):
        train_tf, eval_tf = self.train_transform, self.eval_transform
        if train_tf is None or eval_tf is None:
            from course_lib import transforms

            if eval_tf is None:
                eval_tf = transforms.eval_transform(self.image_size)
            if train_tf is None:
                train_tf = (
                    transforms.train_transform(self.image_size, seed=self.seed)
                    if self.augment
                    else eval_tf
                )
        return train_tf, eval_tf

    def _dataset(self, index, transform) -> BrainMRIDataset:
        return BrainMRIDataset(
            index,
            image_size=self.image_size,
            channels=self.channels,
            transform=transform,
            cache=self.cache,
        )

    def _loader(self, dataset, *, train: bool) -> DataLoader:
        kwargs = {
            "batch_size": self.batch_size,
            "num_workers": self.num_workers,
            "pin_memory": self.pin_memory,
            "persistent_workers": self.num_workers > 0,
            "worker_init_fn": _seed_worker_transform if self.num_workers > 0 else None,
        }
        if train and self.sampler == "weighted":
            counts = np.bincount(dataset.labels, minlength=self.num_classes)
            weights = 1.0 / counts[dataset.labels]
            generator = torch.Generator().manual_seed(self.seed)
            kwargs["sampler"] = WeightedRandomSampler(
                torch.as_tensor(weights, dtype=torch.double), len(dataset), generator=generator
            )
        elif train:
            kwargs["shuffle"] = True
            kwargs["generator"] = torch.Generator().manual_seed(self.seed)
        return DataLoader(dataset, **kwargs)

    def train_dataloader(self) -> DataLoader:
        """Training batches: shuffled, or drawn by the weighted sampler."""
        self._require_setup()
        return self._loader(self.train_dataset, train=True)

    def val_dataloader(self) -> DataLoader:
        """Validation batches, in order, none dropped."""
        self._require_setup()
        return self._loader(self.val_dataset, train=False)

    def test_dataloader(self) -> DataLoader:
        """Test batches, in order, none dropped."""
        self._require_setup()
        return self._loader(self.test_dataset, train=False)

    def predict_dataloader(self) -> DataLoader:
        """The test set, in order, for ``Trainer.predict``."""
        return self.test_dataloader()
