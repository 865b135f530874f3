"""Hygiene of every notebook: clean, well-formed, and opening the way the course promises."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from course_lib.colab import colab_url, setup_cell_source
from course_lib.config import REPO_ROOT

FOLDERS = ("notebooks", "solutions", "exercises")
NOTEBOOKS = sorted(p for folder in FOLDERS for p in (REPO_ROOT / folder).glob("*.ipynb"))
IDS = [p.relative_to(REPO_ROOT).as_posix() for p in NOTEBOOKS]
CUDA_LITERAL = re.compile(r"""["']cuda(:\d+)?["']""")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    text = cell["source"]
    return "".join(text) if isinstance(text, list) else text


def test_there_are_lessons_and_solutions():
    names = {p.name for p in NOTEBOOKS if p.parent.name == "notebooks"}
    assert "00_welcome.ipynb" in names
    solutions = {p.name for p in NOTEBOOKS if p.parent.name == "solutions"}
    assert solutions <= names, "every exercise notebook belongs to a lesson of the same name"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_valid_nbformat_and_python3_kernel(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs(path):
    for index, cell in enumerate(cells(path)):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {index} has outputs"
            assert cell["execution_count"] is None, f"cell {index} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_opens_with_setup_cell_title_badge_and_objectives(path):
    first, title = cells(path)[:2]
    assert first["cell_type"] == "code" and source(first) == setup_cell_source()
    heading = source(title)
    assert title["cell_type"] == "markdown" and heading.startswith("# ")
    assert f"({colab_url(path.relative_to(REPO_ROOT).as_posix())})" in heading
    text = "\n".join(source(c) for c in cells(path) if c["cell_type"] == "markdown")
    assert "Learning objectives" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_literal_cuda_device(path):
    for index, cell in enumerate(cells(path)):
        if cell["cell_type"] == "code":
            assert not CUDA_LITERAL.search(source(cell)), f"cell {index} names the 'cuda' device"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.parent.name == "notebooks"])
def test_lessons_end_with_questions_and_point_to_their_exercises(path):
    text = "\n".join(source(c) for c in cells(path) if c["cell_type"] == "markdown")
    assert "Check your understanding" in text
    if (REPO_ROOT / "solutions" / path.name).exists():
        assert f"exercises/{path.name}" in text


def test_readme_has_a_colab_badge_for_every_lesson():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        if path.parent.name in ("notebooks", "exercises"):
            assert colab_url(path.relative_to(REPO_ROOT).as_posix()) in readme, path.name


def test_cuda_pattern_catches_device_strings():
    assert CUDA_LITERAL.search('x.to("cuda")') and CUDA_LITERAL.search("device='cuda:0'")
    assert not CUDA_LITERAL.search("torch.cuda.is_available()")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_relative_links_point_to_files_that_exist(path):
    for cell in cells(path):
        if cell["cell_type"] != "markdown":
            continue
        for link in re.findall(r"\]\(([^)\s]+)\)", source(cell)):
            if link.startswith(("http://", "https://", "#", "mailto:")):
                continue
            assert (path.parent / link.split("#")[0]).exists(), f"broken link {link}"
