"""Download the public brain-MRI datasets, verify what arrived, and fail fast offline.

Kaggle sets go through ``kagglehub`` (Kaggle credentials may be needed), the figshare set of
Cheng et al. through its public URL. Connectivity is checked first, so without a network
:func:`download` fails within seconds with instructions for placing the files by hand.
Command line: ``course-data download kaggle|figshare|br35h [--dest DIR]``.
"""

from __future__ import annotations

import os
import socket
import threading
import warnings
import zipfile
from pathlib import Path

import pandas as pd

from course_lib.config import CLASS_NAMES, data_dir
from course_lib.datasets.readers import (
    BINARY_CLASSES,
    FIGSHARE_LABELS,
    DatasetLayoutError,
    read_dataset,
)

DOWNLOADS = {
    "kaggle": {
        "kaggle": "masoudnickparvar/brain-tumor-mri-dataset",
        "host": "www.kaggle.com",
        "url": "https://www.kaggle.com/datasets/masoudnickparvar/brain-tumor-mri-dataset",
        "counts": {"train": 5712, "test": 1311},
    },
    "figshare": {
        "url": "https://figshare.com/ndownloader/articles/1512427/versions/5",
        "host": "figshare.com",
        "counts": {None: 3064},
    },
    "br35h": {
        "kaggle": "ahmedhamada0/brain-tumor-detection",
        "host": "www.kaggle.com",
        "url": "https://www.kaggle.com/datasets/ahmedhamada0/brain-tumor-detection",
        "counts": {None: 3000},
    },
}


class DownloadError(RuntimeError):
    """A download that could not be done (offline, refused, or not what was expected)."""


def _online(host: str, timeout: float) -> bool:
    """Whether ``host:443`` answers within ``timeout`` seconds, name lookup included.

    The probe runs in a daemon thread because a DNS lookup ignores socket timeouts and can hang.
    """
    answers: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                answers.append(True)
        except OSError:
            answers.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answers and answers[0])


def _manual_help(name: str, dest: Path) -> str:
    info = DOWNLOADS[name]
    layout = {
        "kaggle": "Training/ and Testing/ folders of glioma, meningioma, notumor, pituitary",
        "figshare": "the .mat files (unzip every brainTumorDataPublic_*.zip inside)",
        "br35h": "yes/ and no/ folders",
    }[name]
    return (
        f"Download it by hand from {info['url']} on a machine with internet, and unpack it so "
        f"that {str(dest)!r} holds {layout}; then read it with read_{name}({str(dest)!r})."
    )


def verify_download(name: str, root: str | os.PathLike) -> pd.DataFrame:
    """Check that a downloaded dataset has its folders, classes and published counts.

    Args:
        name: ``"kaggle"``, ``"figshare"`` or ``"br35h"``.
        root: Where it was unpacked.

    Returns:
        Its index. Counts that differ from the published ones give a warning, not an error.

    Raises:
        ValueError: If ``name`` is unknown.
        DatasetLayoutError: If the layout is wrong or a class is missing.
    """
    if name not in DOWNLOADS:
        raise ValueError(f"name must be one of {sorted(DOWNLOADS)}, got {name!r}")
    frame = read_dataset(name, root)
    expected = {
        "kaggle": set(CLASS_NAMES),
        "br35h": set(BINARY_CLASSES),
        "figshare": set(FIGSHARE_LABELS.values()),
    }[name]
    missing = expected - set(frame["class_name"])
    if missing:
        raise DatasetLayoutError(f"{name} at {str(root)!r} lacks classes {sorted(missing)}.")
    differences = []
    for split, count in DOWNLOADS[name]["counts"].items():
        found = int((frame["split"] == split).sum()) if split else len(frame)
        if found != count:
            where = f" in {split}" if split else ""
            differences.append(f"expected {count} images{where}, found {found}")
    if differences:
        warnings.warn(
            f"{name} at {str(root)!r}: " + "; ".join(differences) + " (another version?)",
            UserWarning,
            stacklevel=2,
        )
    return frame


def download(name: str, dest: str | os.PathLike | None = None, *, timeout: float = 5.0) -> Path:
    """Download a public dataset, unpack it under ``dest`` and verify it.

    Kaggle sets go through ``kagglehub`` (Kaggle credentials may be needed), figshare through
    its public URL. Connectivity is checked first, so offline this fails within ``timeout``
    seconds with instructions for doing it by hand.

    Args:
        name: ``"kaggle"``, ``"figshare"`` or ``"br35h"``.
        dest: Target folder (default ``data_dir() / name``).
        timeout: Seconds to wait for the network.

    Returns:
        The folder holding the verified dataset.

    Raises:
        ValueError: If ``name`` is unknown.
        DownloadError: If offline or the download fails.
    """
    if name not in DOWNLOADS:
        raise ValueError(f"name must be one of {sorted(DOWNLOADS)}, got {name!r}")
    dest = data_dir() / name if dest is None else Path(dest)
    info = DOWNLOADS[name]
    if not _online(info["host"], timeout):
        raise DownloadError(
            f"Cannot reach {info['host']} within {timeout:g} s (offline?). "
            + _manual_help(name, dest)
        )
    try:
        if "kaggle" in info:
            import kagglehub

            dest.mkdir(parents=True, exist_ok=True)
            kagglehub.dataset_download(info["kaggle"], output_dir=str(dest))
        else:
            _download_figshare(info["url"], dest, timeout)
    except Exception as error:  # noqa: BLE001 - any failure gets the manual instructions
        raise DownloadError(
            f"Download of {name} failed: {error}. " + _manual_help(name, dest)
        ) from error
    verify_download(name, dest)
    return dest


def _download_figshare(url: str, dest: Path, timeout: float) -> None:
    import requests

    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "figshare.zip"
    with requests.get(url, stream=True, timeout=timeout) as response:
        response.raise_for_status()
        with open(archive, "wb") as f:
            for chunk in response.iter_content(1 << 20):
                f.write(chunk)
    with zipfile.ZipFile(archive) as z:
        z.extractall(dest)
    for inner in sorted(dest.glob("*.zip")):
        if inner != archive:
            with zipfile.ZipFile(inner) as z:
                z.extractall(dest / inner.stem)
            inner.unlink()
    archive.unlink()
