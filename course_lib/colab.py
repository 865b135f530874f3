"""Colab support: the setup cell every notebook opens with, and "Open in Colab" badges.

The repository URL lives in one place, :data:`course_lib.config.REPO_URL`; the setup cell, the
badges in the notebooks and the README are all derived from it, and tests check that they agree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course_lib import exercises
from course_lib.config import REPO_ROOT, REPO_URL

BRANCH = "main"

_GITHUB = "https://github.com/"


def _repo_slug(url: str = REPO_URL) -> str:
    """Return ``owner/name`` of a GitHub URL.

    Raises:
        ValueError: If ``url`` is not a ``https://github.com/owner/name`` URL.

    >>> _repo_slug("https://github.com/me/course")
    'me/course'
    """
    if not url.startswith(_GITHUB) or url[len(_GITHUB) :].strip("/").count("/") != 1:
        raise ValueError(f"REPO_URL must look like https://github.com/OWNER/NAME, got {url!r}")
    return url[len(_GITHUB) :].strip("/")


#: The environment variable that points the setup cell at another fork or branch.
REPO_VARIABLE = "COURSE_REPO"


def setup_cell_source(url: str = REPO_URL) -> str:
    """The source of the first cell of every notebook.

    On Colab it installs this package from GitHub with pip, without touching Colab's own torch
    (the package asks only for ``torch>=2.3``, which Colab already has), and stops with a clear
    message when the install fails (the next cell would only say ``ModuleNotFoundError``).
    ``COURSE_REPO=https://github.com/OWNER/NAME@REF`` (``%env`` in a cell above) installs
    another fork or branch. Anywhere else the cell does nothing: ``make lab`` installed the
    package already.
    """
    _repo_slug(url)
    return (
        _SETUP_CELL.replace("@VARIABLE@", REPO_VARIABLE)
        .replace("@SOURCE@", f"{url}@{BRANCH}")
        .rstrip("\n")
    )


# The cell runs before the package exists on Colab, so it cannot import anything of ours.
_SETUP_CELL = """\
# Setup: on Colab, install the course library (Colab's own torch is kept); anywhere else
# this does nothing (`make lab` installed it). Another fork or branch: run
# %env @VARIABLE@=https://github.com/YOU/FORK@BRANCH before this cell.
import os
import subprocess
import sys

if "google.colab" in sys.modules:
    source = os.environ.get("@VARIABLE@", "@SOURCE@")
    print(f"Installing the course library from {source} (about a minute)...")
    command = [sys.executable, "-m", "pip", "install", "--quiet", f"course-lib @ git+{source}"]
    pip = subprocess.run(command, capture_output=True, text=True)
    if pip.returncode != 0:
        print(pip.stdout[-3000:], pip.stderr[-3000:], sep="\\n")
        raise SystemExit(
            f"Could not install the course library from {source} (pip says why above). "
            "Check the internet connection and @VARIABLE@, then run this cell again."
        )
"""


def write_setup_cells(root: str | Path = REPO_ROOT) -> list[Path]:
    """Make the first cell of every lesson and solution the current :func:`setup_cell_source`.

    ``exercises/`` is then regenerated from ``solutions/``, so the exercises get it too.

    Args:
        root: The repository (with ``notebooks/``, ``solutions/`` and ``exercises/``).

    Returns:
        The notebooks whose setup cell changed.

    Raises:
        ValueError: If a notebook does not start with a code cell (add one by hand first).
    """
    root, wanted, changed = Path(root), setup_cell_source(), []
    for folder in ("notebooks", "solutions"):
        for path in sorted((root / folder).glob("*.ipynb")):
            notebook = json.loads(path.read_text(encoding="utf-8"))
            first = notebook["cells"][0] if notebook["cells"] else {}
            if first.get("cell_type") != "code":
                raise ValueError(f"{path} does not start with a code cell (the setup cell)")
            current = first["source"]
            if ("".join(current) if isinstance(current, list) else current) != wanted:
                first["source"] = wanted
                path.write_text(exercises.dumps(notebook), encoding="utf-8")
                changed.append(path)
    exercises.generate(root / "solutions", root / "exercises")
    return changed


def main(argv: list[str] | None = None) -> int:
    """``python -m course_lib.colab`` (``make setup-cells``): rewrite every setup cell."""
    argparse.ArgumentParser(description=write_setup_cells.__doc__.splitlines()[0]).parse_args(argv)
    changed = write_setup_cells()
    print(f"Rewrote the setup cell of {len(changed)} notebook(s); exercises regenerated.")
    for path in changed:
        print(f"  {path.relative_to(REPO_ROOT)}")
    return 0


def colab_url(path: str, url: str = REPO_URL) -> str:
    """The Colab address that opens ``path`` (relative to the repository root) from GitHub.

    >>> colab_url("notebooks/00_welcome.ipynb", "https://github.com/me/course")
    'https://colab.research.google.com/github/me/course/blob/main/notebooks/00_welcome.ipynb'
    """
    return f"https://colab.research.google.com/github/{_repo_slug(url)}/blob/{BRANCH}/{path}"


def colab_badge(path: str, url: str = REPO_URL) -> str:
    """A markdown "Open in Colab" badge for ``path`` (relative to the repository root).

    >>> colab_badge("notebooks/00_welcome.ipynb", "https://github.com/me/c").split("](")[0]
    '[![Open In Colab'
    """
    image = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({image})]({colab_url(path, url)})"


if __name__ == "__main__":
    sys.exit(main())
