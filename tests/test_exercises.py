"""The exercise generator, and that exercises/ matches solutions/."""

import json
import re

import pytest

from course_lib import exercises
from course_lib.config import REPO_ROOT

SOLUTION_CELL = """def crop(image):
    # Hint: slice the middle
    ### BEGIN SOLUTION
    return image[1:-1, 1:-1]
    ### END SOLUTION"""

TEST_CELL = """l00.check_crop(crop)
### BEGIN HIDDEN TESTS
assert crop is not None
### END HIDDEN TESTS"""

HEADING = "## Exercise 1 · Crop\n*2 points · about 5 minutes · assesses: slicing*\n\nDo it."
WRITTEN = "**Your answer (3 points):**\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"


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


def test_stub_replaces_region_at_its_indent_keeps_hints_and_drops_hidden_tests():
    assert exercises.stub_source(SOLUTION_CELL).splitlines() == [
        "def crop(image):",
        "    # Hint: slice the middle",
        '    raise NotImplementedError("not answered yet")',
    ]
    assert exercises.stub_source(TEST_CELL) == "l00.check_crop(crop)"


def test_markdown_answer_becomes_placeholder():
    out = exercises.stub_source("Q?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", markdown=True)
    assert out == "Q?\n*Your answer here.*"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
        ("### BEGIN SOLUTION\n# HINT: use 2\nx = 2\n### END SOLUTION", "move it above"),
    ],
)
def test_unpaired_markers_and_hints_inside_a_region_raise(source, message):
    with pytest.raises(exercises.MarkerError, match=message):
        exercises.stub_source(source, where="nb, cell 2")


def test_annotate_gives_each_kind_of_cell_its_nbgrader_metadata():
    solution = notebook(
        ("markdown", "# Title"),
        ("markdown", HEADING),
        ("code", SOLUTION_CELL),
        ("code", TEST_CELL),
        ("code", "plot(crop(x))"),
        ("markdown", HEADING.replace("1 · Crop", "2 · Why").replace("2 points", "3 points")),
        ("markdown", WRITTEN),
    )
    before = json.dumps(solution)
    annotated, found = exercises.annotate(solution, name="00_a.ipynb")
    assert json.dumps(solution) == before
    meta = [c["metadata"]["nbgrader"] for c in annotated["cells"]]
    kinds = [(m["solution"], m["grade"], m["locked"], m.get("points")) for m in meta]
    assert kinds == [
        (False, False, True, None),
        (False, False, True, None),
        (True, False, False, None),
        (False, True, True, 2),
        (False, False, True, None),
        (False, False, True, None),
        (True, True, False, 3),
    ]
    assert [m["grade_id"] for m in meta][2:4] == ["crop", "check-crop"]
    assert meta[6]["grade_id"] == "answer-why"
    assert all(m["schema_version"] == 3 for m in meta)
    assert [(e.title, e.points, e.minutes, e.graded) for e in found] == [
        ("Exercise 1 · Crop", 2, 5, "auto"),
        ("Exercise 2 · Why", 3, 5, "manual"),
    ]


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([("code", SOLUTION_CELL)], "before the first exercise heading"),
        ([("code", TEST_CELL)], "before the first exercise heading"),
        ([("markdown", HEADING), ("code", SOLUTION_CELL)], "has no graded cell"),
        ([("markdown", HEADING), ("code", TEST_CELL)], "a check before the exercise's answer"),
        (
            [
                ("markdown", HEADING),
                ("code", SOLUTION_CELL),
                ("code", TEST_CELL),
                ("code", TEST_CELL),
            ],
            "two graded cells",
        ),
        (
            [
                ("markdown", HEADING),
                ("code", SOLUTION_CELL),
                ("markdown", WRITTEN),
                ("code", TEST_CELL),
            ],
            "two graded cells",
        ),
        (
            [("markdown", HEADING), ("code", SOLUTION_CELL), ("code", SOLUTION_CELL)],
            "grade id 'crop' is used twice",
        ),
    ],
)
def test_annotate_refuses_a_wrong_layout(cells, message):
    with pytest.raises(exercises.MarkerError, match=message):
        exercises.annotate(notebook(*cells), name="nb")


