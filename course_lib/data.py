"""The data layer: a Dataset over an index, patient-aware splits, a sampler, the DataModule.

An *index* is the DataFrame the readers in :mod:`course_lib.datasets` return (one row per image,
columns ``path``, ``label``, ``class_name``, ``split``, ``patient_id``, ``source``, ...).

Randomness in training is a function of ``(seed, epoch)`` only: the order of the samples
(:class:`EpochSampler`) and the augmentation of each DataLoader worker are drawn anew at the start
of each epoch from those two numbers. So a run resumed from ``last.ckpt`` sees exactly the batches
the uninterrupted run saw (with :class:`course_lib.training.EpochSeed` for the model's own
randomness, such as dropout).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
import tempfile
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from PIL import Image
from sklearn.model_selection import StratifiedGroupKFold
from torch.utils.data import DataLoader, Dataset, Sampler

from course_lib import datasets, transforms
from course_lib._validation import check_choice, check_int, check_number, check_type
from course_lib.config import CLASS_NAMES, data_dir, epoch_seed, get_profile
from course_lib.datasets.audit import DUPLICATE_THRESHOLD, check_index, duplicate_groups
from course_lib.datasets.readers import check_classes
from course_lib.synthetic_spec import SyntheticSpec


class MissingPatientIdsWarning(UserWarning):
    """The index has no patient ids, so images of one patient may land in two splits."""


#: Streams of :func:`~course_lib.config.epoch_seed` (``training.EpochSeed`` uses 1).
_SAMPLER_STREAM, _AUGMENT_STREAM = 0, 1000


class MissingClassWarning(UserWarning):
    """A validation or test split has no example of a class the model learns."""


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


def load_resized(path: str | os.PathLike, size: int) -> np.ndarray:
    """Read one image as grayscale and resize it: (size, size) uint8.

    Raises:
        UnreadableImageError: If the file cannot be read; the message says how to skip such files.
    """
    try:
        raw = datasets.load_image(path)
    except datasets.UnreadableImageError as error:
        raise datasets.UnreadableImageError(
            f"{error} To leave such files out, open every image first with "
            "skip_unreadable=True (command line: --data.skip_unreadable true)."
        ) from error
    return resize_uint8(raw, size)


def slice_cache_key(paths: Sequence[str | os.PathLike], size: int) -> str:
    """A name for the decoded slices of ``paths`` at ``size``: it changes when any file does.

    Made of the size and each file's absolute path, byte size and modification time, so a
    re-encoded, replaced or renamed image gives a new key (and a new cache file).
    """
    digest = hashlib.sha1(f"slices {size}\n".encode())
    for path in paths:
        info = os.stat(path)
        digest.update(f"{os.path.abspath(path)}\t{info.st_size}\t{info.st_mtime_ns}\n".encode())
    return f"slices-{size}px-{len(paths)}-{digest.hexdigest()[:16]}"


def load_slices(
    index: pd.DataFrame, size: int, *, cache_dir: str | os.PathLike | None = None
) -> np.ndarray:
    """Every image of an index, decoded and resized once: (N, size, size) uint8, in row order.

    Decoding a JPEG costs about as much as augmenting it; a training run that decodes every
    image every epoch spends its CPU on reading. So the slices are decoded once (on all CPU
    cores, in threads) and kept: in memory, and in ``cache_dir`` as one ``.npy`` file named by
    :func:`slice_cache_key`, which the next run with the same files and size reads in a
    fraction of a second. DataLoader workers started by ``fork`` share the array without a copy.
    A cache folder that cannot be written (a read-only disk) only costs the next run the decode.

    Args:
        index: DataFrame with a ``path`` column.
        size: Side of the square slices.
        cache_dir: Folder for the ``.npy`` file; ``None``: memory only.

    Returns:
        The slices, ``(len(index), size, size)`` uint8.

    Raises:
        UnreadableImageError: If an image cannot be read (the message names it).
        TypeError: If ``size`` is not an int.
        ValueError: If ``size`` is below 1.
    """
    check_index(index)
    size = check_int("size", size, minimum=1)
    paths = [os.fspath(p) for p in index["path"]]
    cached = None
    if cache_dir is not None:
        cached = Path(cache_dir) / f"{slice_cache_key(paths, size)}.npy"
        try:
            stack = np.load(cached, allow_pickle=False)
        except (OSError, ValueError):  # absent, unreadable or truncated: decode again
            pass
        else:
            if stack.shape == (len(paths), size, size) and stack.dtype == np.uint8:
                return stack
    stack = np.empty((len(paths), size, size), np.uint8)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # PIL decodes without GIL
        for i, image in enumerate(pool.map(lambda path: load_resized(path, size), paths)):
            stack[i] = image
    if cached is not None:
        _save_atomically(cached, stack)
    return stack


def _save_atomically(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` whole or not at all; skip a folder that cannot be written."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as f:
            temporary = f.name
            np.save(f, array)
        os.replace(temporary, path)  # a run stopped while writing leaves no half file behind
    except OSError:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


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
        images: The index's images already decoded and resized (:func:`load_slices`):
            ``(len(index), image_size, image_size)`` uint8, in row order; nothing is read from
            disk then.
        seed: With a seeded albumentations transform (one with ``set_random_seed``): at the
            start of each epoch (see :meth:`set_epoch`) each DataLoader worker reseeds it from
            ``(seed, epoch, worker id)``, so the augmentations of an epoch do not depend on what
            came before it (a resumed run draws the same ones). ``None``: the transform keeps
            its own random state.

    Raises:
        TypeError: If ``index`` is not a DataFrame, ``transform`` not callable, or
            ``image_size`` or ``seed`` not an int.
        ValueError: If columns are missing, ``image_size`` is below 1, ``channels`` is not
            1 or 3, or ``images`` does not have one slice of ``image_size`` per row.
    """

    def __init__(
        self,
        index,
        *,
        image_size: int,
        channels: int = 1,
        transform=None,
        cache=False,
        seed=None,
        images: np.ndarray | None = None,
    ):
        self.index = check_index(index).reset_index(drop=True)
        self.image_size = check_int("image_size", image_size, minimum=1)
        check_choice("channels", channels, (1, 3))
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable or None, got {transform!r}")
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)
        # shared with the DataLoader workers, so that persistent workers see a new epoch
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()
        self._seeded_epoch: int | None = None
        self.channels = channels
        self.transform = transform
        self._keyword_call = transform is not None and _takes_image_keyword(transform)
        self.cache = bool(cache)
        self._cache: dict[int, np.ndarray] = {}
        self.labels = self.index["label"].to_numpy(dtype=np.int64, copy=True)
        if images is not None:
            expected = (len(self.index), self.image_size, self.image_size)
            if getattr(images, "shape", None) != expected or images.dtype != np.uint8:
                raise ValueError(
                    f"images must be uint8 of shape {expected} (one resized slice per row of "
                    f"the index), got {getattr(images, 'dtype', type(images).__name__)} "
                    f"{getattr(images, 'shape', '')}; build it with load_slices(index, size)"
                )
        self.images = images

    def __len__(self) -> int:
        return len(self.index)

    def set_epoch(self, epoch: int) -> None:
        """Tell the dataset (and its DataLoader workers) which epoch is starting."""
        self._epoch.fill_(check_int("epoch", epoch, minimum=0))

    def _reseed_transform(self) -> None:
        if self.seed is None or not hasattr(self.transform, "set_random_seed"):
            return
        epoch = int(self._epoch.item())
        if epoch != self._seeded_epoch:
            info = torch.utils.data.get_worker_info()
            worker = 0 if info is None else info.id
            self.transform.set_random_seed(epoch_seed(self.seed, epoch, _AUGMENT_STREAM + worker))
            self._seeded_epoch = epoch

    def load(self, i: int) -> np.ndarray:
        """The ``i``-th image resized, (image_size, image_size) uint8, before any transform."""
        if self.images is not None:
            return self.images[i]
        if i in self._cache:
            return self._cache[i]
        image = load_resized(self.index.at[i, "path"], self.image_size)
        if self.cache:
            self._cache[i] = image
        return image

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = self.load(int(i))
        if self.transform is None:
            tensor = torch.from_numpy(image.astype(np.float32) / 255.0)[None]
        else:
            self._reseed_transform()
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


