"""Generate the student exercise notebooks from the solution notebooks.

``solutions/NN_name.ipynb`` is the single source of truth. Inside a code cell, each answer sits
between two marker lines (the nbgrader convention, so instructors can also use nbgrader)::

    def crop_center(image, size):
        ### BEGIN SOLUTION
        # HINT: the top-left corner is at ((H - size) // 2, (W - size) // 2).
        top = (image.shape[0] - size) // 2
        ...
        ### END SOLUTION

The generator replaces everything between the markers, markers included, with
``raise NotImplementedError("<hint>")`` at the marker's indentation, where the hint is the text of
the block's ``# HINT:`` comment lines. ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``
blocks are dropped. In a markdown cell, a block between the same markers becomes
``*Your answer here.*``. Outputs and execution counts are cleared, and links to ``solutions/``
become links to ``exercises/``.

Run ``python -m course_lib.exercises`` (or ``make exercises``) after changing a solution;
``python -m course_lib.exercises --check`` exits with status 1 when ``exercises/`` is stale.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

from course_lib.config import REPO_ROOT

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
DEFAULT_HINT = "Write your answer here."
MARKDOWN_STUB = "*Your answer here.*"
_HINT = re.compile(r"^\s*#\s*HINT:\s?(.*)$")


class MarkerError(ValueError):
    """A solution cell's markers do not pair up."""


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
    r"""Replace each solution block in a cell's source with a stub.

    Args:
        source: The cell's source text.
        markdown: Whether the cell is markdown (the stub is then ``*Your answer here.*``).
        where: How to name the cell in an error message.

    Returns:
        The source with solution blocks stubbed and hidden-test blocks removed.

    Raises:
        MarkerError: If a block is opened and never closed, closed without being opened, or
            opened inside another block.

    >>> print(stub_source("x = 1\n### BEGIN SOLUTION\n# HINT: use 2\ny = 2\n### END SOLUTION"))
    x = 1
    raise NotImplementedError("use 2")
    """
    lines = source.split("\n")
    for start, stop in reversed(_blocks(lines, BEGIN_HIDDEN, END_HIDDEN, where)):
        del lines[start : stop + 1]
    for start, stop in reversed(_blocks(lines, BEGIN, END, where)):
        if markdown:
            replacement = MARKDOWN_STUB
        else:
            indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
            hints = [m.group(1).strip() for m in map(_HINT.match, lines[start:stop]) if m]
            hint = " ".join(h for h in hints if h) or DEFAULT_HINT
            replacement = f"{indent}raise NotImplementedError({json.dumps(hint)})"
        lines[start : stop + 1] = [replacement]
    return "\n".join(lines)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def make_exercise(notebook: dict, *, name: str = "notebook") -> dict:
    """Return the exercise version of a solution notebook (a new dict; the input is unchanged).

    Args:
        notebook: A solution notebook as parsed JSON (nbformat 4).
        name: How to name the notebook in an error message.

    Returns:
        The exercise notebook.

    Raises:
        MarkerError: If a cell's markers do not pair up.
        ValueError: If the notebook holds no solution block at all.
    """
    result = copy.deepcopy(notebook)
    stubbed = 0
    for index, cell in enumerate(result.get("cells", [])):
        source = _source(cell)
        where = f"{name}, cell {index}"
        new = stub_source(source, markdown=cell.get("cell_type") == "markdown", where=where)
        stubbed += new != source
        new = new.replace("/solutions/", "/exercises/")
        cell["source"] = new
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    if not stubbed:
        raise ValueError(f"{name} has no '{BEGIN}' block: is it a solution notebook?")
    return result


def dumps(notebook: dict) -> str:
    """Serialise a notebook the way Jupyter saves it (one-space indent, trailing newline)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def generate(
    solutions: Path = REPO_ROOT / "solutions",
    exercises: Path = REPO_ROOT / "exercises",
    *,
    check: bool = False,
) -> list[Path]:
    """Write ``exercises/NN_*.ipynb`` for every ``solutions/NN_*.ipynb``.

    Args:
        solutions: Folder of solution notebooks.
        exercises: Folder to write the exercise notebooks to (created when missing).
        check: Write nothing; return the exercise notebooks that are missing, stale or orphaned.

    Returns:
        The paths written (or, with ``check``, the paths that are out of date).

    Raises:
        FileNotFoundError: If ``solutions`` holds no notebook.
    """
    sources = sorted(Path(solutions).glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"No solution notebooks in {solutions}; nothing to generate.")
    changed = []
    for source in sources:
        target = Path(exercises) / source.name
        notebook = json.loads(source.read_text(encoding="utf-8"))
        text = dumps(make_exercise(notebook, name=source.name))
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current != text:
            changed.append(target)
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    wanted = {source.name for source in sources}
    orphans = [p for p in sorted(Path(exercises).glob("*.ipynb")) if p.name not in wanted]
    if check:
        changed.extend(orphans)
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command line: ``course-exercises [--check]`` (``python -m course_lib.exercises``).

    Returns:
        0; 1 when ``--check`` finds stale exercises; 2 after an error (printed on one line).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale exercises")
    parser.add_argument("--solutions", type=Path, default=REPO_ROOT / "solutions")
    parser.add_argument("--exercises", type=Path, default=REPO_ROOT / "exercises")
    args = parser.parse_args(argv)
    try:
        paths = generate(args.solutions, args.exercises, check=args.check)
    except (OSError, ValueError) as error:  # no solutions, a broken marker, unreadable JSON
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        if paths:
            print("Out of date (run `make exercises`):", *map(str, paths), sep="\n  ")
            return 1
        print("exercises/ is up to date.")
        return 0
    print(f"Wrote {len(paths)} exercise notebook(s)." if paths else "Nothing to do.")
    for path in paths:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
