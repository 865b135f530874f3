from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from course_lib.config import CLASS_NAMES
from course_lib.evaluation import errors_by_patient
from course_lib.metrics import bootstrap_report
from course_lib.plotting import (
    class_colors,
    plot_class_balance,
    plot_confusion_matrix,
    plot_errors_by_patient,
    plot_metric_intervals,
    plot_pr_curves,
    plot_reliability_diagram,
    plot_roc_curves,
)


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


@pytest.fixture
def predictions(rng):
    y = rng.integers(0, 4, size=120)
    z = rng.normal(size=(120, 4)) + 2.0 * np.eye(4)[y]
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return y, probs


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_confusion_matrix_counts(ax):
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 2, 0]
    out = plot_confusion_matrix(y_true, y_pred, ["a", "b", "c"], ax=ax)
    assert out is ax
    assert _texts(ax) == ["1", "1", "0", "0", "1", "0", "1", "0", "2"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert ax.get_xlabel() == "predicted class"
    assert ax.get_ylabel() == "true class"


def test_confusion_matrix_normalized_from_probs(ax, predictions):
    y, probs = predictions
    plot_confusion_matrix(y, probs, normalize="true", ax=ax)
    values = np.array([float(t) for t in _texts(ax)]).reshape(4, 4)
    np.testing.assert_allclose(values.sum(axis=1), 1.0, atol=0.02)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASS_NAMES)
    assert "rows sum to 1" in ax.get_title()


def test_confusion_matrix_class_absent_shows_zero(ax):
    plot_confusion_matrix([0, 0, 1], [0, 1, 1], ["a", "b", "c"], normalize="true", ax=ax)
    assert _texts(ax)[-3:] == ["0.00", "0.00", "0.00"]


def test_confusion_matrix_raises(ax):
    with pytest.raises(ValueError, match="normalize"):
        plot_confusion_matrix([0, 1], [0, 1], ["a", "b"], normalize="rows", ax=ax)
    with pytest.raises(ValueError, match="labels must be < 2"):
        plot_confusion_matrix([0, 2], [0, 1], ["a", "b"], ax=ax)


def test_roc_curves(ax, predictions):
    y, probs = predictions
    out = plot_roc_curves(y, probs, ax=ax)
    assert out is ax
    assert len(ax.lines) == 5  # four classes and the chance diagonal
    legend = _legend(ax)
    assert legend[0].startswith("glioma (AUROC 0.")
    assert legend[-1] == "chance"
    assert "sensitivity" in ax.get_ylabel()


def test_roc_curves_absent_class(ax):
    probs = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    plot_roc_curves([0, 1, 0], probs, ["a", "b", "c"], ax=ax)
    assert "c (no positives)" in _legend(ax)


def test_curves_differ_by_style_and_zoom(ax, predictions):
    y, probs = predictions
    plot_roc_curves(y, probs, ax=ax, zoom=(0, 0.2, 0.8, 1.0))
    lines = ax.lines[:4]
    assert [line.get_linestyle() for line in lines[:3]] == ["-", "--", "-."]
    assert lines[3].get_linestyle() != "-"  # dash-dot-dot
    assert lines[0].get_linewidth() > lines[-1].get_linewidth()  # first drawn widest
    assert [line.get_color() for line in lines] == class_colors(4)
    assert ax.get_xlim() == pytest.approx((-0.004, 0.204))
    assert ax.get_ylim() == pytest.approx((0.796, 1.004))
    assert ax.get_title().endswith("zoomed")


@pytest.mark.parametrize(
    ("zoom", "error"),
    [
        ((0, 0.2, 0.8), TypeError),
        ("corner", TypeError),
        ((0.5, 0.2, 0, 1), ValueError),
        ((0, 1.2, 0, 1), ValueError),
    ],
)
def test_curves_zoom_raises(ax, predictions, zoom, error):
    y, probs = predictions
    with pytest.raises(error, match="zoom must"):
        plot_pr_curves(y, probs, ax=ax, zoom=zoom)


def test_pr_curves(ax, predictions):
    y, probs = predictions
    plot_pr_curves(y, probs, ax=ax)
    assert len(ax.lines) == 8  # four curves and four prevalence lines
    assert _legend(ax)[3].startswith("pituitary (AP 0.")
    prevalence = sorted(line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == ":")
    np.testing.assert_allclose(prevalence, sorted(np.bincount(y) / len(y)))


def test_reliability_diagram(ax, predictions):
    y, probs = predictions
    plot_reliability_diagram(probs, y, n_bins=10, ax=ax)
    counts = np.bincount((probs.max(1) * 10).astype(int), minlength=10)
    assert len(ax.patches) == int((counts > 0).sum())
    assert _texts(ax) == [str(c) for c in counts if c > 0]  # slices per bin, left to right
    alphas = [p.get_alpha() for p in ax.patches]
    assert alphas[int(np.argmax(counts[counts > 0]))] == max(alphas)  # fullest bin darkest
    legend = _legend(ax)
    assert any(t.startswith("model (ECE 0.") for t in legend)
    assert "perfect calibration" in legend
    assert ax.get_legend().get_title().get_text() == "numbers: slices per bin"


