"""plot_interval_bars: grouped horizontal bars with error bars, legend in bar order."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from course_lib.plotting import class_colors, plot_interval_bars


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def _frame():
    index = pd.MultiIndex.from_product([["plain", "weighted"], ["glioma", "notumor"]])
    return pd.DataFrame(
        {"point": [0.1, 0.9, 0.5, 0.8], "low": [0.0, 0.8, 0.4, np.nan], "high": [0.2, 1, 0.6, 0.9]},
        index=index,
    )


def test_bars_groups_legend_and_error_bars(ax):
    out = plot_interval_bars(_frame(), ax=ax, xlabel="recall", legend_title="class")
    assert out is ax
    assert [t.get_text() for t in ax.get_yticklabels()] == ["plain", "weighted"]
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["glioma", "notumor"]
    assert legend.get_title().get_text() == "class"
    assert ax.get_xlabel() == "recall" and ax.get_xlim() == (0.0, 1.0)
    bars = ax.containers  # per bar name: its bars, then its error bars
    glioma, notumor = bars[0], bars[2]
    assert [round(p.get_width(), 2) for p in glioma] == [0.1, 0.5]
    # the first group is drawn on top, and within it glioma above notumor (the legend's order)
    assert glioma[0].get_y() > glioma[1].get_y()
    assert glioma[0].get_y() > notumor[0].get_y()
    assert tuple(glioma[0].get_facecolor()[:3]) == pytest.approx(class_colors(2)[0])
    assert len(ax.lines) + len(ax.collections) > 0  # error bars


def test_given_colours_are_used(ax):
    plot_interval_bars(_frame(), ax=ax, colors=["0.25", "0.75"])
    assert ax.containers[2][0].get_facecolor()[:3] == pytest.approx((0.75, 0.75, 0.75))


@pytest.mark.parametrize(
    ("frame", "kwargs", "error", "match"),
    [
        ([1, 2], {}, TypeError, "frame must be"),
        (pd.DataFrame({"point": [0.5]}), {}, ValueError, "two-level index"),
        (_frame().drop(columns="low"), {}, ValueError, r"missing columns \['low'\]"),
        (_frame().iloc[:0], {}, ValueError, "needs rows"),
        (_frame(), {"colors": ["red"]}, ValueError, "colors has 1 colours for 2 bars"),
    ],
)
def test_plot_interval_bars_rejects_bad_arguments(frame, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_interval_bars(frame, **kwargs)
