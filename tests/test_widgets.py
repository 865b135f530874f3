"""Volume viewer: the pure slicing and render functions, and the widget built without a display."""

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from course_lib.widgets import PLANES, render_volume_slice, volume_slice, volume_viewer


@pytest.fixture
def volume() -> np.ndarray:
    """(D, H, W) = (3, 4, 5); every voxel's value encodes its position: 100 d + 10 h + w."""
    d, h, w = np.meshgrid(np.arange(3), np.arange(4), np.arange(5), indexing="ij")
    return (100 * d + 10 * h + w).astype(np.float32)


@pytest.fixture
def axes():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def _widgets_of(root, kind):
    found = [root] if isinstance(root, kind) else []
    for child in getattr(root, "children", ()):
        found += _widgets_of(child, kind)
    return found


#: A JupyterLab window is about 1000 pixels high; one row of controls takes about 40.
MAX_VIEWER_HEIGHT_PX, CONTROL_ROW_PX = 900, 40


def assert_shown_at_pixel_size(image: widgets.Image) -> tuple[int, int]:
    """The Image widget declares exactly its PNG's pixel size (no stretching, no blur)."""
    width, height = Image.open(io.BytesIO(bytes(image.value))).size
    assert (image.width, image.height) == (str(width), str(height))
    assert (image.layout.width, image.layout.height) == (f"{width}px", f"{height}px")
    return width, height


@pytest.mark.parametrize(
    ("plane", "index", "shape", "corner"),
    [("coronal", 2, (4, 5), 200), ("axial", 1, (3, 5), 10), ("sagittal", 4, (4, 3), 4)],
)
def test_volume_slice_cuts_and_orients_each_plane(volume, plane, index, shape, corner):
    cut = volume_slice(volume, index, plane)
    assert cut.shape == shape
    assert cut[0, 0] == corner
    if plane == "sagittal":  # rows run top to bottom (h), columns front to back (d)
        assert cut[1, 0] == 14 and cut[0, 1] == 104


def test_volume_slice_takes_negative_index_and_keeps_dtype(volume):
    np.testing.assert_array_equal(volume_slice(volume, -1, "coronal"), volume[2])
    assert volume_slice(volume.astype(np.uint8), 0, "axial").dtype == np.uint8


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((np.zeros((4, 4)), 0, "coronal"), ValueError, r"\(D, H, W\)"),
        ((np.zeros((3, 4, 5)), 0, "transverse"), ValueError, "plane must be one of"),
        ((np.zeros((3, 4, 5)), 3, "coronal"), ValueError, r"use 0\.\.2"),
        ((np.zeros((3, 4, 5)), -6, "sagittal"), ValueError, "out of range"),
        ((np.zeros((3, 4, 5)), 1.0, "coronal"), TypeError, "index must be an int"),
        ((np.array([[["a"]]]), 0, "coronal"), TypeError, "numeric"),
    ],
)
def test_volume_slice_rejects_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        volume_slice(*args)


def test_render_draws_one_image_with_title_and_no_ticks(volume, axes):
    out = render_volume_slice(volume, 1, plane="axial", ax=axes)
    assert out is axes
    assert len(axes.images) == 1
    np.testing.assert_array_equal(axes.images[0].get_array(), volume[:, 1, :])
    assert axes.get_title() == "axial 2/4"
    assert list(axes.get_xticks()) == [] and list(axes.get_yticks()) == []


@pytest.mark.parametrize(
    ("plane", "aspect"), [("coronal", 1.0), ("axial", 3.0), ("sagittal", 1 / 3)]
)
def test_render_sets_aspect_from_voxel_spacing(volume, axes, plane, aspect):
    render_volume_slice(volume, 0, plane=plane, ax=axes, spacing=(3.0, 1.0, 1.0))
    assert axes.get_aspect() == pytest.approx(aspect)


def test_render_draws_mask_contours_and_leaves_input_alone(volume, axes):
    mask = np.zeros(volume.shape, np.uint8)
    mask[1, 1:3, 1:4] = 1
    before = volume.copy()
    render_volume_slice(volume, 1, ax=axes, mask=mask, title="glioma")
    assert axes.get_title() == "glioma"
    assert len(axes.collections) >= 1  # the tumour contour
    np.testing.assert_array_equal(volume, before)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"mask": np.zeros((3, 4, 4))}, ValueError, "mask shape"),
        ({"spacing": (1.0, 0.0, 1.0)}, ValueError, "three positive numbers"),
        ({"spacing": (1.0, 1.0)}, ValueError, "three positive numbers"),
        ({"spacing": ("a", 1, 1)}, TypeError, "spacing must be three numbers"),
    ],
)
def test_render_rejects_bad_arguments(volume, axes, kwargs, error, message):
    with pytest.raises(error, match=message):
        render_volume_slice(volume, 0, ax=axes, **kwargs)


