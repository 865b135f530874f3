"""course_lib.datasets.downloads: verified downloads that fail fast offline."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from phantoms import blob, kaggle_tree, make_mat, make_tree

from course_lib.datasets import (
    DatasetLayoutError,
    downloads,
    read_figshare,
)
from course_lib.datasets.downloads import DownloadError


@pytest.mark.parametrize("name", ["kaggle", "figshare", "br35h"])
def test_download_offline_fails_fast_with_instructions(tmp_path, offline, name):
    start = time.perf_counter()
    with pytest.raises(DownloadError, match="by hand"):
        downloads.download(name, tmp_path / name)
    assert time.perf_counter() - start < 2


def test_download_does_not_hang_on_a_silent_network(tmp_path, monkeypatch):
    release = threading.Event()

    def hang(*args, **kwargs):  # a DNS lookup that never answers
        release.wait(10)
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.perf_counter()
    try:
        with pytest.raises(DownloadError, match="within 0.3 s"):
            downloads.download("figshare", tmp_path, timeout=0.3)
    finally:
        release.set()
    assert time.perf_counter() - start < 2


def test_download_failure_wrapped(tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "_online", lambda host, timeout: True)

    def broken(url, dest, timeout):
        raise ConnectionError("reset by peer")

    monkeypatch.setattr(downloads, "_download_figshare", broken)
    with pytest.raises(DownloadError, match="reset by peer.*by hand"):
        downloads.download("figshare", tmp_path)


def test_download_kaggle_verifies_what_arrived(tmp_path, monkeypatch):
    import kagglehub

    monkeypatch.setattr(downloads, "_online", lambda host, timeout: True)
    handles = []

    def fake_download(handle, path=None, *, force_download=False, output_dir=None):
        handles.append(handle)
        kaggle_tree(Path(output_dir) / "nested", n=1)
        return output_dir

    monkeypatch.setattr(kagglehub, "dataset_download", fake_download)
    with pytest.warns(UserWarning, match="expected 5712 images in train, found 4"):
        out = downloads.download("kaggle", tmp_path / "k")
    assert out == tmp_path / "k"
    assert handles == ["masoudnickparvar/brain-tumor-mri-dataset"]


def test_download_figshare_unpacks_inner_zips(tmp_path, monkeypatch):
    import io
    import zipfile

    import requests

    parts = tmp_path / "parts"
    for i, label in enumerate((1, 2, 3)):
        make_mat(parts / f"{i + 1}.mat", blob(i), label, f"P{i}")
    inner, outer = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        for mat in sorted(parts.iterdir()):
            z.write(mat, mat.name)
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("brainTumorDataPublic_1-3.zip", inner.getvalue())
        z.writestr("README.txt", "figshare")

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def raise_for_status(self):
            return None

        def iter_content(self, size):
            data = outer.getvalue()
            return [data[k : k + size] for k in range(0, len(data), size)]

    monkeypatch.setattr(downloads, "_online", lambda host, timeout: True)
    monkeypatch.setattr(requests, "get", lambda url, stream, timeout: Response())
    with pytest.warns(UserWarning, match="expected 3064 images, found 3"):
        out = downloads.download("figshare", tmp_path / "fs")
    assert sorted(p.name for p in out.iterdir()) == ["README.txt", "brainTumorDataPublic_1-3"]
    assert len(read_figshare(out)) == 3


def test_download_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        downloads.download("mnist", tmp_path)
    with pytest.raises(ValueError, match="name must be one of"):
        downloads.verify_download("mnist", tmp_path)


def test_verify_download_checks_classes_and_counts(tmp_path):
    make_tree(tmp_path / "only_yes", {"yes": 2, "no": 1})
    with pytest.warns(UserWarning, match="expected 3000 images, found 3"):
        index = downloads.verify_download("br35h", tmp_path / "only_yes")
    assert len(index) == 3
    make_tree(tmp_path / "k", {"glioma": 1})
    make_tree(tmp_path / "k2" / "Training", {"glioma": 1})
    make_tree(tmp_path / "k2" / "Testing", {"glioma": 1})
    with pytest.raises(DatasetLayoutError, match="lacks classes"):
        downloads.verify_download("kaggle", tmp_path / "k2")
