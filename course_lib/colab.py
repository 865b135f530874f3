"""Colab support: the setup cell every notebook opens with, and "Open in Colab" badges.

The repository URL lives in one place, :data:`course_lib.config.REPO_URL`; the setup cell, the
badges in the notebooks and the README are all derived from it, and tests check that they agree.
"""

from __future__ import annotations

from course_lib.config import REPO_URL

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


def setup_cell_source(url: str = REPO_URL) -> str:
    """The source of the first cell of every notebook.

    On Colab it installs this package from GitHub without touching Colab's own torch (the
    package asks only for ``torch>=2.3``, which Colab already satisfies); anywhere else it does
    nothing, because ``make lab`` already installed the package.
    """
    return (
        "# Setup: on Colab, install the course library (Colab's own torch is kept).\n"
        "# Anywhere else this cell does nothing: `make lab` has installed it already.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "course-lib @ git+{url}@{BRANCH}"'
    )


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
