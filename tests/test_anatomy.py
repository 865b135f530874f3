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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lateral_ventricles_part_towards_the_back_seen_from_above(seed):
    """An axial cut through the ventricles shows a butterfly, not two parallel bars."""
    from scipy import ndimage

    from course_lib.acquisition import render_contrast

    anat = anatomy.sample_anatomy(np.random.default_rng(seed))
    grid = anatomy.PixelGrid(160, 160, (0.0, 0.0, 0.0, 0.85), "axial")
    level = anat["cy"] - 0.12 + 0.02  # just above the ventricles' centre line
    layers, brain, _, _ = anatomy.head_layers(anat, np.array([level]), grid)
    csf = render_contrast(layers, "T2")[0] > 0.8  # CSF is the brightest tissue on T2
    deep = ndimage.binary_erosion(brain[0], iterations=14)  # away from the cortex and its sulci
    labels, count = ndimage.label(csf & deep)
    sizes = ndimage.sum(np.ones_like(labels), labels, range(1, count + 1))
    left, right = np.argsort(sizes)[::-1][:2] + 1  # the two largest pools of CSF
    rows = np.flatnonzero(((labels == left).any(1)) & ((labels == right).any(1)))
    assert len(rows) > 15  # both ventricles run a long way front to back

    def gap(row):
        cols_l = np.flatnonzero(labels[row] == left).mean()
        cols_r = np.flatnonzero(labels[row] == right).mean()
        return abs(cols_l - cols_r)

    front, back = rows[: len(rows) // 4], rows[-len(rows) // 4 :]  # rows run front to back
    assert np.mean([gap(r) for r in back]) > np.mean([gap(r) for r in front]) + 4
