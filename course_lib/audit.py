"""Audit a dataset before trusting it: counts, sizes, unreadable files and duplicates.

Exact duplicates are found by file hash, near duplicates by perceptual hashing (``imagehash``)
within and across splits. Command line: ``python -m course_lib.datasets audit PATH [--json]``.
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

from course_lib.datasets import (
    DatasetLayoutError,
    UnreadableImageError,
    load_image,
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
    import imagehash

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


@dataclass
class AuditReport:
    """What :func:`audit` found.

    Attributes:
        root: The audited folder.
        n_images: Files listed.
        counts: ``{split: {class_name: n}}`` (split ``"all"`` when the set has none).
        sizes: ``{"WxH": n}`` over readable images.
        modes: ``{PIL mode: n}`` over readable images.
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
        lines = [f"{self.root}: {self.n_images} images"]
        for split, per_class in self.counts.items():
            lines.append(f"  {split}: " + ", ".join(f"{c} {n}" for c, n in per_class.items()))
        lines.append("  sizes: " + ", ".join(f"{s} ({n})" for s, n in self.sizes.items()))
        lines.append("  modes: " + ", ".join(f"{m} ({n})" for m, n in self.modes.items()))
        lines.append(f"  unreadable: {len(self.unreadable)}")
        lines += [f"    {p}: {e}" for p, e in self.unreadable[:5]]
        for kind, pairs in (("exact", self.exact_duplicates), ("near", self.near_duplicates)):
            cross = len(self.cross_split(kind))
            lines.append(f"  {kind} duplicate pairs: {len(pairs)} ({cross} across splits)")
            lines += [f"    {p['a']} <-> {p['b']}" for p in pairs[:5]]
        return "\n".join(lines)


def _index_for_audit(root: Path) -> pd.DataFrame:
    for reader in (read_kaggle, read_br35h, read_folder, read_figshare):
        try:
            return reader(root)
        except DatasetLayoutError:
            continue
    raise DatasetLayoutError(
        f"{str(root)!r} is not a known layout (Kaggle Training/Testing, Br35H yes/no, a "
        "class-per-folder tree or figshare .mat files)."
    )


def audit(
    root: str | os.PathLike | pd.DataFrame,
    *,
    threshold: int = DUPLICATE_THRESHOLD,
    hash_size: int = HASH_SIZE,
) -> AuditReport:
    """Audit a dataset: counts, sizes and modes, unreadable files, exact and near duplicates.

    Args:
        root: A dataset folder in any layout the readers know, or an index.
        threshold: Largest Hamming distance between perceptual hashes that counts as a near
            duplicate (0..hash_size**2).
        hash_size: Side of the perceptual hash.

    Returns:
        An :class:`AuditReport`; unreadable files are reported there, never raised.

    Raises:
        ValueError: If ``threshold`` is out of range.
        DatasetLayoutError: If ``root`` is a folder in no known layout.
    """
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int)
        or not (0 <= threshold <= hash_size * hash_size)
    ):
        raise ValueError(f"threshold must be an int in 0..{hash_size**2}, got {threshold!r}")
    index = root if isinstance(root, pd.DataFrame) else _index_for_audit(Path(root))
    splits = index["split"].fillna("all")
    counts = {
        str(s): {str(c): int(n) for c, n in group["class_name"].value_counts().sort_index().items()}
        for s, group in index.assign(split=splits).groupby("split", sort=True)
    }
    sizes, modes, unreadable = Counter(), Counter(), list(index.attrs.get("unreadable", []))
    images, kept, digests = [], [], []
    for i, path in enumerate(index["path"]):
        try:
            if str(path).lower().endswith(".mat"):
                array = load_image(path)
                mode = "mat"
            else:
                with Image.open(path) as img:
                    img.load()
                    mode = img.mode
                array = load_image(path)
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
        n_images=len(index),
        counts=counts,
        sizes=dict(sizes.most_common()),
        modes=dict(modes.most_common()),
        unreadable=[tuple(u) for u in unreadable],
        exact_duplicates=exact,
        near_duplicates=near,
        threshold=threshold,
    )
