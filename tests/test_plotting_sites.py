"""plot_site_histograms: one step line per site, density scale, validation."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib.plotting import plot_site_histograms


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_one_labelled_step_line_per_site_in_sorted_order(ax):
    images = [np.zeros((4, 4)), np.ones((4, 4)), np.full((4, 4), 0.5)]
    out = plot_site_histograms(images, ["B", "A", "B"], ax=ax, bins=4, title="raw")
    assert out is ax
    assert [p.get_label() for p in ax.patches] == ["A", "B"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A", "B"]
    assert ax.get_title() == "raw" and ax.get_ylabel() == "density"


def test_masks_select_the_pixels_and_density_integrates_to_one(ax):
    image = np.zeros((4, 4))
    image[:2] = 10.0  # only these pixels are inside the mask
    mask = np.zeros((4, 4), bool)
    mask[:2] = True
    plot_site_histograms([image, image + 1], ["x", "y"], [mask, mask], ax=ax, bins=2)
    edges = np.array([10.0, 10.5, 11.0])  # the range of the selected pixels only
    for patch in ax.patches:
        xs, heights = patch.get_xy()[:, 0], patch.get_xy()[:, 1]
        assert xs.min() == pytest.approx(edges[0]) and xs.max() == pytest.approx(edges[-1])
        assert heights.max() * 0.5 == pytest.approx(1.0)  # one full bin of width 0.5


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([np.zeros((2, 2))], ["a", "b"]), {}, "one site per image"),
        (([], []), {}, "one site per image"),
        (([np.zeros((2, 2))], ["a"]), {"masks": []}, "got 0 masks"),
        (([np.zeros((2, 2))], ["a"]), {"masks": [np.ones((3, 3), bool)]}, r"masks\[0\] has shape"),
        (([np.zeros((2, 2))], ["a"]), {"masks": [np.zeros((2, 2), bool)]}, "select no pixel"),
        (([np.zeros((2, 2))], ["a"]), {"bins": 1}, "bins must be"),
    ],
)
def test_rejects_bad_arguments(ax, args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_site_histograms(*args, ax=ax, **kwargs)


def test_bins_must_be_an_int(ax):
    with pytest.raises(TypeError, match="bins must be an int"):
        plot_site_histograms([np.zeros((2, 2))], ["a"], ax=ax, bins=10.0)


def test_sites_get_the_colour_blind_palette(ax):
    from course_lib.plotting import class_colors

    images = [np.zeros((4, 4)), np.ones((4, 4)), np.full((4, 4), 0.5)]
    plot_site_histograms(images, ["C", "A", "B"], ax=ax, bins=4)
    colors = [tuple(np.round(p.get_edgecolor()[:3], 3)) for p in ax.patches]
    assert colors == [tuple(np.round(c, 3)) for c in class_colors(3)]
