"""course_lib.datasets.downloads: verified downloads that fail fast offline."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import socket
import threading
import time
import zipfile
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
        (dest / "half.mat").write_bytes(b"partial")
        raise ConnectionError("reset by peer")

    monkeypatch.setattr(downloads, "_download_figshare", broken)
    with pytest.raises(DownloadError, match="reset by peer.*by hand"):
        downloads.download("figshare", tmp_path / "fs")
    assert list(tmp_path.iterdir()) == []  # the staging folder is gone


def test_download_kaggle_verifies_what_arrived(tmp_path, monkeypatch):
    import kagglehub

    monkeypatch.setattr(downloads, "_online", lambda host, timeout: True)
    handles = []

    def fake_download(handle, path=None, *, force_download=False, output_dir=None):
        handles.append(handle)
        kaggle_tree(Path(output_dir) / "nested", n=1)
        return output_dir

    monkeypatch.setattr(kagglehub, "dataset_download", fake_download)
    (tmp_path / "k").mkdir()  # an empty folder is fine
    with pytest.warns(UserWarning, match="expected 5712 images in train, found 4"):
        out = downloads.download("kaggle", tmp_path / "k")
    assert out == tmp_path / "k"
    assert (out / "nested" / "Training").is_dir()
    assert handles == ["masoudnickparvar/brain-tumor-mri-dataset"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k"]


def test_download_kaggle_that_is_not_the_dataset(tmp_path, monkeypatch):
    import kagglehub

    monkeypatch.setattr(downloads, "_online", lambda host, timeout: True)

    def wrong(handle, path=None, *, force_download=False, output_dir=None):
        make_tree(Path(output_dir), {"cats": 2})
        return output_dir

    monkeypatch.setattr(kagglehub, "dataset_download", wrong)
    with pytest.raises(DownloadError, match="not the dataset"):
        downloads.download("kaggle", tmp_path / "k")
    assert list(tmp_path.iterdir()) == []


class _Server:
    """A local HTTP server for a fake figshare: the API's JSON and the files it lists."""

    def __init__(self, routes: dict[str, bytes]):
        routes_ = routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server calls
                body = routes_.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def figshare(tmp_path, monkeypatch):
    """A fake figshare article with the real file names, three .mat slices in the first zip."""
    parts = tmp_path / "parts"
    mats = {
        f"{i + 1}.mat": make_mat(parts / f"{i + 1}.mat", blob(i), label, f"P{i}").read_bytes()
        for i, label in enumerate((1, 2, 3))
    }
    names = downloads.DOWNLOADS["figshare"]["files"]
    content = {name: _zip(mats if i == 0 else {}) for i, name in enumerate(names[:4])}
    content["cvind.mat"], content["README.txt"] = b"cv indices", b"figshare brain tumour set"
    routes, files = {}, []
    for i, (name, data) in enumerate(content.items()):
        routes[f"/files/{i}"] = data
        files.append({"name": name, "size": len(data), "computed_md5": _md5(data)})
    server = _Server(routes)
    for i, entry in enumerate(files):
        entry["download_url"] = f"{server.url}/files/{i}"
    article = {"files": files}
    routes["/api"] = json.dumps(article).encode()
    monkeypatch.setitem(downloads.DOWNLOADS["figshare"], "api", f"{server.url}/api")
    monkeypatch.setattr(downloads, "_online", lambda host, timeout: True)
    yield {"routes": routes, "article": article, "server": server}
    server.close()


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _publish(figshare, article):
    figshare["routes"]["/api"] = json.dumps(article).encode()


def test_download_figshare_verifies_each_file_and_moves_the_set_in(tmp_path, figshare):
    with pytest.warns(UserWarning, match="expected 3064 images, found 3"):
        out = downloads.download("figshare", tmp_path / "fs")
    assert out == tmp_path / "fs"
    assert sorted(p.name for p in out.iterdir()) == [
        ".course-download.json",
        "README.txt",
        "brainTumorDataPublic_1-766",
        "brainTumorDataPublic_1533-2298",
        "brainTumorDataPublic_2299-3064",
        "brainTumorDataPublic_767-1532",
        "cvind.mat",
    ]
    assert len(read_figshare(out)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fs", "parts"]  # no staging left
    assert downloads.download("figshare", out) == out  # finished: returned without a download


@pytest.mark.parametrize(
    ("change", "message"),
    [({"computed_md5": "0" * 32}, "MD5 .* differs"), ({"size": 10**9}, "got .* bytes")],
)
def test_download_figshare_refuses_a_file_that_is_not_what_was_published(
    tmp_path, figshare, change, message
):
    article = json.loads(figshare["routes"]["/api"])
    article["files"][1].update(change)
    _publish(figshare, article)
    with pytest.raises(DownloadError, match=message):
        downloads.download("figshare", tmp_path / "fs")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parts"]  # nothing created, nothing left


def test_download_figshare_refuses_a_zip_that_escapes_its_folder(tmp_path, figshare):
    evil = _zip({"../../escaped.txt": b"x"})
    article = json.loads(figshare["routes"]["/api"])
    figshare["routes"]["/files/0"] = evil
    article["files"][0].update(size=len(evil), computed_md5=_md5(evil))
    _publish(figshare, article)
    with pytest.raises(DownloadError, match="unsafe path"):
        downloads.download("figshare", tmp_path / "deep" / "fs")
    assert not list(tmp_path.rglob("escaped.txt"))


def test_download_figshare_says_when_the_article_changed(tmp_path, figshare):
    article = json.loads(figshare["routes"]["/api"])
    article["files"] = article["files"][1:]
    _publish(figshare, article)
    with pytest.raises(DownloadError, match="no longer lists"):
        downloads.download("figshare", tmp_path / "fs")


def test_download_never_writes_into_a_folder_that_holds_the_users_files(tmp_path, figshare):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "my_scans.zip").write_bytes(b"keep me")
    (dest / "figshare.zip").write_bytes(b"mine too")
    with pytest.raises(FileExistsError, match="already holds files"):
        downloads.download("figshare", dest)
    assert sorted(p.name for p in dest.iterdir()) == ["figshare.zip", "my_scans.zip"]
    assert (dest / "my_scans.zip").read_bytes() == b"keep me"


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
