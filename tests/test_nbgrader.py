"""The instructor's round trip with nbgrader itself: generate, submit, autograde, read the scores.

For each lesson: the solution scores every autograded point, the blank student version (our
``exercises/`` notebook) scores 0, and a partly solved one scores in between. nbgrader's release
must equal ``exercises/`` cell by cell. ``make test`` runs the lessons in ``CI_LESSONS`` (they hold
every kind of exercise cell); ``make grade`` runs every lesson (``NBGRADER_LESSONS=all``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib import exercises
from course_lib.config import REPO_ROOT

nbgrader_api = pytest.importorskip("nbgrader.api", reason="nbgrader is a dev dependency")

#: The lessons CI grades: 00 has every kind of cell (answers, visible and hidden tests, a written
#: answer, read-only code); 06 adds a lesson that trains nothing heavy in its checks.
CI_LESSONS = ("00", "06")
ALL_LESSONS = tuple(p.name[:2] for p in sorted((REPO_ROOT / "solutions").glob("*.ipynb")))
_chosen = os.environ.get("NBGRADER_LESSONS", "")
LESSONS = ALL_LESSONS if _chosen == "all" else tuple(filter(None, _chosen.split(","))) or CI_LESSONS


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stderr[-4000:]}"
    return result


def _text(cell: dict) -> str:
    return "".join(cell["source"])


def _partly_solved(solution: dict, student: dict) -> dict:
    """The student version with only the first answer cell solved."""
    partial = json.loads(json.dumps(student))
    first = next(c for c in solution["cells"] if c["metadata"]["nbgrader"]["solution"])
    for cell in partial["cells"]:
        if cell["metadata"]["nbgrader"]["grade_id"] == first["metadata"]["nbgrader"]["grade_id"]:
            cell["source"] = first["source"]
    return partial


@pytest.mark.nbgrader
@pytest.mark.parametrize("lesson", LESSONS)
def test_nbgrader_round_trip(lesson, tmp_path):
    name = next(p.name for p in (REPO_ROOT / "solutions").glob(f"{lesson}_*.ipynb"))
    assignment = exercises.assignment_name(name)
    course = tmp_path / "course"
    exercises.nbgrader_course(course, lessons=[lesson])
    _nbgrader(course, "generate_assignment", assignment, "--force")

    released = json.loads((course / "release" / assignment / name).read_text())
    ours = json.loads((REPO_ROOT / "exercises" / name).read_text())
    assert [_text(c) for c in released["cells"]] == [_text(c) for c in ours["cells"]]
    assert [c["metadata"]["nbgrader"]["grade_id"] for c in released["cells"]] == [
        c["metadata"]["nbgrader"]["grade_id"] for c in ours["cells"]
    ]

    solution = json.loads((course / "source" / assignment / name).read_text())
    submissions = {"solved": solution, "blank": ours, "partial": _partly_solved(solution, ours)}
    for student, notebook in submissions.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        (folder / name).write_text(exercises.dumps(notebook))
    _nbgrader(course, "autograde", assignment, "--force")

    cells = [c["metadata"]["nbgrader"] for c in solution["cells"]]
    auto = sum(m["points"] for m in cells if m["grade"] and not m["solution"])
    manual = sum(m["points"] for m in cells if m["grade"] and m["solution"])
    assert auto > 0
    with nbgrader_api.Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {
            student: gradebook.find_submission(assignment, student) for student in submissions
        }
        assert scores["solved"].max_score == auto + manual
        assert scores["solved"].score == auto, "the solution lost autograded points"
        assert scores["solved"].needs_manual_grade == (manual > 0)
        assert scores["blank"].score == 0, "the blank student version scored points"
        assert not scores["blank"].needs_manual_grade, "an unchanged written answer must score 0"
        assert 0 < scores["partial"].score < auto
    shutil.rmtree(course, ignore_errors=True)
