"""`make lab` serves JupyterLab on the lessons, as root too: start it, fetch, stop it."""

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from course_lib import lab
from course_lib.config import REPO_ROOT
from course_lib.lab import lab_command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_lab_command_allows_root_only_for_root():
    assert "--allow-root" in lab_command(euid=0)
    assert "--allow-root" not in lab_command(euid=1000)
    command = lab_command(["--no-browser"], root="/course", euid=1000)
    assert "--ServerApp.root_dir=/course" in command and command[-1] == "--no-browser"
    assert "--LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb" in command


def test_make_lab_runs_the_launcher():
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "-m course_lib.lab $(LAB_ARGS)" in recipe
    assert "TORCH=cpu" in makefile and "about 3 GB of" in makefile  # says what it installs


def test_lab_without_jupyterlab_says_how_to_get_it(monkeypatch, capsys):
    monkeypatch.setattr(lab.importlib.util, "find_spec", lambda name: None)
    assert lab.main([]) == 2
    assert "pip install 'course-lib[lab]'" in capsys.readouterr().err


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.slow
def test_jupyterlab_serves_the_lessons_and_opens_lesson_00(tmp_path):
    port, token = free_port(), "course-test"
    command = lab_command(
        [
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
        ]
    )
    assert ("--allow-root" in command) == (os.geteuid() == 0)  # CI and containers run as root
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
    }
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        page = None
        for _ in range(120):
            if server.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{base}/lab?token={token}", timeout=5) as response:
                    page = response.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert page is not None, (tmp_path / "lab.log").read_text()[-2000:]
        assert "JupyterLab" in page
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(f"{base}/?token={token}", timeout=5)
        location = redirect.value.headers["Location"].split("?")[0]
        redirect.value.close()  # it holds the connection
        assert location.endswith("/lab/tree/notebooks/00_welcome.ipynb")
        api = f"{base}/api/contents/notebooks?token={token}"
        with urllib.request.urlopen(api, timeout=5) as response:
            listing = response.read().decode()
        assert "00_welcome.ipynb" in listing
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
