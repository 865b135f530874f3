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


def _tissue_map(layers, tissue):
    """Where ``tissue`` is on top after painting: 1 there, 0 elsewhere (partial at edges)."""
    from course_lib.acquisition import render_contrast
    from course_lib.mr_signal import TISSUES

    values = dict.fromkeys(TISSUES, 0.0) | {tissue: 1.0}
    return render_contrast(layers, "T1", values=values)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_neck_holds_an_airway_in_front_of_the_spine(seed):
    """An axial cut through the neck: along the midline, the jaw, the airway, the spine."""
    anat = anatomy.sample_anatomy(np.random.default_rng(seed))
    grid = anatomy.PixelGrid(160, 160, (0.0, 0.0, 0.0, 0.7), "axial")
    layers, *_ = anatomy.head_layers(anat, np.array([0.9]), grid)
    column = 80 + round(anat["midline"] * 0.7 * 80)  # rows run front to back
    air = np.flatnonzero(_tissue_map(layers, "air")[0, :, column] > 0.5)
    bone = np.flatnonzero(_tissue_map(layers, "bone")[0, :, column] > 0.5)
    cord = np.flatnonzero(_tissue_map(layers, "wm")[0, :, column] > 0.5)
    assert len(air) >= 3 and len(bone) >= 3 and len(cord) >= 3
    jaw, spine = bone[bone < air.min()], bone[bone > air.max()]
    assert len(jaw) >= 1  # the mandible in front of the airway
    assert len(spine) >= 3 and spine.min() < cord.mean() < spine.max()  # the canal's ring behind


def test_no_face_or_neck_above_the_skull_base():
    """Axial slices through the brain skip the face and neck (and their cost) entirely."""
    anat = anatomy.sample_anatomy(np.random.default_rng(0))
    grid = anatomy.PixelGrid(64, 64, anat["pose"], "axial")
    layers, *_ = anatomy.head_layers(anat, np.array([anat["cy"] - 0.3]), grid)
    assert _tissue_map(layers, "air").max() == 0
    layers, *_ = anatomy.head_layers(anat, np.array([0.9]), grid)
    assert _tissue_map(layers, "air").max() > 0.5