def test_viewer_builds_without_a_display_and_reacts_to_the_slider(volume):
    viewer = volume_viewer({"T1": volume, "T2": volume[::-1].copy()}, plane="coronal")
    assert isinstance(viewer, widgets.Widget)
    (contrast,) = _widgets_of(viewer, widgets.Dropdown)
    (planes,) = _widgets_of(viewer, widgets.ToggleButtons)
    (slider,) = _widgets_of(viewer, widgets.IntSlider)
    (image,) = _widgets_of(viewer, widgets.Image)
    assert list(contrast.options) == ["T1", "T2"] and tuple(planes.options) == PLANES
    assert (slider.min, slider.max, slider.value) == (0, 2, 1)
    first = bytes(image.value)
    assert first.startswith(b"\x89PNG")
    slider.value = 0
    assert bytes(image.value) != first
    after_slider = bytes(image.value)
    contrast.value = "T2"
    assert bytes(image.value) != after_slider


def test_viewer_shows_the_png_at_its_pixel_size_in_every_plane():
    # a head as lesson 01 shows it: 64 coronal slices of 128 x 128, thick slices
    volume = np.random.default_rng(0).random((64, 128, 128)).astype(np.float32)
    spacing = (0.9 / 63, 2 / 127, 2 / 127)
    viewer = volume_viewer({"T1": volume, "T2": volume}, spacing=spacing)
    (image,) = _widgets_of(viewer, widgets.Image)
    (planes,) = _widgets_of(viewer, widgets.ToggleButtons)
    sizes = {}
    for plane in PLANES:
        planes.value = plane
        sizes[plane] = assert_shown_at_pixel_size(image)
        assert sizes[plane][1] + CONTROL_ROW_PX < MAX_VIEWER_HEIGHT_PX
    assert sizes["coronal"][1] == 400  # size * dpi: 4 inches at 100 dpi, drawn 1:1
    assert sizes["axial"][0] > sizes["coronal"][0] > sizes["sagittal"][0]  # true proportions
    assert viewer.layout.align_items == "flex-start"  # not stretched to the notebook's width


def test_viewer_controls_sit_in_one_row(volume):
    viewer = volume_viewer({"T1": volume, "T2": volume})
    (row,) = _widgets_of(viewer, widgets.HBox)
    (contrast,) = _widgets_of(viewer, widgets.Dropdown)
    (planes,) = _widgets_of(viewer, widgets.ToggleButtons)
    (slider,) = _widgets_of(viewer, widgets.IntSlider)
    assert list(row.children) == [contrast, planes, slider]
    assert row.layout.flex_flow == "row nowrap"
    assert int(planes.style.button_width.removesuffix("px")) <= 80  # three buttons in a row


def test_viewer_plane_change_resizes_the_slider(volume):
    viewer = volume_viewer(volume)
    (planes,) = _widgets_of(viewer, widgets.ToggleButtons)
    (slider,) = _widgets_of(viewer, widgets.IntSlider)
    planes.value = "sagittal"
    assert (slider.max, slider.value) == (4, 2)
    planes.value = "axial"
    assert (slider.max, slider.value) == (3, 2)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (({},), {}, ValueError, "volumes is empty"),
        (({"a": np.zeros((2, 3, 3)), "b": np.zeros((2, 3, 4))},), {}, ValueError, "one shape"),
        ((np.zeros((2, 3, 3)),), {"mask": np.zeros((2, 3, 4))}, ValueError, "mask shape"),
        ((np.zeros((2, 3, 3)),), {"plane": "oblique"}, ValueError, "plane must be one of"),
        ((np.zeros((2, 3, 3)),), {"dpi": 0}, ValueError, "dpi"),
        ((np.zeros((2, 3, 3)),), {"dpi": 100.0}, TypeError, "dpi must be an int"),
        ((np.zeros((2, 3, 3)),), {"size": "4"}, TypeError, "size must be a number"),
        ((np.zeros((2, 3)),), {}, ValueError, r"\(D, H, W\)"),
        (("volume.nii",), {}, TypeError, "dict of them"),
    ],
)
def test_viewer_rejects_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        volume_viewer(*args, **kwargs)


@pytest.mark.parametrize(
    ("plane", "sides"), [("coronal", ["R", "L"]), ("axial", ["R", "L"]), ("sagittal", ["A", "P"])]
)
def test_render_labels_the_image_sides_in_the_radiological_convention(volume, axes, plane, sides):
    render_volume_slice(volume, 0, plane=plane, ax=axes)
    assert [t.get_text() for t in axes.texts] == sides  # patient's right on the image's left
    _, bare = plt.subplots()
    assert len(render_volume_slice(volume, 0, plane=plane, ax=bare, sides=False).texts) == 0
