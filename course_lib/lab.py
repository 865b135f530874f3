"""``make lab`` (or ``course-lab``): JupyterLab on the lessons, with lesson 00 in front.

It serves the whole clone (so ``exercises/`` and ``solutions/`` are a click away), opens the
browser on ``notebooks/00_welcome.ipynb`` (the file browser shows ``notebooks/``), and passes
``--allow-root`` when it runs as root, as in Docker containers and on Colab-like hosts, where
JupyterLab otherwise refuses to start. Any other argument goes to ``jupyter lab`` as it is::

    course-lab                    # what `make lab` runs
    course-lab --no-browser --port 8899
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from course_lib.config import REPO_ROOT

#: The notebook JupyterLab opens first, relative to the served folder.
FIRST_LESSON = "notebooks/00_welcome.ipynb"


def _euid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else -1  # Windows has no root


def lab_command(
    extra: Sequence[str] = (), *, root: str | os.PathLike = REPO_ROOT, euid: int | None = None
) -> list[str]:
    """The ``jupyter lab`` command line that :func:`main` runs.

    Args:
        extra: More arguments for ``jupyter lab`` (``--no-browser``, ``--port``, ...).
        root: The folder to serve (the clone of the repository).
        euid: The effective user id (default: this process's); ``0`` adds ``--allow-root``.

    Returns:
        The command, starting with this Python.

    >>> lab_command(root="/course", euid=0)[-2:]
    ['--LabApp.default_url=/lab/tree/notebooks/00_welcome.ipynb', '--allow-root']
    """
    euid = _euid() if euid is None else euid
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={os.fspath(root)}",
        f"--LabApp.default_url=/lab/tree/{FIRST_LESSON}",
    ]
    if euid == 0:
        command.append("--allow-root")
    return command + list(extra)


def main(argv: Sequence[str] | None = None) -> int:
    """Start JupyterLab on the lessons (see the module docstring).

    Returns:
        JupyterLab's exit status, or 2 when it is not installed or the lessons are missing.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if importlib.util.find_spec("jupyterlab") is None:
        print(
            "error: JupyterLab is not installed here. Install it with "
            "`pip install 'course-lib[lab]'` (make lab does), or open the lessons on Colab.",
            file=sys.stderr,
        )
        return 2
    if not (Path(REPO_ROOT) / FIRST_LESSON).is_file():
        print(
            f"error: no lessons at {REPO_ROOT}/notebooks: run this from a clone of the "
            "repository (git clone, then make lab).",
            file=sys.stderr,
        )
        return 2
    print(f"JupyterLab on {REPO_ROOT}, opening {FIRST_LESSON} (stop it with Ctrl-C).", flush=True)
    try:
        return subprocess.call(lab_command(argv))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
