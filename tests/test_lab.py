"""`make lab` serves JupyterLab: start the server it starts, fetch /lab, stop it."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from course_lib.config import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_jupyterlab_serves_the_lessons(tmp_path):
    port, token = free_port(), "course-test"
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        "--notebook-dir=.",
        "--ServerApp.open_browser=False",
        "--allow-root",
    ]
    env_home = {"JUPYTER_RUNTIME_DIR": str(tmp_path), "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    server = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env={**os.environ, **env_home},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/lab/tree/notebooks/00_welcome.ipynb?token={token}"
        deadline, page = time.monotonic() + 60, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    page = response.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert page is not None, "JupyterLab did not answer within 60 s"
        assert "JupyterLab" in page
        api = f"http://127.0.0.1:{port}/api/contents/notebooks?token={token}"
        with urllib.request.urlopen(api, timeout=5) as response:
            listing = response.read().decode()
        assert "00_welcome.ipynb" in listing
    finally:
        server.terminate()
        server.wait(timeout=20)
