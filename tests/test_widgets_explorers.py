"""Lesson 02/03 explorers: the render functions' artists; the widgets built without a display."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest

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
    assert 0 <= a.min() and a.max() <= 1
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