def test_annotate_refuses_a_notebook_without_exercises():
    with pytest.raises(ValueError, match="no exercise"):
        exercises.annotate(notebook(("code", "x = 1")), name="lesson.ipynb")


def exercise_notebook():
    return notebook(
        ("markdown", "[![Open](x)](https://colab/github/o/r/blob/main/solutions/00_a.ipynb)"),
        ("markdown", HEADING),
        ("code", SOLUTION_CELL),
        ("code", TEST_CELL),
    )


def test_make_exercise_stubs_clears_locks_rewrites_links_and_keeps_input():
    solution = exercise_notebook()
    before = json.dumps(solution)
    out = exercises.make_exercise(solution)
    assert json.dumps(solution) == before
    assert "/exercises/00_a.ipynb" in out["cells"][0]["source"]
    answer, test = out["cells"][2], out["cells"][3]
    assert answer["outputs"] == [] and answer["execution_count"] is None
    assert exercises.CODE_STUB in answer["source"] and "# Hint: slice" in answer["source"]
    assert answer["metadata"]["deletable"] is False and "editable" not in answer["metadata"]
    assert test["metadata"]["editable"] is False and "HIDDEN" not in test["source"]


def test_generate_writes_then_check_reports_stale_and_orphans(tmp_path):
    solutions, out = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    (solutions / "00_a.ipynb").write_text(json.dumps(exercise_notebook()))
    assert exercises.generate(solutions, out) == [solutions / "00_a.ipynb", out / "00_a.ipynb"]
    assert "nbgrader" in (solutions / "00_a.ipynb").read_text()
    assert exercises.generate(solutions, out, check=True) == []
    assert exercises.generate(solutions, out) == []
    (out / "00_a.ipynb").write_text("{}")
    (out / "99_old.ipynb").write_text("{}")
    assert exercises.generate(solutions, out, check=True) == [
        out / "00_a.ipynb",
        out / "99_old.ipynb",
    ]
    assert (out / "00_a.ipynb").read_text() == "{}"
    assert exercises.generate(solutions, out, lessons=["00"], check=True) == [out / "00_a.ipynb"]
    with pytest.raises(FileNotFoundError, match="No solution notebooks"):
        exercises.generate(solutions, out, lessons=["01"])


def test_generate_writes_the_exercise_table_into_the_guide(tmp_path):
    solutions, guide = tmp_path / "solutions", tmp_path / "GUIDE.md"
    solutions.mkdir()
    (solutions / "00_a.ipynb").write_text(json.dumps(exercise_notebook()))
    guide.write_text(f"# Guide\n{exercises.TABLE_BEGIN}\nold\n{exercises.TABLE_END}\nend\n")
    exercises.generate(solutions, tmp_path / "e", guide=guide)
    text = guide.read_text()
    assert "old" not in text and text.endswith("end\n")
    assert "| 00_a | Exercise 1 · Crop | auto (`check-crop`) | 2 | 5 | slicing |" in text
    guide.write_text("no markers")
    with pytest.raises(exercises.MarkerError, match="lacks the lines"):
        exercises.generate(solutions, tmp_path / "e", guide=guide)
    with pytest.raises(FileNotFoundError, match="No instructor guide"):
        exercises.generate(solutions, tmp_path / "e", guide=tmp_path / "none.md")