class EpochSampler(Sampler[int]):
    """Sample indices anew each epoch, as a function of ``(seed, epoch)`` alone.

    Without ``weights`` a permutation (a shuffle); with them, ``num_samples`` draws with
    replacement, each index drawn with probability proportional to its weight (class-balanced
    oversampling). Lightning calls :meth:`set_epoch` at the start of every epoch, also on a run
    resumed from a checkpoint, which therefore sees the same order as an uninterrupted run; the
    call is passed on to the dataset (see :meth:`BrainMRIDataset.set_epoch`). Without it (a plain
    ``for`` loop over the loader), each pass moves on to the next epoch's order, as a
    ``RandomSampler`` would reshuffle.

    Args:
        data: The dataset (or its length).
        seed: Seed of the draws.
        weights: Per-sample weights (``None``: shuffle).
        num_samples: Draws per epoch with ``weights`` (default: the dataset's length).

    Raises:
        TypeError: If ``seed`` or ``num_samples`` is not an int.
        ValueError: If ``weights`` does not have one non-negative value per sample, or sums to 0.

    >>> sampler = EpochSampler(5, seed=0)
    >>> sampler.set_epoch(1); first = list(sampler); sampler.set_epoch(1)
    >>> sorted(first), list(sampler) == first
    ([0, 1, 2, 3, 4], True)
    """

    def __init__(self, data, *, seed: int, weights=None, num_samples: int | None = None):
        self.data = data
        self.size = len(data) if hasattr(data, "__len__") else check_int("data", data, minimum=1)
        self.seed = check_int("seed", seed, minimum=0)
        self.weights = None
        if weights is not None:
            weights = torch.as_tensor(np.asarray(weights, dtype=np.float64))
            if weights.shape != (self.size,) or bool((weights < 0).any()) or weights.sum() <= 0:
                raise ValueError(
                    f"weights must hold {self.size} non-negative values with a positive sum"
                )
            self.weights = weights
        self.num_samples = (
            self.size if num_samples is None else check_int("num_samples", num_samples, minimum=1)
        )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose draws :meth:`__iter__` gives (Lightning calls this)."""
        self.epoch = check_int("epoch", epoch, minimum=0)
        if hasattr(self.data, "set_epoch"):
            self.data.set_epoch(self.epoch)

    def __iter__(self):
        generator = torch.Generator().manual_seed(
            epoch_seed(self.seed, self.epoch, _SAMPLER_STREAM)
        )
        self.epoch += 1  # a plain loop reshuffles each pass; Lightning sets the epoch itself
        if self.weights is None:
            return iter(torch.randperm(self.size, generator=generator).tolist())
        draws = torch.multinomial(self.weights, self.num_samples, True, generator=generator)
        return iter(draws.tolist())

    def __len__(self) -> int:
        return self.num_samples


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
        TypeError: If ``index`` is not a DataFrame or ``val_fraction`` not a number.

    Warns:
        MissingPatientIdsWarning: If some rows have no ``patient_id``.
    """
    check_index(index)
    check_number("val_fraction", val_fraction, above=0, maximum=0.5)
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


