"""Image files: which files in a folder are images, and loading any of them as grayscale uint8.

Hidden files and folders (names starting with ``.``, such as the ``.ipynb_checkpoints/`` that
Jupyter writes beside any image a student opens) and ``__MACOSX/`` folders (left by zip on a Mac)
are skipped at every depth: they hold copies of real images, and a copy on the other side of a
split is leakage. :func:`list_images` counts what it skipped, so the audit can report it.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

#: File extensions the folder readers treat as images (others are counted as skipped).
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif"})

#: Folder names skipped at every depth, besides hidden ones.
SKIPPED_FOLDERS = frozenset({"__MACOSX"})


class UnreadableImageError(ValueError):
    """An image file that cannot be decoded (corrupt, truncated, too large or not an image)."""


@dataclass
class Listing:
    """What :func:`list_images` found under a folder.

    Attributes:
        images: Image files, sorted by path.
        hidden: Files skipped because they, or a folder above them, are hidden (or ``__MACOSX``).
        unsupported: Visible files whose extension is not in :data:`IMAGE_EXTENSIONS`.
    """

    images: list[Path] = field(default_factory=list)
    hidden: list[Path] = field(default_factory=list)
    unsupported: list[Path] = field(default_factory=list)


def is_hidden(name: str) -> bool:
    """Whether a file or folder name is skipped: hidden (``.name``) or ``__MACOSX``.

    >>> is_hidden(".ipynb_checkpoints"), is_hidden("__MACOSX"), is_hidden("glioma")
    (True, True, False)
    """
    return name.startswith(".") or name in SKIPPED_FOLDERS


def list_images(folder: str | os.PathLike) -> Listing:
    """List the image files under ``folder`` (at any depth), skipping hidden files and folders.

    Args:
        folder: A folder.

    Returns:
        A :class:`Listing`; the skipped files are counted, not read. A missing folder gives an
        empty listing.
    """
    listing = Listing()
    for top, dirs, files in os.walk(folder):
        top_path = Path(top)
        for name in dirs:
            if is_hidden(name):
                listing.hidden += [top_path / name / f for f in _all_files(top_path / name)]
        dirs[:] = sorted(d for d in dirs if not is_hidden(d))
        for name in files:
            path = top_path / name
            if is_hidden(name):
                listing.hidden.append(path)
            elif path.suffix.lower() in IMAGE_EXTENSIONS:
                listing.images.append(path)
            else:
                listing.unsupported.append(path)
    for paths in (listing.images, listing.hidden, listing.unsupported):
        paths.sort()
    return listing


def _all_files(folder: Path) -> list[Path]:
    return [Path(top).relative_to(folder) / f for top, _, files in os.walk(folder) for f in files]


def scale_to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale any numeric array to uint8 by its own min and max (a constant image gives zeros).

    >>> scale_to_uint8(np.array([[10, 20, 30]], dtype=np.uint16)).tolist()
    [[0, 128, 255]]
    """
    array = np.asarray(array, dtype=np.float64)
    low, high = float(array.min()), float(array.max())
    if high <= low:
        return np.zeros(array.shape, dtype=np.uint8)
    return np.round((array - low) * (255.0 / (high - low))).astype(np.uint8)


def as_uint8(image: np.ndarray) -> np.ndarray:
    """A slice as ``uint8``: floats are read as ``[0, 1]``, integers clipped to ``[0, 255]``.

    >>> as_uint8(np.array([[0.0, 0.5, 2.0]])).tolist()
    [[0, 128, 255]]
    """
    if image.dtype == np.uint8:
        return image
    if np.issubdtype(image.dtype, np.floating):
        return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return np.clip(image, 0, 255).astype(np.uint8)


def read_figshare_mat(path: str | os.PathLike) -> dict:
    """Read one figshare ``.mat`` (MATLAB v7.3, HDF5) file of Cheng et al.

    Args:
        path: The ``.mat`` file with a ``cjdata`` group.

    Returns:
        A dict with ``image`` (H, W) as stored (int16/float, rows first), ``label`` (int,
        1 meningioma, 2 glioma, 3 pituitary), ``patient_id`` (str) and ``tumor_mask``
        (H, W) bool.

    Raises:
        UnreadableImageError: If the file is not HDF5 or lacks the ``cjdata`` fields.
    """
    import h5py  # lazy: only figshare files need it, and it is slow to import

    try:
        with h5py.File(path, "r") as f:
            data = f["cjdata"]
            # MATLAB stores columns first; h5py hands the transpose back.
            image = np.asarray(data["image"][()]).T
            label = int(np.asarray(data["label"][()]).ravel()[0])
            pid_codes = np.asarray(data["PID"][()]).ravel()
            mask = np.asarray(data["tumorMask"][()]).T.astype(bool)
    except (OSError, KeyError, IndexError, TypeError, ValueError) as error:
        raise UnreadableImageError(
            f"Cannot read {str(path)!r} as a figshare .mat file (MATLAB v7.3 with cjdata/image, "
            f"cjdata/label, cjdata/PID, cjdata/tumorMask): {error}"
        ) from error
    patient_id = "".join(chr(int(code)) for code in pid_codes if int(code) > 0)
    return {"image": image, "label": label, "patient_id": patient_id, "tumor_mask": mask}


def open_image(path: str | os.PathLike) -> Image.Image:
    """Open and decode an image file with PIL, turning every failure into one clear error.

    Args:
        path: An image file.

    Returns:
        The loaded ``PIL.Image`` (the file is closed).

    Raises:
        UnreadableImageError: If the file is corrupt, truncated, not an image, or larger than
            PIL's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``).
    """
    try:
        with warnings.catch_warnings():
            # Between one and two times the limit PIL only warns; treat it as the error it is
            # at twice the limit, so a huge file never silently eats the memory.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                return img.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UnreadableImageError(
            f"Image {str(path)!r} is too large to open safely ({error}). MRI slices are far "
            "smaller; if you trust the file, raise PIL.Image.MAX_IMAGE_PIXELS before loading it."
        ) from error
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise UnreadableImageError(
            f"Cannot read image {str(path)!r} (corrupt, truncated or not an image): {error}"
        ) from error


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Load any image file as a grayscale uint8 array.

    Handles 8-bit grayscale, RGB, RGBA (alpha dropped), palette and 1-bit images (converted
    with ITU-R 601 luma), 16-bit and float images (scaled by their own min and max to 0..255; a
    constant image gives zeros) and figshare ``.mat`` files (``cjdata/image``, scaled the same
    way).

    Args:
        path: An image file (PNG, JPEG, BMP, TIFF, GIF) or a figshare ``.mat`` file.

    Returns:
        (H, W) uint8 array.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        UnreadableImageError: If the file is corrupt, truncated, too large or not an image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No image file at {str(path)!r}")
    if path.suffix.lower() == ".mat":
        return scale_to_uint8(read_figshare_mat(path)["image"])
    return to_gray_uint8(open_image(path))


def to_gray_uint8(img: Image.Image) -> np.ndarray:
    """A loaded PIL image as (H, W) uint8 grayscale, converted as :func:`load_image` says."""
    if img.mode == "L":
        return np.array(img, dtype=np.uint8)
    if img.mode.startswith(("I", "F")):
        return scale_to_uint8(np.array(img))
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")
    return np.array(img.convert("L"), dtype=np.uint8)
