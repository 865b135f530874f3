"""Generate the student exercise notebooks, with nbgrader metadata, from the solution notebooks.

``solutions/NN_name.ipynb`` is the single source of truth. It is laid out as exercises, each one a
markdown cell that opens it, one or more answer cells, and exactly one graded cell::

    ## Exercise 1 · Crop the centre             <- a markdown cell with this line under the heading:
    *2 points · about 5 minutes · assesses: index and slice an image array*

    def crop_center(image, size):              <- an answer cell: it holds a solution region
        # Hint: where is the top-left corner of the crop?      (hints sit outside the region,
        ### BEGIN SOLUTION                                      so that nbgrader keeps them too)
        ...
        ### END SOLUTION

    l00.check_crop_center(crop_center)         <- the graded (test) cell: it calls a check
    ### BEGIN HIDDEN TESTS
    l00.check_crop_center_more(crop_center)    <- dropped from the student version
    ### END HIDDEN TESTS

A markdown cell that holds a solution region is a written answer, graded by hand: it is both the
answer cell and the graded cell of its exercise. Every other cell is read-only.

From that layout the generator writes nbgrader's cell metadata (``solution`` for answer cells,
locked ``grade`` cells with the exercise's points, locked read-only cells) into both notebooks:
``solutions/`` is then nbgrader's *source* version as it stands, and ``exercises/`` what nbgrader's
``generate_assignment`` releases with :func:`nbgrader_config` (the same stubs, hidden tests removed,
outputs cleared). It also writes the table of exercises into ``INSTRUCTORS.md``.

Run ``python -m course_lib.exercises`` (or ``make exercises``) after changing a solution;
``--check`` exits with status 1 when anything is stale; ``--nbgrader-course DIR`` lays out an
nbgrader course directory (``DIR/nbgrader_config.py``, ``DIR/source/lessonNN/``).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from course_lib.config import REPO_ROOT

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = 'raise NotImplementedError("not answered yet")'
MARKDOWN_STUB = "*Your answer here.*"
COURSE_ID = "brain-tumor-mri-dl"
GUIDE = REPO_ROOT / "INSTRUCTORS.md"
TABLE_BEGIN, TABLE_END = "<!-- BEGIN EXERCISE TABLE -->", "<!-- END EXERCISE TABLE -->"
SCHEMA_VERSION = 3

_META = re.compile(
    r"^\*(?P<points>\d+) points? · about (?P<minutes>\d+) minutes? · assesses: (?P<what>.+)\*\s*$",
    re.MULTILINE,
)
_CHECK_CALL = re.compile(r"\bl\d\d\.check_\w+\(")
_HINT_INSIDE = re.compile(r"^\s*#\s*HINT:", re.IGNORECASE)
_NAME = re.compile(r"^(?:def|class)\s+(\w+)|^(\w+)\s*=", re.MULTILINE)


class MarkerError(ValueError):
    """A solution notebook's markers or exercise layout are wrong."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of a solution notebook, as the instructor guide lists it.

    Attributes:
        notebook: The notebook's file name, e.g. ``"00_welcome.ipynb"``.
        title: The exercise's heading without the ``#`` marks.
        points: Its points in nbgrader.
        minutes: About how long a student takes.
        assesses: What it assesses, in a few words.
        graded: ``"auto"`` (a check scores it) or ``"manual"`` (an instructor reads it).
        grade_id: The nbgrader id of its graded cell.
    """

    notebook: str
    title: str
    points: int
    minutes: int
    assesses: str
    graded: str
    grade_id: str


def _blocks(lines: list[str], begin: str, end: str, where: str) -> list[tuple[int, int]]:
    """Return (start, stop) line index pairs of the marked blocks, markers included."""
    spans, start = [], None
    for number, line in enumerate(lines):
        text = line.strip()
        if text == begin:
            if start is not None:
                raise MarkerError(f"{where}: {begin!r} on line {number + 1} inside another block")
            start = number
        elif text == end:
            if start is None:
                raise MarkerError(f"{where}: {end!r} on line {number + 1} without {begin!r}")
            spans.append((start, number))
            start = None
    if start is not None:
        raise MarkerError(f"{where}: {begin!r} on line {start + 1} is never closed by {end!r}")
    return spans


def stub_source(source: str, *, markdown: bool = False, where: str = "cell") -> str:
    r"""Replace each solution region in a cell's source with the stub, as nbgrader does.

    Args:
        source: The cell's source text.
        markdown: Whether the cell is markdown (the stub is then ``*Your answer here.*``).
        where: How to name the cell in an error message.

    Returns:
        The source with solution regions stubbed (at the marker's indentation) and hidden-test
        blocks removed.

    Raises:
        MarkerError: If a block is opened and never closed, closed without being opened, opened
            inside another block, or a ``# HINT:`` line sits inside a solution region (nbgrader
            would delete it: put hints above ``### BEGIN SOLUTION``).

    >>> print(stub_source("def f():\n    # Hint: think\n    ### BEGIN SOLUTION\n    return 2\n"
    ...                   "    ### END SOLUTION"))
    def f():
        # Hint: think
        raise NotImplementedError("not answered yet")
    """
    lines = source.split("\n")
    for start, stop in reversed(_blocks(lines, BEGIN_HIDDEN, END_HIDDEN, where)):
        del lines[start : stop + 1]
    for start, stop in reversed(_blocks(lines, BEGIN, END, where)):
        if any(_HINT_INSIDE.match(line) for line in lines[start:stop]):
            raise MarkerError(
                f"{where}: a '# HINT:' line inside a solution region would be deleted; "
                "move it above '### BEGIN SOLUTION'"
            )
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        lines[start : stop + 1] = [indent + (MARKDOWN_STUB if markdown else CODE_STUB)]
    return "\n".join(lines)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _has_region(source: str) -> bool:
    return any(line.strip() == BEGIN for line in source.split("\n"))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "exercise"


def _metadata(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": SCHEMA_VERSION,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


def annotate(notebook: dict, *, name: str = "notebook") -> tuple[dict, list[Exercise]]:
    """Return a solution notebook with nbgrader metadata on every cell, and its exercises.

    Args:
        notebook: A solution notebook as parsed JSON (nbformat 4); it is not changed.
        name: The notebook's file name, used in messages and in the exercise table.

    Returns:
        ``(annotated_notebook, exercises)``.

    Raises:
        MarkerError: If markers do not pair up, an answer or a check sits outside an exercise,
            an exercise has no graded cell or two, or two cells would get the same grade id.
        ValueError: If the notebook holds no exercise at all.
    """
    result = copy.deepcopy(notebook)
    found: list[Exercise] = []
    current: dict | None = None
    used: set[str] = set()
    answer: str | None = None

    def unique(grade_id: str, where: str) -> str:
        if grade_id in used:
            raise MarkerError(f"{where}: grade id {grade_id!r} is used twice")
        used.add(grade_id)
        return grade_id

    def close(where: str) -> None:
        if current is not None and current["grade_id"] is None:
            raise MarkerError(f"{where}: exercise {current['title']!r} has no graded cell")
        if current is not None:
            found.append(Exercise(name, **current))

    for index, cell in enumerate(result.get("cells", [])):
        source, kind = _source(cell), cell.get("cell_type")
        where = f"{name}, cell {index}"
        stub_source(source, markdown=kind == "markdown", where=where)  # validates the markers
        meta = _META.search(source) if kind == "markdown" else None
        region = _has_region(source)
        if meta:
            close(where)
            heading = next((ln for ln in source.split("\n") if ln.startswith("#")), "")
            current = {
                "title": heading.lstrip("#").strip() or f"exercise {len(found) + 1}",
                "points": int(meta["points"]),
                "minutes": int(meta["minutes"]),
                "assesses": meta["what"].strip(),
                "graded": "",
                "grade_id": None,
            }
            answer = None
        if (region or (kind == "code" and _CHECK_CALL.search(source))) and current is None:
            raise MarkerError(f"{where}: an answer or a check before the first exercise heading")
        if kind == "markdown" and region:
            if current["grade_id"] is not None:
                raise MarkerError(f"{where}: exercise {current['title']!r} has two graded cells")
            short = current["title"].split("·", 1)[-1]
            grade_id = unique(f"answer-{_slug(short)}", where)
            current.update(graded="manual", grade_id=grade_id)
            cell_meta = _metadata(grade_id, solution=True, grade=True, points=current["points"])
        elif kind == "code" and region:
            match = _NAME.search(source)
            answer = (match[1] or match[2]) if match else f"answer-{index}"
            cell_meta = _metadata(unique(answer, where), solution=True)
        elif kind == "code" and _CHECK_CALL.search(source):
            if current["grade_id"] is not None:
                raise MarkerError(f"{where}: exercise {current['title']!r} has two graded cells")
            if answer is None:
                raise MarkerError(f"{where}: a check before the exercise's answer cell")
            grade_id = unique(f"check-{answer}", where)
            current.update(graded="auto", grade_id=grade_id)
            cell_meta = _metadata(grade_id, grade=True, locked=True, points=current["points"])
        else:
            cell_meta = _metadata(unique(f"cell-{cell.get('id', index)}", where), locked=True)
        cell.setdefault("metadata", {})["nbgrader"] = cell_meta
    close(f"{name}, end")
    if not found:
        raise ValueError(f"{name} has no exercise (no '{BEGIN}' block): is it a solution notebook?")
    return result, found


def make_exercise(notebook: dict, *, name: str = "notebook") -> dict:
    """Return the student version of a solution notebook (a new dict; the input is unchanged).

    Solution regions become stubs, hidden tests go, outputs are cleared, links to ``solutions/``
    point to ``exercises/``, and cells are locked in Jupyter as nbgrader's release locks them.

    Raises:
        MarkerError: As :func:`annotate`.
        ValueError: If the notebook holds no exercise.
    """
    result, _ = annotate(notebook, name=name)
    for index, cell in enumerate(result["cells"]):
        kind = cell.get("cell_type")
        source = stub_source(_source(cell), markdown=kind == "markdown", where=f"{name}, {index}")
        cell["source"] = source.replace("/solutions/", "/exercises/")
        meta = cell["metadata"]["nbgrader"]
        if meta["locked"] or meta["grade"] or meta["solution"]:
            cell["metadata"]["deletable"] = False
        if meta["locked"]:
            cell["metadata"]["editable"] = False
        if kind == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return result


def dumps(notebook: dict) -> str:
    """Serialise a notebook the way Jupyter saves it (one-space indent, trailing newline)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def exercise_table(exercises: list[Exercise]) -> str:
    """Return the instructor guide's markdown table: one row per exercise, and a total per lesson.

    >>> print(exercise_table([Exercise("00_a.ipynb", "Crop", 2, 5, "slicing", "auto", "check-c")]))
    | notebook | exercise | graded | points | minutes | assesses |
    |---|---|---|---|---|---|
    | 00_a | Crop | auto (`check-c`) | 2 | 5 | slicing |
    | **00_a** | **total** |  | **2** | **5** |  |
    """
    rows = [
        "| notebook | exercise | graded | points | minutes | assesses |",
        "|---|---|---|---|---|---|",
    ]
    for notebook in dict.fromkeys(e.notebook for e in exercises):
        mine = [e for e in exercises if e.notebook == notebook]
        stem = notebook.removesuffix(".ipynb")
        for e in mine:
            cell = f"{e.graded} (`{e.grade_id}`)"
            rows.append(
                f"| {stem} | {e.title} | {cell} | {e.points} | {e.minutes} | {e.assesses} |"
            )
        points, minutes = sum(e.points for e in mine), sum(e.minutes for e in mine)
        rows.append(f"| **{stem}** | **total** |  | **{points}** | **{minutes}** |  |")
    return "\n".join(rows)


def _with_table(guide_text: str, table: str, where: Path) -> str:
    if TABLE_BEGIN not in guide_text or TABLE_END not in guide_text:
        raise MarkerError(f"{where} lacks the lines {TABLE_BEGIN} and {TABLE_END}")
    head, rest = guide_text.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_BEGIN}\n{table}\n{TABLE_END}{tail}"