def test_reliability_diagram_raises(ax):
    with pytest.raises(ValueError, match="n_bins"):
        plot_reliability_diagram([[0.5, 0.5]], [0], n_bins=0, ax=ax)


def test_class_balance_from_labels(ax):
    out = plot_class_balance([0, 0, 0, 1, 2, 2, 3, 3], ax=ax)
    assert out is ax
    heights = [p.get_height() for p in ax.patches]
    assert heights == [3, 1, 2, 2]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASS_NAMES)
    assert "3\n(38%)" in _texts(ax)


def test_class_balance_from_counts_and_splits(ax):
    plot_class_balance({"b": 5, "a": 15}, ["a", "b"], ax=ax)
    assert [p.get_height() for p in ax.patches] == [15, 5]
    plt.close(ax.figure)
    fig, ax2 = plt.subplots()
    frame = pd.DataFrame({"train": [30, 10], "test": [8, 2]}, index=["a", "b"])
    plot_class_balance(frame, ["a", "b"], ax=ax2)
    assert sorted(p.get_height() for p in ax2.patches if p.get_height() > 0) == [2, 8, 10, 30]
    assert [t.get_text() for t in ax2.get_legend().get_texts()] == ["train", "test"]
    plt.close(fig)


def test_class_balance_raises(ax):
    with pytest.raises(ValueError, match="label 4 but only 4"):
        plot_class_balance([0, 4], ax=ax)
    with pytest.raises(TypeError, match="integer"):
        plot_class_balance([0.5, 1.0], ax=ax)
    with pytest.raises(ValueError, match="unknown classes"):
        plot_class_balance({"astrocytoma": 3}, ax=ax)


def test_metric_intervals(ax, predictions):
    y, probs = predictions
    frame = bootstrap_report(y, probs, n_resamples=30)
    out = plot_metric_intervals(frame, ax=ax)
    assert out is ax
    assert [t.get_text() for t in ax.get_yticklabels()] == list(frame.index)
    assert ax.get_yticks()[0] > ax.get_yticks()[-1]  # first metric on top
    acc = frame.loc["accuracy"]
    label = f"{acc['point']:.3f} [{acc['low']:.3f}, {acc['high']:.3f}], 120 patients"
    assert label in _texts(ax)


def test_metric_intervals_methods_and_patients(ax, predictions):
    y, probs = predictions
    frame = bootstrap_report(y, probs, groups=np.arange(len(y)) // 3, n_resamples=30)
    plot_metric_intervals(frame, ax=ax)
    assert _legend(ax) == ["Wilson", "patient bootstrap"]
    row = frame.loc["sensitivity (glioma)"]
    label = f"{row['point']:.3f} [{row['low']:.3f}, {row['high']:.3f}], {row['patients']} patients"
    assert label in _texts(ax)


def test_metric_intervals_nan_row_has_no_label(ax):
    frame = pd.DataFrame(
        {"point": [0.8, np.nan], "low": [0.7, np.nan], "high": [0.9, np.nan]}, index=["a", "b"]
    )
    plot_metric_intervals(frame, ax=ax)
    assert _texts(ax) == ["0.800 [0.700, 0.900]"]


def test_metric_intervals_raises(ax):
    with pytest.raises(TypeError, match="DataFrame"):
        plot_metric_intervals({"point": [1.0]}, ax=ax)
    with pytest.raises(ValueError, match="missing"):
        plot_metric_intervals(pd.DataFrame({"point": [1.0]}), ax=ax)


def test_default_axes_is_current():
    fig = plt.figure()
    ax = plot_class_balance([0, 1, 2, 3])
    assert ax is fig.gca()
    plt.close(fig)


def test_errors_by_patient_plot(ax):
    table = errors_by_patient(
        [0, 0, 1, 1, 2, 2], [0, 1, 0, 0, 2, 2], ["a", "a", "b", "b", "c", "c"], ["x", "y", "z"]
    )
    out = plot_errors_by_patient(table, ["x", "y", "z"], ax=ax)
    assert out is ax
    assert _legend(ax) == ["slices of the patient", "wrong (y)", "wrong (x)"]  # bar order
    heights = [p.get_height() for p in ax.patches]
    assert heights == [2, 2, 2, 2, 1]  # grey bars for slices, then wrong per class
    assert ax.get_title() == "Wrong slices per patient: 3 in 2 of 3 patients"


def test_errors_by_patient_plot_raises(ax):
    with pytest.raises(TypeError, match="DataFrame"):
        plot_errors_by_patient({"true": ["x"]}, ax=ax)
    with pytest.raises(ValueError, match="missing"):
        plot_errors_by_patient(pd.DataFrame({"true": ["x"]}), ax=ax)
    table = pd.DataFrame({"true": ["astro"], "slices": [2], "wrong": [1]})
    with pytest.raises(ValueError, match="unknown classes"):
        plot_errors_by_patient(table, ax=ax)
