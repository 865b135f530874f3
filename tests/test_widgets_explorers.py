"""Lesson 02/03 explorers: the render functions' artists; the widgets built without a display."""

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from course_lib import transforms
from course_lib.preprocessing import dice, strip_skull
from course_lib.widgets import (
    augmentation_explorer,
    augmented_versions,
    render_augmentations,
    render_skull_strip,
    skull_strip_explorer,
)


@pytest.fixture
def head() -> tuple[np.ndarray, np.ndarray]:
    """A 48x48 'head': bright ring (scalp), dark gap (skull), grey disc (brain); its true mask."""
    yy, xx = np.mgrid[:48, :48]
    r = np.hypot(yy - 23.5, xx - 23.5)
    image = np.where(r < 14, 0.6, 0.0) + np.where((r >= 17) & (r < 21), 0.9, 0.0)
    return image.astype(np.float32), r < 14


@pytest.fixture
def close_figures():
    yield
    plt.close("all")


def _find(root, kind):
    found = [root] if isinstance(root, kind) else []
    for child in getattr(root, "children", ()):
        found += _find(child, kind)
    return found


#: A JupyterLab window is about 1000 pixels high; one row of controls takes about 40.
MAX_VIEWER_HEIGHT_PX, CONTROL_ROW_PX = 900, 40


def _check_layout(viewer, controls) -> tuple[int, int]:
    """One Image at its PNG's pixel size under one row holding ``controls``; the PNG size."""
    (picture,) = _find(viewer, widgets.Image)
    width, height = Image.open(io.BytesIO(bytes(picture.value))).size
    assert (picture.width, picture.height) == (str(width), str(height))
    assert (picture.layout.width, picture.layout.height) == (f"{width}px", f"{height}px")
    assert height + CONTROL_ROW_PX < MAX_VIEWER_HEIGHT_PX
    (row,) = _find(viewer, widgets.HBox)
    assert list(row.children) == controls and row.layout.flex_flow == "row nowrap"
    assert viewer.layout.align_items == "flex-start"
    return width, height


def test_explorers_show_their_png_at_pixel_size_under_one_row_of_controls():
    image = np.zeros((128, 128), np.float32)
    image[32:96, 32:96] = 0.8
    viewer = skull_strip_explorer(image)
    controls = [_find(viewer, widgets.IntSlider)[0], _find(viewer, widgets.FloatSlider)[0]]
    assert _check_layout(viewer, controls) == (700, 350)  # 7 x 3.5 inches at 100 dpi
    viewer = augmentation_explorer(image, n=7)
    controls = [_find(viewer, widgets.Dropdown)[0], _find(viewer, widgets.IntSlider)[0]]
    assert _check_layout(viewer, controls) == (880, 470)  # 4 panels of 2.2 inches, 2 rows
    (seed,) = _find(viewer, widgets.IntSlider)
    seed.value = 3  # a redraw keeps the declared size in step with the new PNG
    _check_layout(viewer, controls)


def test_render_skull_strip_draws_outlines_dice_and_stripped_image(head, close_figures):
    image, truth = head
    before = image.copy()
    axes = render_skull_strip(image, truth=truth, erosion_radius=2, smoothing=0)
    assert len(axes) == 2
    expected = dice(strip_skull(image, smoothing=0, erosion_radius=2), truth)
    assert axes[0].get_title() == f"Dice {expected:.3f} (erosion r=2)"
    assert len(axes[0].collections) == 2  # estimated and true outlines
    stripped = axes[1].images[0].get_array()
    assert stripped[0, 0] == 0 and stripped[4, 23] == 0  # scalp gone
    assert stripped[23, 23] == pytest.approx(0.6)
    np.testing.assert_array_equal(image, before)


def test_render_skull_strip_without_truth_has_one_outline(head, close_figures):
    axes = render_skull_strip(head[0], erosion_radius=2)
    assert axes[0].get_title() == "erosion r=2" and len(axes[0].collections) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"truth": np.zeros((48, 48))}, TypeError, "bool mask"),
        ({"truth": np.zeros((8, 8), bool)}, ValueError, "truth has shape"),
        ({"axes": [None]}, ValueError, "need 2 axes"),
    ],
)
def test_render_skull_strip_rejects_bad_arguments(head, kwargs, error, message, close_figures):
    with pytest.raises(error, match=message):
        render_skull_strip(head[0], **kwargs)


