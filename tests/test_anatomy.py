"""course_lib.anatomy: the procedural head and its tumours."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import anatomy


def test_sample_tumor_rejects_unknown_class():
    rng = np.random.default_rng(0)
    anat = anatomy.sample_anatomy(rng)
    with pytest.raises(ValueError, match="class_name"):
        anatomy.sample_tumor("lymphoma", rng, anat, z_center=0.0, difficulty=1.0)
    assert anatomy.sample_tumor("notumor", rng, anat, z_center=0.0, difficulty=1.0) is None


def test_pixel_grid_rejects_unknown_plane_and_names_its_axes():
    pose = (0.0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="plane"):
        anatomy.PixelGrid(8, 8, pose, "oblique")
    x, y, z = anatomy.PixelGrid(8, 8, pose, "axial").coords(np.array([0.1, 0.2]))
    assert np.shape(y) == (2, 1, 1) and np.shape(x) == np.shape(z) == (8, 8)
    x, y, z = anatomy.PixelGrid(8, 8, pose, "sagittal").coords(np.array([0.1]))
    assert np.shape(x) == (1, 1, 1) and float(z[0, 0]) < float(z[0, -1])  # front on the left
