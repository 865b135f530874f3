import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib.plotting import plot_checkerboard, plot_overlay


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_checkerboard_alternates_tiles():
    fixed, moving = np.zeros((16, 16)), np.ones((16, 16))
    moving[0, 0] = 0.0  # keep a range so min-max scaling leaves it near 1
    _, ax = plt.subplots()
    out = plot_checkerboard(fixed, moving, ax=ax, tiles=4, title="after")
    assert out is ax
    assert ax.get_title() == "after"
    assert len(ax.images) == 1
    board = np.asarray(ax.images[0].get_array())
    assert board.shape == (16, 16)
    assert board[1, 1] != board[1, 5]  # neighbouring tiles come from different images
    assert board[1, 1] == board[5, 5]


def test_plot_overlay_colours_fixed_magenta_moving_green():
    fixed = np.zeros((8, 8))
    fixed[:, :4] = 1.0
    moving = np.zeros((8, 8))
    moving[:, 4:] = 5.0
    _, ax = plt.subplots()
    plot_overlay(fixed, moving, ax=ax, title="overlay")
    rgb = np.asarray(ax.images[0].get_array())
    assert rgb.shape == (8, 8, 3)
    np.testing.assert_allclose(rgb[0, 0], [1, 0, 1])
    np.testing.assert_allclose(rgb[0, 7], [0, 1, 0])
    assert ax.get_title() == "overlay"


def test_plot_overlay_constant_image_is_black():
    _, ax = plt.subplots()
    plot_overlay(np.full((4, 4), 3.0), np.full((4, 4), 3.0), ax=ax)
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), np.zeros((4, 4, 3)))


def test_registration_plots_reject_bad_input():
    with pytest.raises(ValueError, match="shape"):
        plot_overlay(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="fixed must be"):
        plot_checkerboard(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="tiles"):
        plot_checkerboard(np.zeros((4, 4)), np.zeros((4, 4)), tiles=1)
    with pytest.raises(TypeError, match="tiles must be an int"):
        plot_checkerboard(np.zeros((4, 4)), np.zeros((4, 4)), tiles=4.0)