def test_nbgrader_course_lays_out_source_and_never_overwrites(tmp_path):
    solutions, course = tmp_path / "solutions", tmp_path / "course"
    solutions.mkdir()
    (solutions / "00_a.ipynb").write_text(json.dumps(exercise_notebook()))
    written = exercises.nbgrader_course(course, solutions)
    target = course / "source" / "lesson00" / "00_a.ipynb"
    assert written == [course / "nbgrader_config.py", target]
    assert "/exercises/00_a.ipynb" in target.read_text()
    config = (course / "nbgrader_config.py").read_text()
    assert exercises.CODE_STUB in config and exercises.MARKDOWN_STUB in config
    assert exercises.nbgrader_course(course, solutions) == []
    target.write_text("{}")
    with pytest.raises(FileExistsError, match="move it away"):
        exercises.nbgrader_course(course, solutions)
    assert target.read_text() == "{}"
    with pytest.raises(FileNotFoundError, match="No solution notebooks for lessons"):
        exercises.nbgrader_course(course, solutions, lessons=["07"])


def test_generate_needs_solutions(tmp_path):
    with pytest.raises(FileNotFoundError, match="No solution notebooks"):
        exercises.generate(tmp_path, tmp_path / "out")


def test_main_check_exit_codes(tmp_path, capsys):
    solutions, out = tmp_path / "s", tmp_path / "e"
    solutions.mkdir()
    (solutions / "01_b.ipynb").write_text(json.dumps(exercise_notebook()))
    args = ["--solutions", str(solutions), "--exercises", str(out)]
    assert exercises.main([*args, "--check"]) == 1
    assert "make exercises" in capsys.readouterr().out
    assert exercises.main(args) == 0
    assert exercises.main([*args, "--check"]) == 0


def test_repository_exercises_are_up_to_date():
    stale = exercises.generate(REPO_ROOT / "solutions", REPO_ROOT / "exercises", check=True)
    assert stale == [], "exercises/ is stale: run `make exercises`"


def test_repository_exercise_table_is_up_to_date():
    assert exercises.generate(guide=exercises.GUIDE, check=True) == []


#: A hint that holds code: a call with two or more arguments or a keyword, or an assignment.
CODE_IN_HINT = re.compile(r"\w\([^)]*,[^)]*\)|\w\(\w+=|\s=\s")


def test_every_answer_has_a_hint_that_is_not_code():
    for path in sorted((REPO_ROOT / "exercises").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        answers = [c for c in cells if c["metadata"]["nbgrader"]["solution"]]
        code = [c for c in answers if c["cell_type"] == "code"]
        assert len(code) >= 2, f"{path.name} has fewer than two coded exercises"
        assert len(answers) > len(code), f"{path.name} has no written exercise"
        for cell in code:
            hints = [ln for ln in cell["source"].split("\n") if ln.strip().startswith("# Hint:")]
            assert hints, f"{path.name}: {cell['metadata']['nbgrader']['grade_id']} has no hint"
            for line in hints:
                assert not CODE_IN_HINT.search(line), f"{path.name}: code in a hint: {line}"


def test_main_reports_errors_on_one_line(tmp_path, capsys):
    assert exercises.main(["--solutions", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No solution notebooks") and err.count("\n") == 1
    broken = tmp_path / "solutions"
    broken.mkdir()
    (broken / "00_x.ipynb").write_text("{not json")
    assert exercises.main(["--solutions", str(broken), "--exercises", str(tmp_path / "ex")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_main_lays_out_an_nbgrader_course_and_refuses_to_overwrite(tmp_path, capsys):
    solutions = tmp_path / "s"
    solutions.mkdir()
    (solutions / "00_a.ipynb").write_text(json.dumps(exercise_notebook()))
    args = ["--solutions", str(solutions), "--nbgrader-course", str(tmp_path / "c")]
    assert exercises.main(args) == 0
    assert "generate_assignment lesson00" in capsys.readouterr().out
    (tmp_path / "c" / "nbgrader_config.py").write_text("mine")
    assert exercises.main(args) == 2
    err = capsys.readouterr().err
    assert "move it away" in err and err.count("\n") == 1
    assert (tmp_path / "c" / "nbgrader_config.py").read_text() == "mine"
