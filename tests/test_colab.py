"""course_lib.colab: the setup cell every notebook opens with, and the badges."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types

import pytest

from course_lib import colab
from course_lib.colab import REPO_VARIABLE, setup_cell_source, write_setup_cells
from course_lib.config import REPO_ROOT


def run_cell(source: str) -> None:
    exec(compile(source, "setup-cell", "exec"), {"__name__": "__main__"})  # noqa: S102


def test_the_setup_cell_does_nothing_outside_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("installed outside Colab"))
    run_cell(setup_cell_source())


@pytest.mark.slow
def test_a_failed_install_on_colab_stops_with_a_clear_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    source = f"file://{tmp_path}/no-such-repo@main"
    monkeypatch.setenv(REPO_VARIABLE, source)  # also shows that the variable is read
    with pytest.raises(SystemExit, match=f"Could not install the course library from {source}"):
        run_cell(setup_cell_source())
    out = capsys.readouterr().out
    assert f"Installing the course library from {source}" in out
    assert "no-such-repo" in out  # pip's own message, shown above the error


def test_the_setup_cell_installs_the_course_repository_by_default():
    source = setup_cell_source()
    assert f'os.environ.get("{REPO_VARIABLE}", "{colab.REPO_URL}@{colab.BRANCH}")' in source
    assert "%pip" not in source  # a magic cannot tell the cell that pip failed
    assert "cuda" not in source.lower()
    with pytest.raises(ValueError, match="REPO_URL"):
        setup_cell_source("https://gitlab.com/me/course")


def test_write_setup_cells_rewrites_every_first_cell_and_the_exercises(tmp_path):
    for folder in ("notebooks", "solutions"):
        (tmp_path / folder).mkdir()
        source = REPO_ROOT / folder / "00_welcome.ipynb"
        notebook = json.loads(source.read_text())
        notebook["cells"][0]["source"] = "%pip install course-lib  # an old setup cell"
        (tmp_path / folder / source.name).write_text(json.dumps(notebook, indent=1) + "\n")
    changed = write_setup_cells(tmp_path)
    assert sorted(p.parent.name for p in changed) == ["notebooks", "solutions"]
    for folder in ("notebooks", "solutions", "exercises"):
        notebook = json.loads((tmp_path / folder / "00_welcome.ipynb").read_text())
        assert notebook["cells"][0]["source"] == setup_cell_source(), folder
    assert write_setup_cells(tmp_path) == []  # nothing left to change


def test_write_setup_cells_needs_a_code_cell_first(tmp_path):
    (tmp_path / "notebooks").mkdir()
    shutil.copy(REPO_ROOT / "notebooks" / "00_welcome.ipynb", tmp_path / "notebooks")
    path = tmp_path / "notebooks" / "00_welcome.ipynb"
    notebook = json.loads(path.read_text())
    notebook["cells"][0]["cell_type"] = "markdown"
    path.write_text(json.dumps(notebook))
    with pytest.raises(ValueError, match="does not start with a code cell"):
        write_setup_cells(tmp_path)


def test_the_repositorys_notebooks_are_current():
    # every lesson, solution and exercise opens with the cell setup_cell_source() gives
    for folder in ("notebooks", "solutions", "exercises"):
        for path in sorted((REPO_ROOT / folder).glob("*.ipynb")):
            first = json.loads(path.read_text())["cells"][0]
            assert first["source"] == setup_cell_source(), f"run make setup-cells ({path.name})"