def generate(
    solutions: Path = REPO_ROOT / "solutions",
    exercises: Path = REPO_ROOT / "exercises",
    *,
    guide: Path | None = None,
    check: bool = False,
    lessons: list[str] | None = None,
) -> list[Path]:
    """Write ``exercises/NN_*.ipynb``, nbgrader metadata into ``solutions/``, and the guide's table.

    Args:
        solutions: Folder of solution notebooks.
        exercises: Folder to write the exercise notebooks to (created when missing).
        guide: The instructor guide whose exercise table to rewrite (``None``: none;
            ``INSTRUCTORS.md`` is the repository's).
        check: Write nothing; return the files that are missing, stale or orphaned.
        lessons: Only these two-digit lessons (``None``: all); the guide's table, which lists
            every lesson, is then left alone.

    Returns:
        The paths written (or, with ``check``, the paths that are out of date).

    Raises:
        FileNotFoundError: If ``solutions`` holds no notebook, or ``guide`` does not exist.
        MarkerError: If a notebook's layout is wrong (see :func:`annotate`) or the guide lacks
            the table's marker lines.
    """
    sources = sorted(Path(solutions).glob("*.ipynb"))
    if lessons is not None:
        sources = [s for s in sources if s.name[:2] in set(lessons)]
        guide = None
    if not sources:
        raise FileNotFoundError(f"No solution notebooks in {solutions}; nothing to generate.")
    wanted: dict[Path, str] = {}
    table: list[Exercise] = []
    for source in sources:
        notebook = json.loads(source.read_text(encoding="utf-8"))
        annotated, found = annotate(notebook, name=source.name)
        table.extend(found)
        wanted[source] = dumps(annotated)
        wanted[Path(exercises) / source.name] = dumps(make_exercise(notebook, name=source.name))
    if guide is not None:
        guide = Path(guide)
        if not guide.exists():
            raise FileNotFoundError(f"No instructor guide at {guide}; create it with the markers.")
        text = guide.read_text(encoding="utf-8")
        wanted[guide] = _with_table(text, exercise_table(table), guide)
    changed = []
    for target, text in wanted.items():
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            changed.append(target)
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    names = {source.name for source in sources}
    orphans = [p for p in sorted(Path(exercises).glob("*.ipynb")) if p.name not in names]
    if check and lessons is None:
        changed.extend(orphans)
    return changed