def with_duplicate_groups(
    index: pd.DataFrame, images: np.ndarray | None = None, *, threshold: int = DUPLICATE_THRESHOLD
) -> pd.DataFrame:
    """A copy of ``index`` whose rows without a patient id get their near-duplicate group's.

    The ids are ``"near-duplicates-<group>"`` (:func:`~course_lib.datasets.audit.duplicate_groups`
    over the whole index), so :func:`split_by_patient` keeps each group of copies on one side;
    rows that have a patient id keep it.

    Args:
        index: The index.
        images: Its images, decoded (:func:`load_slices`), to hash without reading the files
            again; ``None``: read them.
        threshold: Largest Hamming distance of a near-duplicate pair.

    Returns:
        The new index, with a ``patient_id`` column.
    """
    check_index(index)
    groups = duplicate_groups(index if images is None else images, threshold=threshold)
    out = index.copy()
    ids = out["patient_id"] if "patient_id" in out else pd.Series(pd.NA, index=out.index)
    ids = ids.astype("object")
    missing = ids.isna().to_numpy()
    ids[missing] = [f"near-duplicates-{g}" for g in groups[missing]]
    out["patient_id"] = ids
    return out


# --------------------------------------------------------------------------- DataModule


class BrainMRIDataModule(pl.LightningDataModule):
    """Brain-MRI slices for training: synthetic by default, or any dataset the readers know.

    ``prepare_data`` writes the synthetic set (once); ``setup`` reads the index, splits the
    Training part by patient into train/val (stratified, seeded) and keeps Testing as test. A
    source without a test split (``folder`` without Training/Testing, ``figshare``, ``br35h``) has
    its test part split off by patient first, with ``val_fraction``. A training split without an
    example of one of ``classes`` is an error (a model cannot learn a class it never sees); a
    validation or test split without one gets a :class:`MissingClassWarning`.

    Args:
        source: ``"synthetic"``, ``"folder"``, ``"kaggle"``, ``"figshare"`` or ``"br35h"``.
        root: Dataset folder; for ``synthetic`` ``None`` means a folder under ``data_dir()``
            named after the spec.
        image_size: Side of the square images (the synthetic set is generated at this size).
        channels: 1 or 3.
        batch_size: Mini-batch size.
        num_workers: DataLoader workers.
        val_fraction: Share of patients for validation (see :func:`split_by_patient`).
        seed: Seed of the splits, the sampler and the augmentation.
        augment: Use ``course_lib.transforms.train_transform`` for training.
        augment_strength: Its strength, one of :data:`course_lib.transforms.STRENGTHS`
            (``"light"``: small affine, flips, mild intensity changes).
        sampler: ``"none"`` (shuffle) or ``"weighted"`` (class-balanced oversampling); both
            :class:`EpochSampler`, so a resumed run draws what the uninterrupted one drew.
        cache: Decode and resize every image once, in ``setup`` (:func:`load_slices`), and
            keep them in memory and in ``cache_dir``, so that no epoch decodes a JPEG again.
        cache_dir: Folder of the decoded slices on disk (default ``data_dir() / "slices"``);
            one ``.npy`` per set of files and size. Delete it to free the space.
        group_duplicates: Give every image without a patient id the id of its near-duplicate
            group (:func:`~course_lib.datasets.audit.duplicate_groups`), so that the splits
            never put copies of one image on both sides: the honest split of a scraped set
            without patient ids (Kaggle's).
        pin_memory: ``None`` pins when CUDA is available.
        classes: The classes to learn, in label order (default: all four, or Br35H's two);
            folder, kaggle and synthetic sources only. Pass the classes you have when a folder
            lacks some.
        skip_unreadable: Open every image in ``setup`` and drop the unreadable ones with an
            :class:`~course_lib.datasets.UnreadableFilesWarning` (default: an unreadable file
            stops training with an error that names it).
        synthetic: The synthetic set (a :class:`~course_lib.synthetic_spec.SyntheticSpec`; its
            ``image_size`` is replaced by ``image_size``). Default: ``SyntheticSpec()``.
        train_transform: Custom training transform (overrides ``augment``).
        eval_transform: Custom transform for val/test/predict.

    Raises:
        ValueError: If a choice or size is invalid.
        TypeError: If an argument has the wrong kind.
    """

    SOURCES = datasets.SOURCES

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
        augment_strength: str = "medium",
        sampler: str = "none",
        cache: bool = False,
        cache_dir: str | None = None,
        group_duplicates: bool = False,
        pin_memory: bool | None = None,
        classes: Sequence[str] | None = None,
        skip_unreadable: bool = False,
        synthetic: SyntheticSpec | None = None,
        train_transform=None,
        eval_transform=None,
    ):
        super().__init__()
        check_choice("source", source, self.SOURCES)
        if source != "synthetic" and root is None:
            raise ValueError(f"source={source!r} needs root= (the dataset folder)")
        check_choice("sampler", sampler, ("none", "weighted"))
        check_choice("augment_strength", augment_strength, transforms.STRENGTHS)
        check_choice("channels", channels, (1, 3))
        check_int("image_size", image_size, minimum=16 if source == "synthetic" else 1)
        check_int("batch_size", batch_size, minimum=1)
        check_int("num_workers", num_workers, minimum=0)
        check_number("val_fraction", val_fraction, above=0, maximum=0.5)
        check_int("seed", seed, minimum=0)
        if source in ("figshare", "br35h") and classes is not None:
            raise ValueError(f"source={source!r} has fixed classes; leave classes unset")
        default_classes = datasets.BINARY_CLASSES if source == "br35h" else CLASS_NAMES
        self.classes: tuple[str, ...] = check_classes(classes or default_classes)
        if synthetic is None:
            synthetic = SyntheticSpec(image_size=image_size)
        check_type("synthetic", synthetic, SyntheticSpec, "a SyntheticSpec")
        self.synthetic = synthetic.replace(image_size=image_size)
        self.save_hyperparameters(ignore=["train_transform", "eval_transform", "synthetic"])
        # a plain dict, so that checkpoints load with torch.load(weights_only=True)
        self.hparams["synthetic"] = self.synthetic.params()
        self.source, self.root = source, root
        self.image_size, self.channels = image_size, channels
        self.batch_size, self.num_workers = batch_size, num_workers
        self.val_fraction, self.seed = val_fraction, seed
        self.augment, self.sampler, self.cache = augment, sampler, bool(cache)
        self.augment_strength = augment_strength
        self.cache_dir = cache_dir
        self.group_duplicates = bool(group_duplicates)
        self.slices: np.ndarray | None = None
        self.skip_unreadable = bool(skip_unreadable)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.train_transform, self.eval_transform = train_transform, eval_transform
        self.index = self.train_index = self.val_index = self.test_index = None
        self._start_epoch = 0

    def state_dict(self) -> dict:
        """What a checkpoint keeps of the DataModule: the epoch a resumed run starts at."""
        if self.trainer is None:
            return {}
        return {"next_epoch": int(self.trainer.fit_loop.epoch_progress.current.processed)}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore :meth:`state_dict` (Lightning calls this before it builds the loaders)."""
        self._start_epoch = int(state_dict.get("next_epoch", 0))

    @classmethod
    def from_profile(cls, profile=None, **overrides) -> BrainMRIDataModule:
        """A DataModule sized by a profile (image size, samples, batch size, workers).

        Args:
            profile: A profile, its name, or ``None`` (this machine's).
            **overrides: Any ``__init__`` argument, or a field of the synthetic spec
                (``per_class=``, ``difficulty=``, ...), which changes the profile's spec
                (``seed`` is the DataModule's; pass ``synthetic=`` for another generator seed).

        Returns:
            The DataModule; its synthetic set is the one
            :func:`~course_lib.datasets.prepare_default` writes for the same profile and fields.
        """
        if profile is None or isinstance(profile, str):
            profile = get_profile(profile)
        fields = set(SyntheticSpec.field_names()) - {"image_size", "seed"}
        changes = {k: overrides.pop(k) for k in list(overrides) if k in fields}
        base = overrides.pop("synthetic", None) or SyntheticSpec.from_profile(profile)
        kwargs = {
            "image_size": profile.image_size,
            "batch_size": profile.batch_size,
            "num_workers": profile.num_workers,
            "synthetic": base.replace(**changes),
            **overrides,
        }
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

    def _dataset_root(self):
        if self.source == "synthetic" and self.root is None:
            return datasets.synthetic_dir(self.synthetic)
        return self.root

    def prepare_data(self) -> None:
        """Write the synthetic dataset when needed (no state is set here)."""
        if self.source == "synthetic":
            datasets.prepare_synthetic(self._dataset_root(), self.synthetic)

    def _require_setup(self) -> None:
        if self.train_index is None:
            raise RuntimeError("Call setup() first (a Trainer does it for you).")

    def setup(self, stage: str | None = None) -> None:
        """Read the index, split it and build the datasets (once; later calls do nothing).

        Raises:
            DatasetLayoutError: If the folder does not have the source's layout.
            ValueError: If the training split has no example of one of ``classes``.
        """
        if self.train_index is not None:
            return
        classes = None if self.source in ("figshare", "br35h") else self.classes
        index = datasets.read_dataset(
            self.source, self._dataset_root(), classes=classes, verify=self.skip_unreadable
        ).reset_index(drop=True)
        if self.cache:
            folder = self.cache_dir if self.cache_dir is not None else data_dir() / "slices"
            self.slices = load_slices(index, self.image_size, cache_dir=folder)
        if self.group_duplicates:
            index = with_duplicate_groups(index, self.slices)
        self.index = index
        if (index["split"] == "test").any():
            pool, test = index[index["split"] == "train"], index[index["split"] == "test"]
        else:
            pool, test = split_by_patient(index, val_fraction=self.val_fraction, seed=self.seed)
        self._check_classes(pool, "training")
        train, val = split_by_patient(pool, val_fraction=self.val_fraction, seed=self.seed)
        self._check_classes(train, "training")
        for name, part in (("validation", val), ("test", test)):
            self._check_classes(part, name)
        train_tf, eval_tf = self._transforms()
        self.train_dataset = self._dataset(train, train_tf, seed=self.seed)
        self.val_dataset = self._dataset(val, eval_tf)
        self.test_dataset = self._dataset(test, eval_tf)
        self.train_index, self.val_index, self.test_index = train, val, test

    def _check_classes(self, part: pd.DataFrame, name: str) -> None:
        counts = part["label"].value_counts()
        missing = [c for i, c in enumerate(self.classes) if counts.get(i, 0) == 0]
        if not missing:
            return
        found = ", ".join(f"{c} {int(counts.get(i, 0))}" for i, c in enumerate(self.classes))
        have = [c for c in self.classes if c not in missing]
        if name == "training":
            raise ValueError(
                f"The training split has no image of {missing} (found {found}). A model cannot "
                f"learn a class it never sees: add images of {missing}, or learn only the "
                f"classes you have with classes={have} (command line: --data.classes "
                f"'[{','.join(have)}]')."
            )
        warnings.warn(
            f"The {name} split has no image of {missing} (found {found}); its metrics say "
            "nothing about them. Use more patients of those classes, or a larger val_fraction.",
            MissingClassWarning,
            stacklevel=3,
        )

    def _transforms(self):
        train_tf, eval_tf = self.train_transform, self.eval_transform
        if eval_tf is None:
            eval_tf = transforms.eval_transform(self.image_size)
        if train_tf is None:
            train_tf = (
                transforms.train_transform(
                    self.image_size, seed=self.seed, strength=self.augment_strength
                )
                if self.augment
                else eval_tf
            )
        return train_tf, eval_tf

    def _dataset(self, index, transform, seed: int | None = None) -> BrainMRIDataset:
        return BrainMRIDataset(
            index,
            image_size=self.image_size,
            channels=self.channels,
            transform=transform,
            seed=seed,
            images=None if self.slices is None else self.slices[index.index.to_numpy()],
        )

    def _loader(self, dataset, *, train: bool) -> DataLoader:
        kwargs = {
            "batch_size": self.batch_size,
            "num_workers": self.num_workers,
            "pin_memory": self.pin_memory,
            "persistent_workers": self.num_workers > 0,
        }
        if train:
            weights = None
            if self.sampler == "weighted":
                counts = np.bincount(dataset.labels, minlength=self.num_classes)
                weights = 1.0 / counts[dataset.labels]
            sampler = EpochSampler(dataset, seed=self.seed, weights=weights)
            # Lightning creates the loader's iterator before it calls set_epoch, and worker
            # processes draw their first indices at once: start at the epoch a resumed run is at.
            sampler.set_epoch(self._start_epoch)
            kwargs["sampler"] = sampler
        return DataLoader(dataset, **kwargs)

    def train_dataloader(self) -> DataLoader:
        """Training batches: shuffled, or drawn by class weight, anew each epoch."""
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