@pytest.mark.parametrize(
    ("image", "error", "message"),
    [(np.zeros((48,)), ValueError, "2D"), (np.zeros((4, 4)), ValueError, "8x8"),
     (np.zeros((9, 9), bool), TypeError, "numbers")],
)  # fmt: skip
def test_explorers_reject_bad_images(image, error, message):
    with pytest.raises(error, match=message):
        skull_strip_explorer(image)
    with pytest.raises(error, match=message):
        augmentation_explorer(image)


def test_skull_strip_explorer_reacts_to_the_sliders(head):
    viewer = skull_strip_explorer(*head)
    erosion, smoothing = _find(viewer, widgets.IntSlider)[0], _find(viewer, widgets.FloatSlider)[0]
    (picture,) = _find(viewer, widgets.Image)
    first = bytes(picture.value)
    assert first.startswith(b"\x89PNG") and erosion.value == 2
    erosion.value = 5
    second = bytes(picture.value)
    assert second != first
    smoothing.value = 2.5
    assert bytes(picture.value) != second
    assert plt.get_fignums() == []  # drawn off-screen, no figure left behind


def test_augmented_versions_repeat_with_a_seed_and_differ_between_seeds(head):
    image = head[0]
    a = augmented_versions(image, strength="strong", seed=1, n=3)
    assert a.shape == (3, 48, 48) and a.dtype == np.float32
    # the pipeline's normalised output, mapped back to display intensities and clipped
    pipeline = transforms.train_transform(48, seed=1, strength="strong")
    as_uint8 = np.round(image * 255).astype(np.uint8)
    raw = np.stack([pipeline(image=as_uint8.copy())["image"] for _ in range(3)])
    np.testing.assert_allclose(a, np.clip(raw * transforms.STD + transforms.MEAN, 0, 1), atol=1e-6)
    assert a.min() == 0.0 and (raw * transforms.STD + transforms.MEAN).min() < 0  # clipped
    np.testing.assert_array_equal(a, augmented_versions(image, strength="strong", seed=1, n=3))
    assert not np.array_equal(a, augmented_versions(image, strength="strong", seed=2, n=3))
    assert not np.array_equal(a[0], a[1])


def test_augmented_versions_none_strength_is_the_identity_up_to_rounding(head):
    image = (head[0] * 255).round().astype(np.uint8)
    out = augmented_versions(image, strength="none", n=2, image_size=48)
    np.testing.assert_allclose(out[1], image / 255, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"n": 0}, "n must be"), ({"strength": "extreme"}, "strength")]
)
def test_augmented_versions_rejects_bad_arguments(head, kwargs, message):
    with pytest.raises(ValueError, match=message):
        augmented_versions(head[0], **kwargs)


def test_render_augmentations_titles_panels_and_switches_off_spares(head, close_figures):
    fig, axes = plt.subplots(2, 3)
    flat = render_augmentations(head[0], strength="light", n=4, axes=axes)
    assert [ax.get_title() for ax in flat[:5]] == ["original"] + [
        f"light #{k}" for k in range(1, 5)
    ]
    assert not flat[5].axison and all(len(ax.images) == 1 for ax in flat[:5])
    with pytest.raises(ValueError, match="need 5 axes"):
        render_augmentations(head[0], n=4, axes=axes[0])


def test_augmentation_explorer_reacts_to_strength_and_seed(head):
    viewer = augmentation_explorer(head[0], n=3)
    (strength,) = _find(viewer, widgets.Dropdown)
    (seed,) = _find(viewer, widgets.IntSlider)
    (picture,) = _find(viewer, widgets.Image)
    first = bytes(picture.value)
    seed.value = 7
    second = bytes(picture.value)
    assert second != first
    strength.value = "strong"
    assert bytes(picture.value) != second
    assert plt.get_fignums() == []


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"n": 0}, "n must be"), ({"dpi": 5}, "dpi"), ({"size": 0}, "size")]
)
def test_explorers_reject_bad_sizes(head, kwargs, message):
    with pytest.raises(ValueError, match=message):
        augmentation_explorer(head[0], **kwargs)
    if "n" not in kwargs:
        with pytest.raises(ValueError, match=message):
            skull_strip_explorer(head[0], **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n": 2.0}, "n must be an int"), ({"dpi": 80.0}, "dpi must be an int"),
     ({"size": "2"}, "size must be a number")],
)  # fmt: skip
def test_explorers_reject_sizes_of_the_wrong_kind(head, kwargs, message):
    with pytest.raises(TypeError, match=message):
        augmentation_explorer(head[0], **kwargs)
    if "n" not in kwargs:
        with pytest.raises(TypeError, match=message):
            skull_strip_explorer(head[0], **kwargs)
    else:
        with pytest.raises(TypeError, match=message):
            augmented_versions(head[0], **kwargs)
