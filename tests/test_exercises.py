"""The exercise generator, and that exercises/ matches solutions/."""

import json

import pytest

from course_lib import exercises
from course_lib.config import REPO_ROOT

SOLUTION_CELL = """def crop(image):
    ### BEGIN SOLUTION
    # HINT: slice the middle
    # HINT: of both axes.
    return image[1:-1, 1:-1]
    ### END SOLUTION

check_crop(crop)
### BEGIN HIDDEN TESTS
assert crop is not None
### END HIDDEN TESTS"""


def notebook(*cells):
    return {
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": source}
            | (
                {"outputs": [{"output_type": "stream"}], "execution_count": 3}
                if kind == "code"
                else {}
            )
            for kind, source in cells
        ],
        "metadata": {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_stub_replaces_block_keeps_indent_and_joins_hints():
    out = exercises.stub_source(SOLUTION_CELL)
    assert out.splitlines() == [
        "def crop(image):",
        '    raise NotImplementedError("slice the middle of both axes.")',
        "",
        "check_crop(crop)",
    ]


def test_stub_without_hint_uses_default_and_handles_several_blocks():
    block = "### BEGIN SOLUTION\n{}\n### END SOLUTION"
    source = "\n".join([block.format("a = 1"), "b = 2", block.format("c = 3")])
    out = exercises.stub_source(source)
    assert out.count('raise NotImplementedError("Write your answer here.")') == 2
    assert "a = 1" not in out and "c = 3" not in out and "b = 2" in out


def test_markdown_answer_becomes_placeholder():
    out = exercises.stub_source("Q?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", markdown=True)
    assert out == "Q?\n*Your answer here.*"


def test_hint_with_quotes_stays_valid_python():
    out = exercises.stub_source(
        '### BEGIN SOLUTION\n# HINT: use "np.clip"\nx = 1\n### END SOLUTION'
    )
    compile(out, "cell", "exec")
    assert 'use \\"np.clip\\"' in out


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
    ],
)
def test_unpaired_markers_raise(source, message):
    with pytest.raises(exercises.MarkerError, match=message):
        exercises.stub_source(source, where="nb, cell 2")


def test_make_exercise_clears_outputs_rewrites_links_and_keeps_input():
    solution = notebook(
        ("markdown", "[![Open](x)](https://colab/github/o/r/blob/main/solutions/00_a.ipynb)"),
        ("code", SOLUTION_CELL),
    )
    before = json.dumps(solution)
    out = exercises.make_exercise(solution)
    assert json.dumps(solution) == before
    assert "/exercises/00_a.ipynb" in out["cells"][0]["source"]
    code = out["cells"][1]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert "NotImplementedError" in code["source"]


def test_make_exercise_refuses_a_notebook_without_solutions():
    with pytest.raises(ValueError, match="no '### BEGIN SOLUTION'"):
        exercises.make_exercise(notebook(("code", "x = 1")), name="lesson.ipynb")


def test_generate_writes_then_check_reports_stale_and_orphans(tmp_path):
    solutions, out = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    (solutions / "00_a.ipynb").write_text(json.dumps(notebook(("code", SOLUTION_CELL))))
    assert exercises.generate(solutions, out) == [out / "00_a.ipynb"]
    assert exercises.generate(solutions, out, check=True) == []
    assert exercises.generate(solutions, out) == []
    (out / "00_a.ipynb").write_text("{}")
    (out / "99_old.ipynb").write_text("{}")
    assert exercises.generate(solutions, out, check=True) == [
        out / "00_a.ipynb",
        out / "99_old.ipynb",
    ]
    assert (out / "00_a.ipynb").read_text() == "{}"


def test_generate_needs_solutions(tmp_path):
    with pytest.raises(FileNotFoundError, match="No solution notebooks"):
        exercises.generate(tmp_path, tmp_path / "out")


def test_main_check_exit_codes(tmp_path, capsys):
    solutions, out = tmp_path / "s", tmp_path / "e"
    solutions.mkdir()
    (solutions / "01_b.ipynb").write_text(json.dumps(notebook(("code", SOLUTION_CELL))))
    args = ["--solutions", str(solutions), "--exercises", str(out)]
    assert exercises.main([*args, "--check"]) == 1
    assert "make exercises" in capsys.readouterr().out
    assert exercises.main(args) == 0
    assert exercises.main([*args, "--check"]) == 0


def test_repository_exercises_are_up_to_date():
    stale = exercises.generate(REPO_ROOT / "solutions", REPO_ROOT / "exercises", check=True)
    assert stale == [], "exercises/ is stale: run `make exercises`"


def test_every_solution_stub_has_a_real_hint():
    for path in sorted((REPO_ROOT / "exercises").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        stubs = [c["source"] for c in cells if "raise NotImplementedError(" in c["source"]]
        assert len(stubs) >= 2, f"{path.name} has fewer than two exercises"
        for source in stubs:
            assert exercises.DEFAULT_HINT not in source, f"{path.name}: an exercise has no # HINT"


def test_main_reports_errors_on_one_line(tmp_path, capsys):
    assert exercises.main(["--solutions", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No solution notebooks") and err.count("\n") == 1
    broken = tmp_path / "solutions"
    broken.mkdir()
    (broken / "00_x.ipynb").write_text("{not json")
    assert exercises.main(["--solutions", str(broken), "--exercises", str(tmp_path / "ex")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
