from __future__ import annotations

import matplotlib.colors
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib.plotting import MASK_COLORS, plot_image_grid, plot_slice


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _disc(size: int = 32, radius: int = 6) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < radius**2).astype(np.uint8)


def test_plot_slice_draws_image_title_and_no_ticks(rng):
    image = rng.random((32, 32)).astype(np.float32)
    _, ax = plt.subplots()
    out = plot_slice(image, ax=ax, title="glioma")
    assert out is ax
    assert len(ax.images) == 1
    assert ax.get_title() == "glioma"
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    np.testing.assert_array_equal(ax.images[0].get_array(), image)


def test_plot_slice_mask_contours_per_value(rng):
    mask = _disc()
    mask[2:6, 2:6] = 2  # an "edema" patch
    _, ax = plt.subplots()
    plot_slice(rng.random((32, 32)), ax=ax, mask=mask, alpha=0.3)
    contours = ax.collections
    assert len(contours) == 2  # one contour set per mask value
    colors = {tuple(np.round(c.get_edgecolor()[0][:3], 3)) for c in contours}
    expected = {tuple(np.round(matplotlib.colors.to_rgb(c), 3)) for c in MASK_COLORS[:2]}
    assert colors == expected
    assert len(ax.images) == 3  # the slice and one filled overlay per value


def test_plot_slice_accepts_channel_first_and_uses_current_axes(rng):
    plt.figure()
    ax = plot_slice(rng.random((1, 16, 16)))
    assert ax is plt.gca()
    assert ax.images[0].get_array().shape == (16, 16)


def test_plot_slice_errors(rng):
    with pytest.raises(ValueError, match="image"):
        plot_slice(rng.random((2, 8, 8)))
    with pytest.raises(ValueError, match="mask shape"):
        plot_slice(rng.random((8, 8)), mask=np.zeros((4, 4)))


def test_plot_image_grid_layout_titles_and_unused_axes(rng):
    images = rng.random((5, 16, 16))
    axes = plot_image_grid(images, titles=list("abcde"), ncols=3)
    assert axes.shape == (2, 3)
    assert [ax.get_title() for ax in axes.ravel()[:5]] == list("abcde")
    assert not axes.ravel()[5].axison
    assert all(len(ax.images) == 1 for ax in axes.ravel()[:5])


def test_plot_image_grid_masks_and_given_axes(rng):
    _, given = plt.subplots(1, 2)
    masks = [_disc(16, 4), None]
    axes = plot_image_grid(rng.random((2, 16, 16)), masks=masks, axes=given)
    assert axes[0, 0] is given[0]
    assert len(given[0].collections) == 1
    assert len(given[1].collections) == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"images": []}, "empty"),
        ({"titles": ["a"]}, "titles"),
        ({"masks": [None]}, "masks"),
        ({"ncols": 0}, "ncols"),
    ],
)
def test_plot_image_grid_errors(rng, kwargs, match):
    args = {"images": rng.random((2, 8, 8)), **kwargs}
    with pytest.raises(ValueError, match=match):
        plot_image_grid(**args)


def test_plot_image_grid_ncols_must_be_an_int(rng):
    with pytest.raises(TypeError, match="ncols must be an int"):
        plot_image_grid(rng.random((2, 8, 8)), ncols=2.0)


def test_plot_image_grid_too_few_axes(rng):
    _, given = plt.subplots(1, 2)
    with pytest.raises(ValueError, match="axes"):
        plot_image_grid(rng.random((3, 8, 8)), axes=given)


def test_plot_slice_writes_the_side_labels_at_the_image_edges(rng):
    _, ax = plt.subplots()
    plot_slice(rng.random((16, 16)), ax=ax, sides=("R", "L"))
    left, right = ax.texts
    assert (left.get_text(), right.get_text()) == ("R", "L")  # patient's right on image's left
    assert left.get_position()[0] < 0.5 < right.get_position()[0]
    assert left.get_transform() == ax.transAxes
    _, bare = plt.subplots()
    assert len(plot_slice(rng.random((16, 16)), ax=bare).texts) == 0  # off by default


