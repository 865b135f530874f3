"""Download the public brain-MRI datasets, verify what arrived, and fail fast offline.

Kaggle sets go through ``kagglehub`` (Kaggle credentials may be needed), the figshare set of
Cheng et al. through figshare's public API, which publishes each file's size and MD5. Connectivity
is checked first, so without a network :func:`download` fails within seconds with instructions
for placing the files by hand.

Nothing the course did not create is touched: everything is downloaded and unpacked in a
temporary folder beside ``dest`` (each file under a temporary name until its size and checksum
are verified), the dataset is checked, and only then is the folder moved to ``dest`` in one
rename. ``dest`` must be new or empty; a finished download there (it holds
``.course-download.json``) is returned as it is.
Command line: ``course-data download kaggle|figshare|br35h [--dest DIR]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import threading
import warnings
import zipfile
from pathlib import Path, PurePosixPath

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
        "url": "https://figshare.com/articles/dataset/brain_tumor_dataset/1512427/5",
        "api": "https://api.figshare.com/v2/articles/1512427/versions/5",
        "host": "api.figshare.com",
        "counts": {None: 3064},
        # what the article holds: four zips of .mat files, the cross-validation indices, a README
        "files": (
            "brainTumorDataPublic_1-766.zip",
            "brainTumorDataPublic_767-1532.zip",
            "brainTumorDataPublic_1533-2298.zip",
            "brainTumorDataPublic_2299-3064.zip",
            "cvind.mat",
            "README.txt",
        ),
    },
    "br35h": {
        "kaggle": "ahmedhamada0/brain-tumor-detection",
        "host": "www.kaggle.com",
        "url": "https://www.kaggle.com/datasets/ahmedhamada0/brain-tumor-detection",
        "counts": {None: 3000},
    },
}


#: Written last into a finished download; its presence means "complete, made by the course".
MARKER = ".course-download.json"


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
    """Download a public dataset into ``dest``, verify it, and move it there in one step.

    Kaggle sets go through ``kagglehub`` (Kaggle credentials may be needed), figshare through
    its public API (each file's published size and MD5 are checked). Connectivity is checked
    first, so offline this fails within ``timeout`` seconds with instructions for doing it by
    hand. The download happens in a temporary folder beside ``dest``, which is removed on any
    failure; ``dest`` itself is only ever created, never written into.

    Args:
        name: ``"kaggle"``, ``"figshare"`` or ``"br35h"``.
        dest: Target folder, new or empty (default ``data_dir() / name``).
        timeout: Seconds to wait for the network.

    Returns:
        The folder holding the verified dataset.

    Raises:
        ValueError: If ``name`` is unknown.
        FileExistsError: If ``dest`` holds anything but a finished download of ``name``.
        DownloadError: If offline, the download fails, or what arrived is not the dataset.
    """
    if name not in DOWNLOADS:
        raise ValueError(f"name must be one of {sorted(DOWNLOADS)}, got {name!r}")
    dest = data_dir() / name if dest is None else Path(dest)
    if _finished(dest, name):
        return dest
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(
            f"{str(dest)!r} already holds files; the download is only ever moved into a new or "
            "empty folder, so nothing of yours is overwritten. Choose another --dest."
        )
    info = DOWNLOADS[name]
    if not _online(info["host"], timeout):
        raise DownloadError(
            f"Cannot reach {info['host']} within {timeout:g} s (offline?). "
            + _manual_help(name, dest)
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.download-", dir=dest.parent))
    try:
        try:
            if "kaggle" in info:
                import kagglehub  # lazy: 0.6 s to import, and only Kaggle downloads need it

                kagglehub.dataset_download(info["kaggle"], output_dir=str(staging))
            else:
                _download_figshare(info["api"], staging, timeout)
        except DownloadError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure gets the manual instructions
            raise DownloadError(
                f"Download of {name} failed: {error}. " + _manual_help(name, dest)
            ) from error
        try:
            frame = verify_download(name, staging)
        except DatasetLayoutError as error:
            raise DownloadError(
                f"What arrived for {name} is not the dataset ({error}). " + _manual_help(name, dest)
            ) from error
        (staging / MARKER).write_text(json.dumps({"name": name, "images": len(frame)}))
        staging.chmod(0o755)  # mkdtemp makes it private; the dataset is readable by all
        if dest.is_dir():
            dest.rmdir()  # empty, checked above
        os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def _finished(dest: Path, name: str) -> bool:
    marker = dest / MARKER
    try:
        return json.loads(marker.read_text()).get("name") == name
    except (OSError, ValueError):
        return False


def _download_figshare(api_url: str, staging: Path, timeout: float) -> None:
    """Download the figshare article's files into ``staging``, verified, and unpack its zips."""
    import requests  # lazy: only downloads need it

    with requests.get(api_url, timeout=timeout) as response:
        response.raise_for_status()
        article = response.json()
    files = {f.get("name"): f for f in article.get("files", [])}
    expected = DOWNLOADS["figshare"]["files"]
    missing = [n for n in expected if n not in files]
    if missing:
        raise DownloadError(
            f"The figshare article no longer lists {missing} (it lists {sorted(files)}): it may "
            "have a new version. " + _manual_help("figshare", staging)
        )
    for name in expected:
        target = staging / name
        fetch_verified(files[name]["download_url"], target, files[name], timeout)
        if target.suffix == ".zip":
            extract_zip(target, staging / target.stem)
            target.unlink()  # our own download, in our own staging folder


def fetch_verified(url: str, target: Path, published: dict, timeout: float) -> Path:
    """Stream ``url`` to ``target`` through a temporary name; check its size and MD5.

    Args:
        url: Where to download from.
        target: The file to create (it must not exist).
        published: ``{"size": bytes, "computed_md5": hex}`` as the server publishes them
            (a ``supplied_md5`` is used when there is no ``computed_md5``).
        timeout: Seconds to wait for the server.

    Returns:
        ``target``.

    Raises:
        DownloadError: If the size or checksum differs (the partial file is removed).
    """
    import requests  # lazy: only downloads need it

    partial = target.with_name(target.name + ".part")
    digest, size = hashlib.md5(usedforsecurity=False), 0
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            response.raise_for_status()
            with open(partial, "xb") as f:
                for chunk in response.iter_content(1 << 20):
                    f.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        want_md5 = published.get("computed_md5") or published.get("supplied_md5")
        if published.get("size") is not None and size != int(published["size"]):
            raise DownloadError(
                f"{target.name}: got {size} bytes, the server publishes {published['size']} "
                "(an interrupted download?). Run the download again."
            )
        if want_md5 and digest.hexdigest() != want_md5:
            raise DownloadError(
                f"{target.name}: MD5 {digest.hexdigest()} differs from the published {want_md5} "
                "(a damaged download?). Run the download again."
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def extract_zip(archive: Path, into: Path) -> Path:
    """Extract a zip into a new folder, refusing members that would land outside it.

    Raises:
        DownloadError: If the file is not a zip, or a member has an absolute path or ``..``.
    """
    try:
        with zipfile.ZipFile(archive) as z:
            for member in z.namelist():
                path = PurePosixPath(member)
                if path.is_absolute() or ".." in path.parts:
                    raise DownloadError(f"{archive.name} holds an unsafe path {member!r}")
            into.mkdir()
            z.extractall(into)
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{archive.name} is not a zip archive ({error})") from error
    return into
