"""Audit a dataset before trusting it: counts, sizes, skipped and unreadable files, duplicates.

Exact duplicates are found by file hash, near duplicates by perceptual hashing (``imagehash``)
within and across splits; :func:`find_duplicates` and :func:`leakage_report` do the same for any
images or pair of indexes. Command line: ``course-data audit PATH [--json]``.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from course_lib._validation import check_int, check_type
from course_lib.datasets.images import (
    UnreadableImageError,
    as_uint8,
    list_images,
    load_image,
    open_image,
    to_gray_uint8,
)
from course_lib.datasets.readers import (
    SPLIT_FOLDERS,
    read_br35h,
    read_figshare,
    read_folder,
    read_kaggle,
)

#: Side of the perceptual hash (``imagehash.phash``), so ``HASH_SIZE**2`` = 256 bits.
HASH_SIZE = 16
#: Hamming distance (bits of 256) up to which two images count as near duplicates. Measured on
#: the real 80-slice sample: re-encoded (JPEG q70), resized or brightened copies are at most 6
#: bits apart, the closest two distinct slices 38. With 64-bit hashes these overlap (4 vs 4).
#: Shifted or cropped copies are not caught (phash is not shift-invariant).
DUPLICATE_THRESHOLD = 12


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (identical files, whatever their names)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def perceptual_hashes(images, *, hash_size: int = HASH_SIZE) -> np.ndarray:
    """Perceptual hashes (``imagehash.phash``) of images, as rows of bits.

    Args:
        images: An iterable of (H, W) uint8 arrays.
        hash_size: Side of the hash; ``hash_size**2`` bits.

    Returns:
        (N, hash_size**2) bool array.
    """
    import imagehash  # lazy: it pulls in PyWavelets, and only hashing needs it

    rows = [
        imagehash.phash(Image.fromarray(np.asarray(im)), hash_size=hash_size).hash.ravel()
        for im in images
    ]
    return np.asarray(rows, dtype=bool).reshape(len(rows), hash_size * hash_size)


def hamming_pairs(bits: np.ndarray, threshold: int) -> list[tuple[int, int, int]]:
    """Pairs ``(i, j, distance)`` with ``i < j`` whose rows differ in at most ``threshold`` bits.

    >>> bits = np.array([[0, 0, 1, 1], [0, 0, 1, 0], [1, 1, 0, 0]], dtype=bool)
    >>> hamming_pairs(bits, 1)
    [(0, 1, 1)]
    """
    packed = np.packbits(np.asarray(bits, dtype=bool), axis=1)
    pad = -packed.shape[1] % 8
    packed = np.pad(packed, ((0, 0), (0, pad))).view(np.uint64)  # 64 bits per XOR + popcount
    pairs = []
    for start in range(0, len(packed), 128):  # blocks keep memory at 128 * N * bits / 8 bytes
        block, rest = packed[start : start + 128], packed[start:]
        distance = np.bitwise_count(block[:, None, :] ^ rest[None, :, :]).sum(axis=2, dtype=int)
        for a, b in zip(*np.nonzero(distance <= threshold), strict=True):
            if a < b:  # b counts from start, a from start too: pairs above the diagonal
                pairs.append((start + int(a), start + int(b), int(distance[a, b])))
    return sorted(pairs)


def check_threshold(threshold, hash_size: int = HASH_SIZE) -> int:
    """A near-duplicate threshold: an int of Hamming distance in ``0..hash_size**2``."""
    return check_int("threshold", threshold, minimum=0, maximum=hash_size * hash_size)


@dataclass
class AuditReport:
    """What :func:`audit` found.

    Attributes:
        root: The audited folder.
        source: The layout it was read as (``"kaggle"``, ``"br35h"``, ``"folder"``,
            ``"figshare"``), or ``"index"`` when an index was given.
        n_images: Files listed.
        counts: ``{split: {class_name: n}}`` (split ``"all"`` when the set has none).
        sizes: ``{"WxH": n}`` over readable images.
        modes: ``{PIL mode: n}`` over readable images.
        skipped: ``{"hidden": n, "unsupported": n}``: files not read because they are hidden
            (or in a hidden or ``__MACOSX`` folder), or not an image type the readers know.
        skipped_examples: Up to five paths of each kind of skipped file.
        unreadable: ``[(path, error)]``.
        exact_duplicates: Pairs of byte-identical files, as dicts with ``a``, ``b``, ``split_a``,
            ``split_b``.
        near_duplicates: Pairs within ``threshold`` bits of perceptual hash (exact ones
            excluded), dicts with also ``distance``.
        threshold: The Hamming-distance threshold used.
    """

    root: str
    n_images: int
    counts: dict
    sizes: dict
    modes: dict
    source: str = "index"
    skipped: dict = field(default_factory=dict)
    skipped_examples: dict = field(default_factory=dict)
    unreadable: list = field(default_factory=list)
    exact_duplicates: list = field(default_factory=list)
    near_duplicates: list = field(default_factory=list)
    threshold: int = DUPLICATE_THRESHOLD

    def cross_split(self, kind: str = "exact") -> list:
        """Pairs of ``kind`` (``"exact"`` or ``"near"``) whose two files are in different splits."""
        pairs = self.exact_duplicates if kind == "exact" else self.near_duplicates
        return [p for p in pairs if p["split_a"] != p["split_b"]]

    def to_dict(self) -> dict:
        """A JSON-ready dict of the report."""
        return asdict(self)

    def __str__(self) -> str:
        lines = [f"{self.root}: {self.n_images} images ({self.source} layout)"]
        for split, per_class in self.counts.items():
            lines.append(f"  {split}: " + ", ".join(f"{c} {n}" for c, n in per_class.items()))
        lines.append("  sizes: " + ", ".join(f"{s} ({n})" for s, n in self.sizes.items()))
        lines.append("  modes: " + ", ".join(f"{m} ({n})" for m, n in self.modes.items()))
        skipped = ", ".join(f"{n} {kind}" for kind, n in self.skipped.items()) or "0"
        lines.append(f"  skipped (not read): {skipped}")
        for kind, paths in self.skipped_examples.items():
            lines += [f"    {kind}: {p}" for p in paths[:3]]
        lines.append(f"  unreadable: {len(self.unreadable)}")
        lines += [f"    {p}: {e}" for p, e in self.unreadable[:5]]
        for kind, pairs in (("exact", self.exact_duplicates), ("near", self.near_duplicates)):
            cross = len(self.cross_split(kind))
            lines.append(f"  {kind} duplicate pairs: {len(pairs)} ({cross} across splits)")
            lines += [f"    {p['a']} <-> {p['b']}" for p in pairs[:5]]
        return "\n".join(lines)


def detect_source(root: str | os.PathLike) -> str:
    """Which layout a dataset folder looks like, so that its reader's own error is the one shown.

    Returns:
        ``"kaggle"`` when it (or a folder in it) holds a ``Training`` or ``Testing`` folder,
        ``"br35h"`` with ``yes``/``no`` folders, ``"figshare"`` when it holds ``.mat`` files and
        no images, else ``"folder"`` (a class-per-folder tree).
    """
    root = Path(root)
    if not root.is_dir():
        return "folder"  # the reader says the folder is missing
    children = [p for p in root.iterdir() if p.is_dir()]
    names = {p.name.lower() for p in children}
    grandchildren = {q.name.lower() for p in children for q in p.iterdir() if q.is_dir()}
    split_names = set(SPLIT_FOLDERS["train"] + SPLIT_FOLDERS["test"])
    if names & split_names or grandchildren & split_names:
        return "kaggle"
    if {"yes", "no"} <= names or {"yes", "no"} <= grandchildren:
        return "br35h"
    listing = list_images(root)
    if not listing.images and any(p.suffix.lower() == ".mat" for p in listing.unsupported):
        return "figshare"
    return "folder"


_READERS = {
    "kaggle": read_kaggle,
    "br35h": read_br35h,
    "folder": read_folder,
    "figshare": read_figshare,
}


def audit(
    root: str | os.PathLike | pd.DataFrame,
    *,
    threshold: int = DUPLICATE_THRESHOLD,
    hash_size: int = HASH_SIZE,
) -> AuditReport:
    """Audit a dataset: counts, sizes and modes, skipped and unreadable files, duplicates.

    Args:
        root: A dataset folder in any layout the readers know (see :func:`detect_source`), or
            an index.
        threshold: Largest Hamming distance between perceptual hashes that counts as a near
            duplicate (0..hash_size**2).
        hash_size: Side of the perceptual hash.

    Returns:
        An :class:`AuditReport`; unreadable files are reported there, never raised.

    Raises:
        TypeError: If ``threshold`` is not an int.
        ValueError: If ``threshold`` is out of range.
        DatasetLayoutError: If ``root`` is a folder in no known layout; the message says what
            is wrong with the layout it looks most like.
    """
    check_threshold(threshold, hash_size)
    if isinstance(root, pd.DataFrame):
        index, source = root, "index"
    else:
        source = detect_source(root)
        index = _READERS[source](Path(root))
    splits = index["split"].fillna("all")
    counts = {
        str(s): {str(c): int(n) for c, n in group["class_name"].value_counts().sort_index().items()}
        for s, group in index.assign(split=splits).groupby("split", sort=True)
    }
    skipped_paths = index.attrs.get("skipped", {})
    sizes, modes, unreadable = Counter(), Counter(), list(index.attrs.get("unreadable", []))
    images, kept, digests = [], [], []
    for i, path in enumerate(index["path"]):
        try:
            if str(path).lower().endswith(".mat"):
                mode, array = "mat", load_image(path)
            else:  # decode once, for both the mode and the pixels
                image = open_image(path)
                mode, array = image.mode, to_gray_uint8(image)
        except (UnreadableImageError, OSError) as error:
            unreadable.append((str(path), str(error)))
            continue
        sizes[f"{array.shape[1]}x{array.shape[0]}"] += 1
        modes[mode] += 1
        images.append(array)
        kept.append(i)
        digests.append(file_sha256(path))
    paths, split_of = index["path"].to_numpy(), splits.to_numpy()

    def pair(i, j, **extra):
        a, b = kept[i], kept[j]
        return {
            "a": str(paths[a]),
            "b": str(paths[b]),
            "split_a": str(split_of[a]),
            "split_b": str(split_of[b]),
            **extra,
        }

    exact = []
    by_digest: dict[str, list[int]] = {}
    for k, digest in enumerate(digests):
        by_digest.setdefault(digest, []).append(k)
    for members in by_digest.values():
        exact += [pair(i, j) for n, i in enumerate(members) for j in members[n + 1 :]]
    near = []
    if images:
        bits = perceptual_hashes(images, hash_size=hash_size)
        near = [
            pair(i, j, distance=d)
            for i, j, d in hamming_pairs(bits, threshold)
            if digests[i] != digests[j]
        ]
    return AuditReport(
        root=str(index.attrs.get("root", root if not isinstance(root, pd.DataFrame) else "")),
        source=source,
        n_images=len(index),
        counts=counts,
        sizes=dict(sizes.most_common()),
        modes=dict(modes.most_common()),
        skipped={kind: len(p) for kind, p in skipped_paths.items()},
        skipped_examples={kind: list(p[:5]) for kind, p in skipped_paths.items() if p},
        unreadable=[tuple(u) for u in unreadable],
        exact_duplicates=exact,
        near_duplicates=near,
        threshold=threshold,
    )


# --------------------------------------------------------------------------- duplicates, leakage


def check_index(index, name: str = "index") -> pd.DataFrame:
    """Check that ``index`` is a DataFrame with ``path`` and ``label`` columns; return it.

    Raises:
        TypeError: If it is not a DataFrame.
        ValueError: If a column is missing.
    """
    check_type(name, index, pd.DataFrame, "a pandas DataFrame (an index)")
    missing = {"path", "label"} - set(index.columns)
    if missing:
        raise ValueError(
            f"{name} lacks column(s) {sorted(missing)}; build it with a reader from "
            "course_lib.datasets."
        )
    return index


def find_duplicates(
    data, *, threshold: int = DUPLICATE_THRESHOLD, hash_size: int = HASH_SIZE
) -> pd.DataFrame:
    """Pairs of images whose perceptual hashes (``imagehash.phash``) are within ``threshold`` bits.

    Args:
        data: An index (images are loaded from ``path``), an (N, H, W) array, or a list of
            (H, W) arrays. Float images are taken as 0..1.
        threshold: Largest Hamming distance (0 finds only visually identical images).
        hash_size: Side of the hash (``hash_size**2`` bits).

    Returns:
        A DataFrame with columns ``i``, ``j`` (positions, ``i < j``) and ``distance``; from an
        index also ``path_i``, ``path_j``, ``split_i``, ``split_j``.

    Raises:
        ValueError: If ``threshold`` is out of range or the images are not 2-D.
        TypeError: If ``data`` is none of the above, or ``threshold`` not an int.
    """
    check_threshold(threshold, hash_size)
    if isinstance(data, pd.DataFrame):
        check_index(data, "data")
        images = [load_image(p) for p in data["path"]]
    elif isinstance(data, (np.ndarray, list, tuple)):
        images = [as_uint8(np.asarray(im)) for im in data]
    else:
        raise TypeError(f"data must be an index, an array or a list of arrays, got {type(data)}")
    if any(im.ndim != 2 for im in images):
        raise ValueError("find_duplicates expects 2-D (H, W) grayscale images")
    bits = perceptual_hashes(images, hash_size=hash_size) if images else np.zeros((0, 1))
    pairs = pd.DataFrame(
        hamming_pairs(bits, threshold), columns=["i", "j", "distance"], dtype="int64"
    )
    if isinstance(data, pd.DataFrame):
        for side in ("i", "j"):
            pairs[f"path_{side}"] = data["path"].to_numpy()[pairs[side].to_numpy()]
            if "split" in data:
                pairs[f"split_{side}"] = data["split"].to_numpy()[pairs[side].to_numpy()]
    return pairs


def duplicate_groups(data, *, threshold: int = DUPLICATE_THRESHOLD) -> np.ndarray:
    """Group images that are near duplicates of each other, directly or through a chain.

    A scraped set without patient ids (Kaggle's) still has to be split so that no copy of an
    image sits on both sides: the groups returned here play the part of patient ids. Two images
    share a group when :func:`find_duplicates` pairs them, or when a chain of such pairs joins
    them (the connected components of the pairs' graph); every other image is a group of its own.

    Args:
        data: What :func:`find_duplicates` takes (an index, an (N, H, W) array, a list).
        threshold: Largest Hamming distance of a near-duplicate pair.

    Returns:
        (N,) int64 group numbers, ``0 .. n_groups - 1``, in the order of ``data``.

    Raises:
        ValueError: If ``threshold`` is out of range or the images are not 2-D.
        TypeError: If ``data`` is none of the kinds :func:`find_duplicates` takes.

    >>> a = np.zeros((32, 32), np.uint8); a[8:20, 8:20] = 255
    >>> b = np.zeros((32, 32), np.uint8); b[2:9, 20:30] = 255
    >>> duplicate_groups([a, b, a.copy()]).tolist()
    [0, 1, 0]
    """
    pairs = find_duplicates(data, threshold=threshold)
    n = len(data)
    graph = coo_matrix(
        (np.ones(len(pairs)), (pairs["i"].to_numpy(), pairs["j"].to_numpy())), shape=(n, n)
    )
    _, groups = connected_components(graph, directed=False)
    return groups.astype(np.int64)


@dataclass
class LeakageReport:
    """What :func:`leakage_report` found between two parts of a dataset.

    Attributes:
        shared_patients: Patient ids present in both parts.
        duplicate_pairs: Near-identical image pairs across the parts: DataFrame with
            ``train_path``, ``test_path``, ``distance`` (0 means identical hashes).
        n_train: Images in the first part.
        n_test: Images in the second part.
    """

    shared_patients: list = field(default_factory=list)
    duplicate_pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_train: int = 0
    n_test: int = 0

    @property
    def clean(self) -> bool:
        """True when no patient and no (near-)duplicate image is shared."""
        return not self.shared_patients and self.duplicate_pairs.empty

    def __str__(self) -> str:
        leaked = self.duplicate_pairs["test_path"].nunique() if len(self.duplicate_pairs) else 0
        return (
            f"{len(self.shared_patients)} patient(s) in both parts; {len(self.duplicate_pairs)} "
            f"near-duplicate pair(s) across parts ({leaked} of {self.n_test} test images have "
            "a twin in train)"
        )


def leakage_report(
    train: pd.DataFrame, test: pd.DataFrame, *, threshold: int = DUPLICATE_THRESHOLD
) -> LeakageReport:
    """Look for leakage between two indexes: shared patients and cross-part near duplicates.

    Args:
        train: The first index.
        test: The second index.
        threshold: Hamming-distance threshold of :func:`find_duplicates`.

    Returns:
        A :class:`LeakageReport`.

    Raises:
        TypeError: If an argument is not a DataFrame.
        ValueError: If a ``path`` or ``label`` column is missing or ``threshold`` out of range.
    """
    check_index(train, "train")
    check_index(test, "test")
    shared = []
    if "patient_id" in train and "patient_id" in test:
        shared = sorted(set(train["patient_id"].dropna()) & set(test["patient_id"].dropna()))
    both = pd.concat([train.assign(_part=0), test.assign(_part=1)], ignore_index=True)
    pairs = find_duplicates(both, threshold=threshold)
    part = both["_part"].to_numpy()
    cross = pairs[part[pairs["i"]] != part[pairs["j"]]]
    paths = both["path"].to_numpy()
    duplicates = pd.DataFrame(
        {
            "train_path": paths[cross["i"].to_numpy()],
            "test_path": paths[cross["j"].to_numpy()],
            "distance": cross["distance"].to_numpy(),
        }
    )
    return LeakageReport(shared, duplicates, len(train), len(test))