def test_plot_slice_draws_a_labelled_colorbar(rng):
    fig, ax = plt.subplots()
    plot_slice(rng.random((16, 16)), ax=ax, colorbar="gain", cmap="magma")
    assert len(fig.axes) == 2
    assert fig.axes[1].get_ylabel() == "gain"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sides": "RL"}, ValueError, "sides must be two labels"),
        ({"sides": ("R", "L", "S")}, ValueError, "sides must be two labels"),
        ({"colorbar": True}, TypeError, "colorbar must be"),
    ],
)
def test_plot_slice_rejects_bad_sides_and_colorbar(rng, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_slice(rng.random((8, 8)), **kwargs)


def test_plot_image_grid_sides_for_all_or_per_panel(rng):
    images = rng.random((3, 8, 8))
    axes = plot_image_grid(images, sides=("R", "L"), ncols=3)
    assert [[t.get_text() for t in ax.texts] for ax in axes.ravel()] == [["R", "L"]] * 3
    axes = plot_image_grid(images, sides=[("R", "L"), None, ("A", "P")], ncols=3)
    assert [[t.get_text() for t in ax.texts] for ax in axes.ravel()] == [["R", "L"], [], ["A", "P"]]
    with pytest.raises(ValueError, match="sides has 2 entries for 3 images"):
        plot_image_grid(images, sides=[("R", "L"), None])


def test_plot_class_balance_colours_splits_with_the_colour_blind_palette():
    import pandas as pd

    from course_lib.plotting import class_colors, plot_class_balance

    _, ax = plt.subplots()
    frame = pd.DataFrame({"train": [3, 4], "test": [1, 2]}, index=["a", "b"])
    plot_class_balance(frame, ["a", "b"], ax=ax)
    first = [tuple(np.round(c.patches[0].get_facecolor()[:3], 3)) for c in ax.containers]
    assert first == [tuple(np.round(c, 3)) for c in class_colors(2)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "test"]  # bar order


def test_plot_throughput_draws_dots_not_bars_on_a_log_axis_with_plain_ticks():
    import matplotlib.ticker

    from course_lib.plotting import plot_throughput

    fig, ax = plt.subplots(figsize=(8, 3))
    speeds = {"no augmentation": 2900.0, "augmentation": 1250.0, "+ cache": 1500.0}
    out = plot_throughput(speeds, reference=31.0, reference_label="SimpleCNN", ax=ax, title="t")
    assert out is ax and ax.get_xscale() == "log" and ax.get_title() == "t"
    assert len(ax.patches) == 0  # no bars
    assert [t.get_text() for t in ax.get_yticklabels()] == list(speeds)
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # first setting on top
    assert [t.get_text() for t in ax.texts] == ["2,900/s", "1,250/s", "1,500/s"]
    assert ax.get_legend_handles_labels()[1] == ["loader", "SimpleCNN"]  # dots first
    assert isinstance(ax.xaxis.get_minor_formatter(), matplotlib.ticker.NullFormatter)
    fig.canvas.draw()
    shown = [t for t in ax.get_xticklabels() if t.get_text()]
    lo, hi = ax.get_xlim()
    inside = [t.get_text() for t in shown if lo <= t.get_position()[0] <= hi]
    assert inside == ["20", "50", "100", "200", "500", "1,000", "2,000"]
    boxes = [t.get_window_extent() for t in shown if lo <= t.get_position()[0] <= hi]
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:], strict=False))  # no overlap


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (({},), {}, ValueError, "speeds is empty"),
        (({"a": 0.0},), {}, ValueError, "positive numbers"),
        (({"a": 10.0},), {"reference": -1.0}, ValueError, "reference must be"),
        (([10.0],), {}, TypeError, "speeds must be"),
    ],
)
def test_plot_throughput_rejects_bad_arguments(args, kwargs, error, match):
    from course_lib.plotting import plot_throughput

    with pytest.raises(error, match=match):
        plot_throughput(*args, **kwargs)


def test_plot_image_grid_leaves_room_between_rows_for_two_line_titles(rng):
    images = rng.random((4, 8, 8))
    one = plot_image_grid(images, titles=list("abcd"), ncols=2)
    two = plot_image_grid(images, titles=["a\nb"] * 4, ncols=2)
    fig = two[0, 0].figure
    fig.canvas.draw()
    title = two[1, 0].title.get_window_extent()
    above = two[0, 0].get_window_extent()
    assert title.y1 < above.y0  # the second row's titles stay below the first row's panels
    assert two[0, 0].get_gridspec().hspace > one[0, 0].get_gridspec().hspace
