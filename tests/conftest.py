"""Shared fixtures: tiny, seeded, written to tmp_path."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from phantoms import blob, write

from course_lib import checks
from course_lib.config import CLASS_NAMES

os.environ.setdefault("MPLBACKEND", "Agg")

#: The real MRI sample beside the repository (absent in a user's clone and may be absent in CI).
REAL_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "brain-mri-sample"


@pytest.fixture(autouse=True)
def _checks_raise(monkeypatch):
    """In tests a failed check raises CheckFailed (in a notebook it prints to stderr)."""
    monkeypatch.setattr(checks, "RAISE_FAILURES", True)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def real_sample_dir() -> Path:
    """The real 80-slice sample; the test skips when it is not there."""
    if not REAL_SAMPLE.is_dir():
        pytest.skip(f"real MRI sample not found at {REAL_SAMPLE}")
    return REAL_SAMPLE


@pytest.fixture
def dup_tree(tmp_path):
    """Kaggle layout with one exact duplicate across splits and one near duplicate in train."""
    root = tmp_path / "ds"
    for i, name in enumerate(CLASS_NAMES):
        for j in range(3):
            write(root / "Training" / name / f"tr{j}.png", blob(10 * i + j, 64))
        write(root / "Testing" / name / "te0.png", blob(500 + i, 64))
    shutil.copy(root / "Training/glioma/tr0.png", root / "Testing/glioma/copy.png")
    near = blob(11, 64).astype(int) + np.random.default_rng(0).integers(-3, 4, (64, 64))
    write(root / "Training/meningioma/near.png", np.clip(near, 0, 255).astype(np.uint8))
    (root / "Training/pituitary/broken.png").write_bytes(b"\x89PNG nope")
    return root


@pytest.fixture
def offline(monkeypatch):
    """No network: every connection attempt is refused at once."""

    def refuse(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