def nbgrader_config() -> str:
    """Return an ``nbgrader_config.py`` whose release matches ``exercises/`` cell by cell."""
    return (
        "# nbgrader settings for the Brain Tumor MRI course (written by course-exercises).\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.ClearSolutions.code_stub = {{'python': {CODE_STUB!r}}}\n"
        f"c.ClearSolutions.text_stub = {MARKDOWN_STUB!r}\n"
        "# lessons train small models in their checks' setup: allow a slow cell\n"
        "c.Execute.timeout = 600\n"
    )


def assignment_name(notebook: str) -> str:
    """Return the nbgrader assignment of a notebook: ``"00_welcome.ipynb"`` -> ``"lesson00"``."""
    return f"lesson{notebook[:2]}"


def nbgrader_course(
    destination: Path,
    solutions: Path = REPO_ROOT / "solutions",
    *,
    lessons: list[str] | None = None,
) -> list[Path]:
    """Lay out an nbgrader course directory from the solution notebooks.

    Writes ``destination/nbgrader_config.py`` and ``destination/source/lessonNN/NN_name.ipynb``
    (the solution with its metadata, its links pointing to ``exercises/`` as the release's
    should). Files already there are left alone when they are the same and refused when they
    differ, so nothing of an instructor's is overwritten.

    Args:
        destination: The course directory (created when missing).
        solutions: Folder of solution notebooks.
        lessons: Two-digit lesson numbers to include (``None``: all).

    Returns:
        The paths written.

    Raises:
        FileNotFoundError: If no solution notebook matches.
        FileExistsError: If a file to write exists with other content.
    """
    sources = sorted(Path(solutions).glob("*.ipynb"))
    if lessons is not None:
        sources = [s for s in sources if s.name[:2] in set(lessons)]
    if not sources:
        raise FileNotFoundError(f"No solution notebooks for lessons {lessons} in {solutions}.")
    destination = Path(destination)
    wanted = {destination / "nbgrader_config.py": nbgrader_config()}
    for source in sources:
        annotated, _ = annotate(json.loads(source.read_text(encoding="utf-8")), name=source.name)
        for cell in annotated["cells"]:  # the release's Colab badge opens the student version
            cell["source"] = _source(cell).replace("/solutions/", "/exercises/")
        folder = destination / "source" / assignment_name(source.name)
        wanted[folder / source.name] = dumps(annotated)
    clashes = [p for p, t in wanted.items() if p.exists() and p.read_text(encoding="utf-8") != t]
    if clashes:
        raise FileExistsError(f"{clashes[0]} exists with other content; move it away first.")
    written = []
    for path, text in wanted.items():
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``course-exercises [--check | --nbgrader-course DIR]``.

    Returns:
        0; 1 when ``--check`` finds stale files; 2 after an error (printed on one line).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument("--solutions", type=Path, default=REPO_ROOT / "solutions")
    parser.add_argument("--exercises", type=Path, default=REPO_ROOT / "exercises")
    parser.add_argument(
        "--guide",
        type=Path,
        help="instructor guide to update (default: the "
        "repository's INSTRUCTORS.md when --solutions is the repository's)",
    )
    parser.add_argument(
        "--nbgrader-course", type=Path, metavar="DIR", help="write an nbgrader course directory"
    )
    parser.add_argument("--lesson", action="append", help="only this lesson, e.g. 00 (repeatable)")
    args = parser.parse_args(argv)
    try:
        if args.nbgrader_course is not None:
            paths = nbgrader_course(args.nbgrader_course, args.solutions, lessons=args.lesson)
            print(f"Wrote {len(paths)} file(s) under {args.nbgrader_course}.")
            print(f"Next: cd {args.nbgrader_course} && nbgrader generate_assignment lesson00")
            return 0
        guide = args.guide
        if guide is None and args.solutions.resolve() == (REPO_ROOT / "solutions").resolve():
            guide = GUIDE
        paths = generate(
            args.solutions, args.exercises, guide=guide, check=args.check, lessons=args.lesson
        )
    except (OSError, ValueError) as error:  # no solutions, a broken marker, unreadable JSON
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        if paths:
            print("Out of date (run `make exercises`):", *map(str, paths), sep="\n  ")
            return 1
        print("exercises/, solutions/ metadata and the exercise table are up to date.")
        return 0
    print(f"Wrote {len(paths)} file(s)." if paths else "Nothing to do.")
    for path in paths:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
