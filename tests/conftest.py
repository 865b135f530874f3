"""Shared fixtures: tiny, seeded, written to tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

#: The real MRI sample beside the repository (absent in a user's clone and may be absent in CI).
REAL_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "brain-mri-sample"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def real_sample_dir() -> Path:
    """The real 80-slice sample; the test skips when it is not there."""
    if not REAL_SAMPLE.is_dir():
        pytest.skip(f"real MRI sample not found at {REAL_SAMPLE}")
    return REAL_SAMPLE
