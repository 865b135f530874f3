"""Axes-level plots for the course: ``plot_x(data, *, ax=None, ...) -> Axes``.

Each function draws on the given axes (or the current ones), returns them and never calls
``plt.show()``; combine them with ``fig, axes = plt.subplots(...)``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from skimage.util import compare_images
from sklearn.metrics import confusion_matrix

from course_lib._validation import check_choice, check_int, check_type
from course_lib.config import CLASS_NAMES
from course_lib.metrics import (
    check_labels,
    expected_calibration_error,
    labels_and_predictions,
    one_vs_rest_curves,
    reliability_curve,
)

# ----------------------------------------------------------------------------- image plots
#: Colours of the mask values in :func:`plot_slice`, for the synthetic tumour labels
#: (:data:`course_lib.anatomy.TUMOR_LABELS`): 1 necrotic or non-enhancing core, 2 edema,
#: 3 enhancing tumour, 4+ anything else.
MASK_COLORS: tuple[str, ...] = ("tab:red", "gold", "tab:cyan", "tab:green")


def _image_2d(image, name: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 2:
        raise ValueError(f"{name} must be (H, W) or (1, H, W), got shape {image.shape}")
    return image


def plot_slice(
    image,
    *,
    ax: Axes | None = None,
    mask=None,
    title: str | None = None,
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    alpha: float = 0.0,
    sides: tuple[str, str] | None = None,
    colorbar: str | None = None,
) -> Axes:
    """Show one MRI slice, optionally with a mask drawn as contours.

    The course's slices follow the radiological convention: the patient's right is on the
    image's left (coronal and axial slices), and the front of the head on the left of a
    sagittal slice. ``sides=("R", "L")`` writes that on the image (``("A", "P")`` for sagittal).

    Args:
        image: ``(H, W)`` (or ``(1, H, W)``) array, any real dtype; rows are drawn top down.
        ax: Axes to draw on (default: the current axes).
        mask: Optional ``(H, W)`` integer/bool mask; each non-zero value gets a contour in its
            colour from :data:`MASK_COLORS` (1 core red, 2 edema yellow, 3 enhancing cyan).
        title: Axes title.
        cmap: Matplotlib colour map.
        vmin: Lower end of the colour scale (default: the image's minimum).
        vmax: Upper end of the colour scale (default: the image's maximum).
        alpha: Opacity of a filled overlay of the mask under the contours (0 for none).
        sides: Two short labels written inside the image at mid-height, by its left and right
            edges (e.g. ``("R", "L")``), or ``None`` for none.
        colorbar: Label of a colour bar drawn next to the image, or ``None`` for no bar.

    Returns:
        The axes, with the image, no ticks, equal aspect (and the side labels as texts).

    Raises:
        ValueError: If ``image`` is not 2D, ``mask`` does not match its shape, or ``sides`` is
            not two labels.
        TypeError: If ``colorbar`` is not a string.
    """
    image = _image_2d(image)
    if sides is not None and (isinstance(sides, str) or len(sides) != 2):
        raise ValueError(f"sides must be two labels such as ('R', 'L'), got {sides!r}")
    if colorbar is not None:
        check_type("colorbar", colorbar, str, "a label (str) or None")
    ax = plt.gca() if ax is None else ax
    shown = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    if mask is not None:
        mask = _image_2d(mask, "mask")
        if mask.shape != image.shape:
            raise ValueError(f"mask shape {mask.shape} does not match image shape {image.shape}")
        mask = mask.astype(np.int64)
        for value in np.unique(mask[mask > 0]):
            color = MASK_COLORS[min(int(value), len(MASK_COLORS)) - 1]
            region = (mask == value).astype(float)
            ax.contour(region, levels=[0.5], colors=[color], linewidths=1.0)
            if alpha > 0:
                overlay = np.ma.masked_where(region == 0, region)
                ax.imshow(overlay, cmap=ListedColormap([color]), alpha=alpha, vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize="small")
    if sides is not None:
        style = {"va": "center", "color": "gold", "fontsize": "small", "fontweight": "bold"}
        for x, label, align in ((0.02, sides[0], "left"), (0.98, sides[1], "right")):
            ax.text(x, 0.5, str(label), transform=ax.transAxes, ha=align, **style)
    if colorbar is not None:
        ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.03, label=colorbar)
    return ax


def plot_image_grid(
    images,
    *,
    titles=None,
    masks=None,
    ncols: int = 4,
    axes=None,
    cmap: str = "gray",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    panel_size: float = 2.2,
    sides=None,
) -> np.ndarray:
    """Show several slices in a grid (one :func:`plot_slice` each).

    Args:
        images: ``(N, H, W)`` array or a sequence of ``(H, W)`` arrays.
        titles: ``N`` titles, or ``None``.
        masks: ``N`` masks (``(N, H, W)`` or a sequence, entries may be ``None``), or ``None``.
        ncols: Columns of the grid when ``axes`` is not given.
        axes: Existing axes (any shape, at least ``N`` of them); default: a new figure.
        cmap: Colour map.
        vmin: Lower end of every panel's colour scale (``None``: each panel's own minimum).
        vmax: Upper end of every panel's colour scale (``None``: each panel's own maximum).
        panel_size: Inches per panel of a new figure.
        sides: Side labels for every panel (a pair such as ``("R", "L")``), one entry per image
            (pairs or ``None``, for slices cut in different planes), or ``None`` for none; see
            :func:`plot_slice`.

    Returns:
        2D array of the axes (unused ones are switched off).

    Raises:
        ValueError: If there are no images, ``ncols`` < 1, too few axes, or ``titles``/``masks``
            /``sides`` have the wrong length.
        TypeError: If ``ncols`` is not an int.
    """
    images = list(images)
    n = len(images)
    if n == 0:
        raise ValueError("images is empty; pass at least one (H, W) image")
    if sides is not None and len(sides) == 2 and all(isinstance(side, str) for side in sides):
        sides = [tuple(sides)] * n  # one pair for every panel
    for name, extra in (("titles", titles), ("masks", masks), ("sides", sides)):
        if extra is not None and len(extra) != n:
            raise ValueError(f"{name} has {len(extra)} entries for {n} images")
    if axes is None:
        ncols = check_int("ncols", ncols, minimum=1)
        ncols = min(ncols, n)
        nrows = -(-n // ncols)
        lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles else 0
        _, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(panel_size * ncols, panel_size * nrows),
            squeeze=False,
            gridspec_kw={"hspace": 0.1 + 0.13 * lines},  # room for the titles between the rows
        )
    axes = np.asarray(axes, dtype=object)
    axes = axes.reshape(1, -1) if axes.ndim < 2 else axes
    flat = axes.ravel()
    if flat.size < n:
        raise ValueError(f"{flat.size} axes given for {n} images")
    for i, ax in enumerate(flat):
        if i >= n:
            ax.set_axis_off()
            continue
        plot_slice(
            images[i],
            ax=ax,
            mask=None if masks is None else masks[i],
            title=None if titles is None else titles[i],
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            sides=None if sides is None else sides[i],
        )
    return axes


# ----------------------------------------------------------------------------- evaluation plots
def _check_table(name: str, table, columns: tuple[str, ...], source: str) -> None:
    """Raise unless ``table`` is a non-empty DataFrame with ``columns`` (made by ``source``)."""
    check_type(name, table, pd.DataFrame, "a pandas DataFrame")
    missing = [c for c in columns if c not in table.columns]
    if missing or table.empty:
        raise ValueError(
            f"{name} needs rows and the columns {', '.join(columns)} (missing {missing}); "
            f"use {source}"
        )


def _eval_axes(ax: Axes | None) -> Axes:
    return plt.gca() if ax is None else ax


def plot_confusion_matrix(
    y_true,
    y_pred,
    class_names=None,
    *,
    normalize: str | None = None,
    ax: Axes | None = None,
    cmap: str = "Blues",
) -> Axes:
    """Confusion matrix as an annotated seaborn heatmap (rows: true class, columns: predicted).

    Args:
        y_true: Integer labels ``(N,)``.
        y_pred: Predicted labels ``(N,)`` or probabilities ``(N, C)`` (argmax is taken).
        class_names: ``C`` names in label order; default ``config.CLASS_NAMES``.
        normalize: ``None`` (counts), ``"true"`` (each row sums to 1: the diagonal is the
            per-class sensitivity), ``"pred"`` (each column sums to 1: precision) or ``"all"``.
            A row or column with no samples shows 0.
        ax: Axes to draw on (default: the current axes).
        cmap: Matplotlib colour map.

    Returns:
        The axes.

    Raises:
        ValueError: If ``normalize`` is not one of the choices, or the labels are invalid
            (see :func:`course_lib.metrics.classification_report_frame`).
    """
    import seaborn as sns  # lazy: seaborn takes about 2 s to import; only some plots need it

    check_choice("normalize", normalize, (None, "true", "pred", "all"))
    names = list(CLASS_NAMES if class_names is None else class_names)
    y_true, y_pred, _, c = labels_and_predictions(y_true, y_pred, len(names))
    cm = confusion_matrix(y_true, y_pred, labels=np.arange(c), normalize=normalize)
    ax = _eval_axes(ax)
    sns.heatmap(
        cm,
        annot=True,
        fmt="d" if normalize is None else ".2f",
        cmap=cmap,
        vmin=0,
        vmax=None if normalize is None else 1,
        square=True,
        cbar=True,
        xticklabels=names,
        yticklabels=names,
        ax=ax,
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.tick_params(axis="x", labelrotation=30)
    ax.tick_params(axis="y", labelrotation=0)
    titles = {None: "counts", "true": "rows sum to 1", "pred": "columns sum to 1"}
    ax.set_title(f"Confusion matrix ({titles.get(normalize, 'all cells sum to 1')})")
    return ax


def class_colors(n: int = 4) -> list:
    """``n`` colour-blind-safe colours, one per class, the same in every plot of the course.

    seaborn's "colorblind" palette, with its vermilion moved last: next to its orange, the two are
    hard to tell apart in a legend.

    >>> len(class_colors(4)), len(set(class_colors(4)))
    (4, 4)
    """
    import seaborn as sns  # lazy: seaborn takes about 2 s to import; only some plots need it

    base = sns.color_palette("colorblind", 10)
    order = [0, 1, 2, 4, 5, 6, 7, 8, 9, 3]
    return [base[order[i % len(order)]] for i in range(n)]


#: Line styles of the classes in the ROC and PR curves, so that curves on top of each other
#: (two perfect classes along one edge) stay apart without colour.
CURVE_STYLES: tuple = ("-", "--", "-.", (0, (6, 1.5, 1, 1.5, 1, 1.5)))


def _check_zoom(zoom) -> tuple[float, float, float, float] | None:
    if zoom is None:
        return None
    values = tuple(zoom) if isinstance(zoom, tuple | list) else ()
    if len(values) != 4 or not all(isinstance(v, int | float) for v in values):
        raise TypeError(f"zoom must be a tuple (x0, x1, y0, y1) of numbers, got {zoom!r}")
    x0, x1, y0, y1 = (float(v) for v in values)
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise ValueError(f"zoom must have 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, got {zoom!r}")
    return x0, x1, y0, y1


def _curve_lines(y_true, probs, class_names, ax, kind: str, zoom=None) -> Axes:
    zoom = _check_zoom(zoom)
    names = list(CLASS_NAMES if class_names is None else class_names)
    curves = one_vs_rest_curves(y_true, probs, names)
    ax = _eval_axes(ax)
    colors = class_colors(len(curves))  # the same class colours as plot_class_balance
    # The first class is drawn widest, so that a later one on top of it leaves it visible.
    widths = np.linspace(3.2, 1.8, len(curves)) if len(curves) > 1 else [2.0]
    for i, (name, cv) in enumerate(curves.items()):
        style = {
            "color": colors[i],
            "linestyle": CURVE_STYLES[i % len(CURVE_STYLES)],
            "linewidth": widths[i],
        }
        if np.isnan(cv["auroc"]):
            ax.plot([], [], label=f"{name} (no positives)", **style)
            continue
        if kind == "roc":
            ax.plot(cv["fpr"], cv["tpr"], label=f"{name} (AUROC {cv['auroc']:.3f})", **style)
        else:
            ax.step(
                cv["recall"],
                cv["precision"],
                where="post",
                label=f"{name} (AP {cv['auprc']:.3f})",
                **style,
            )
            ax.axhline(cv["prevalence"], color=colors[i], linestyle=":", linewidth=1, alpha=0.7)
    if kind == "roc":
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance")
        ax.set_xlabel("1 - specificity (false positive rate)")
        ax.set_ylabel("sensitivity (true positive rate)")
        ax.set_title("ROC curves, one class vs the rest")
        ax.legend(loc="lower right", fontsize="small")
    else:
        ax.set_xlabel("recall (sensitivity)")
        ax.set_ylabel("precision")
        ax.set_title("Precision-recall curves (dotted: chance = prevalence)")
        ax.legend(loc="lower left", fontsize="small")
    if zoom is None:
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_aspect("equal")
    else:
        x0, x1, y0, y1 = zoom
        pad_x, pad_y = 0.02 * (x1 - x0), 0.02 * (y1 - y0)
        ax.set_xlim(x0 - pad_x, x1 + pad_x)
        ax.set_ylim(y0 - pad_y, y1 + pad_y)
        ax.set_title(f"{ax.get_title().split(' (')[0]}, zoomed")
    ax.grid(alpha=0.3)
    return ax


def plot_roc_curves(y_true, probs, class_names=None, *, ax: Axes | None = None, zoom=None) -> Axes:
    """One-vs-rest ROC curve of every class, AUROC in the legend, chance diagonal dashed.

    Each class has its colour (:func:`class_colors`) and its line style, and the first class
    is drawn widest: curves that lie on top of each other (good classes hug the top-left
    corner) stay visible. ``zoom`` enlarges a corner, e.g. ``(0, 0.2, 0.8, 1)``.

    Args:
        y_true: Integer labels ``(N,)``.
        probs: Probabilities ``(N, C)``.
        class_names: ``C`` names in label order; default ``config.CLASS_NAMES``.
        ax: Axes to draw on (default: the current axes).
        zoom: ``(x0, x1, y0, y1)``, the part of the unit square to show; ``None``: all of it.

    Returns:
        The axes. A class absent from ``y_true`` gets a legend entry "(no positives)" only.

    Raises:
        ValueError: On invalid inputs (see :func:`course_lib.metrics.one_vs_rest_curves`) or a
            ``zoom`` outside the unit square.
        TypeError: If ``zoom`` is not four numbers.
    """
    return _curve_lines(y_true, probs, class_names, ax, "roc", zoom)


def plot_pr_curves(y_true, probs, class_names=None, *, ax: Axes | None = None, zoom=None) -> Axes:
    """One-vs-rest precision-recall curve of every class, average precision in the legend.

    The dotted horizontal line in each class's colour is its prevalence, the precision of a
    random classifier: under class imbalance this is the curve to read, not the ROC. Colours,
    line styles and ``zoom`` as in :func:`plot_roc_curves` (e.g. ``(0.8, 1, 0.8, 1)``).

    Args:
        y_true: Integer labels ``(N,)``.
        probs: Probabilities ``(N, C)``.
        class_names: ``C`` names in label order; default ``config.CLASS_NAMES``.
        ax: Axes to draw on (default: the current axes).
        zoom: ``(x0, x1, y0, y1)``, the part of the unit square to show; ``None``: all of it.

    Returns:
        The axes.

    Raises:
        ValueError: On invalid inputs (see :func:`course_lib.metrics.one_vs_rest_curves`) or a
            ``zoom`` outside the unit square.
        TypeError: If ``zoom`` is not four numbers.
    """
    return _curve_lines(y_true, probs, class_names, ax, "pr", zoom)


def plot_reliability_diagram(
    probs, y_true, *, n_bins: int = 15, ax: Axes | None = None, label: str = "model"
) -> Axes:
    """Reliability diagram: accuracy per confidence bin against the diagonal, ECE in the legend.

    Bars show the accuracy in each equal-width bin of top-label confidence; the dots mark the
    bins' mean confidence. Bars below the diagonal mean over-confidence. The number at the foot
    of each bar is how many slices the bin holds, and a bar's shade deepens with it: the ECE
    weights each gap by that count, so a pale bar far from the diagonal (a handful of slices)
    matters little. Empty bins draw nothing.

    Args:
        probs: Probabilities ``(N, C)``.
        y_true: Integer labels ``(N,)``.
        n_bins: Number of bins.
        ax: Axes to draw on (default: the current axes).
        label: Name of the model in the legend.

    Returns:
        The axes; ``ax.texts`` holds the bins' counts, left to right.

    Raises:
        ValueError: On invalid inputs (see :func:`course_lib.metrics.reliability_curve`).
    """
    table = reliability_curve(probs, y_true, n_bins=n_bins)
    ece = expected_calibration_error(probs, y_true, n_bins=n_bins)
    full = table[table["count"] > 0]
    ax = _eval_axes(ax)
    color = class_colors(1)[0]
    shares = full["count"].to_numpy() / full["count"].max()
    bars = ax.bar(
        full["bin_lower"],
        full["accuracy"],
        width=full["bin_upper"] - full["bin_lower"],
        align="edge",
        color=color,
        edgecolor="black",
        linewidth=0.5,
        label=f"{label} (ECE {ece:.3f})",
    )
    for bar, share in zip(bars, shares, strict=True):
        bar.set_alpha(0.15 + 0.55 * share)
    ax.plot(full["confidence"], full["accuracy"], "o", color="black", markersize=3)
    for lower, upper, count in zip(
        full["bin_lower"], full["bin_upper"], full["count"], strict=True
    ):
        ax.text((lower + upper) / 2, 0.02, str(count), ha="center", va="bottom", fontsize="x-small")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("confidence (top-class probability)")
    ax.set_ylabel("accuracy")
    ax.set_title("Reliability diagram")
    ax.legend(
        loc="upper left", fontsize="small", title="numbers: slices per bin", title_fontsize="small"
    )
    return ax


def plot_class_balance(data, class_names=None, *, ax: Axes | None = None) -> Axes:
    """Bar chart of samples per class, each bar labelled with its count and share.

    Args:
        data: Either integer **labels** ``(N,)`` (counted with ``np.bincount``), or **counts**
            as a dict / ``pandas.Series`` keyed by class name, or a ``pandas.DataFrame`` of
            counts with one row per class and one column per split (grouped bars).
        class_names: ``C`` names in label order; default ``config.CLASS_NAMES``.
        ax: Axes to draw on (default: the current axes).

    Returns:
        The axes.

    Raises:
        ValueError: If labels are outside ``[0, C)`` or counts name unknown classes.
        TypeError: If labels are not integer.
    """
    import seaborn as sns  # lazy: seaborn takes about 2 s to import; only some plots need it

    names = [str(n) for n in (CLASS_NAMES if class_names is None else class_names)]
    if isinstance(data, pd.DataFrame):
        counts = data.copy()
    else:
        if isinstance(data, dict | pd.Series):
            counts = pd.Series(dict(data), dtype=np.int64)
        else:
            labels = check_labels(data, "data")
            if labels.max() >= len(names):
                raise ValueError(
                    f"data holds label {labels.max()} but only {len(names)} class names"
                )
            counts = pd.Series(np.bincount(labels, minlength=len(names)), index=names)
        counts = counts.to_frame("count")
    unknown = sorted(set(map(str, counts.index)) - set(names))
    if unknown:
        raise ValueError(f"counts name unknown classes {unknown}; class_names are {names}")
    counts.index = counts.index.map(str)
    counts = counts.reindex(names, fill_value=0)
    long = counts.rename_axis("class").reset_index().melt(id_vars="class", var_name="split")
    ax = _eval_axes(ax)
    grouped = counts.shape[1] > 1
    sns.barplot(
        data=long,
        x="class",
        y="value",
        hue="split" if grouped else "class",
        palette=class_colors(counts.shape[1] if grouped else len(names)),
        saturation=1,  # the palette's own colours, not seaborn's greyed ones
        legend=grouped,
        ax=ax,
    )
    for container, column in zip(ax.containers, counts.columns if grouped else names, strict=False):
        values = np.asarray(container.datavalues, dtype=float)
        total = counts[column].sum() if grouped else counts["count"].sum()
        ax.bar_label(
            container,
            labels=[f"{int(v)}\n({100 * v / total:.0f}%)" if total else "0" for v in values],
            fontsize="small",
        )
    ax.set_xlabel("")
    ax.set_ylabel("slices")
    ax.set_ylim(0, max(1.0, float(long["value"].max())) * 1.25)
    ax.set_title("Class balance")
    return ax


def plot_metric_intervals(frame, *, ax: Axes | None = None) -> Axes:
    """Point estimates with their confidence intervals, one row per metric.

    When ``frame`` has a ``method`` column (as from :func:`course_lib.metrics.bootstrap_report`),
    each method gets its colour and marker, named in the legend; a ``patients`` column is
    added to each row's label.

    Args:
        frame: A DataFrame with columns ``point``, ``low`` and ``high`` indexed by metric name,
            e.g. from :func:`course_lib.metrics.bootstrap_report`. NaN rows are left empty.
        ax: Axes to draw on (default: the current axes).

    Returns:
        The axes; each row is annotated "point [low, high]" (then ", n patients").

    Raises:
        ValueError: If a column is missing or ``frame`` is empty.
        TypeError: If ``frame`` is not a DataFrame.
    """
    _check_table("frame", frame, ("point", "low", "high"), "course_lib.metrics.bootstrap_report")
    ax = _eval_axes(ax)
    y = np.arange(len(frame))[::-1]
    point = frame["point"].to_numpy(dtype=float)
    low = frame["low"].to_numpy(dtype=float)
    high = frame["high"].to_numpy(dtype=float)
    methods = frame["method"].astype(str) if "method" in frame.columns else None
    groups = [None] if methods is None else list(dict.fromkeys(methods))
    colors = class_colors(max(len(groups), 1))
    for i, method in enumerate(groups):
        rows = np.ones(len(frame), bool) if method is None else (methods == method).to_numpy()
        err = np.vstack([point[rows] - low[rows], high[rows] - point[rows]])
        ax.errorbar(
            point[rows],
            y[rows],
            xerr=err,
            fmt="osD^v"[i % 5],
            color=colors[i],
            ecolor=colors[i],
            capsize=4,
            label=method,
        )
    patients = frame["patients"].to_numpy() if "patients" in frame.columns else None
    for i, (yi, p, lo, hi) in enumerate(zip(y, point, low, high, strict=True)):
        if np.isfinite(p):
            text = f"{p:.3f} [{lo:.3f}, {hi:.3f}]"
            if patients is not None:
                text += f", {int(patients[i])} patients"
            ax.annotate(
                text, (1.02, yi), xycoords=("axes fraction", "data"), va="center", fontsize="small"
            )
    ax.set_yticks(y, [str(i) for i in frame.index])
    left = float(np.nanmin(low)) if np.isfinite(low).any() else 0.0
    ax.set_xlim(max(0.0, np.floor(left * 20) / 20 - 0.05), 1.01)
    ax.set_ylim(-0.5, len(frame) - 0.5)
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel("value (point estimate and 95 % confidence interval)")
    ax.set_title("Metrics with confidence intervals")
    if methods is not None:
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            ncol=len(groups),
            fontsize="small",
            frameon=False,
        )
    return ax


# ----------------------------------------------------------------------------- training plots
def plot_interval_bars(
    frame,
    *,
    ax: Axes | None = None,
    colors=None,
    xlabel: str = "value",
    legend_title: str | None = None,
    xlim: tuple[float, float] = (0.0, 1.0),
) -> Axes:
    """Horizontal bars in groups, each with its interval as an error bar.

    Groups (e.g. methods) run top to bottom in the order they first appear in ``frame``, and
    within a group the bars (e.g. classes) run top to bottom in their order; the legend lists
    the bars in that same order.

    Args:
        frame: A DataFrame with a two-level index ``(group, bar)`` and columns ``point``,
            ``low`` and ``high`` (e.g. ``Comparison.summary()`` of one test set and some
            metrics). A NaN interval draws the bar without an error bar.
        ax: Axes to draw on (default: the current axes).
        colors: One colour per bar name; default :func:`class_colors`.
        xlabel: Label of the value axis.
        legend_title: Title of the legend.
        xlim: Range of the value axis.

    Returns:
        The axes.

    Raises:
        ValueError: If a column is missing, ``frame`` is empty, its index does not have two
            levels, or ``colors`` has fewer colours than there are bar names.
        TypeError: If ``frame`` is not a DataFrame.
    """
    check_type("frame", frame, pd.DataFrame, "a pandas DataFrame")
    missing = [c for c in ("point", "low", "high") if c not in frame.columns]
    if missing or frame.empty or frame.index.nlevels != 2:
        raise ValueError(
            "frame needs rows, a two-level index (group, bar) and the columns point, low, high "
            f"(index levels {frame.index.nlevels}, missing columns {missing})"
        )
    groups = list(dict.fromkeys(frame.index.get_level_values(0)))
    bars = list(dict.fromkeys(frame.index.get_level_values(1)))
    colors = class_colors(len(bars)) if colors is None else list(colors)
    if len(colors) < len(bars):
        raise ValueError(f"colors has {len(colors)} colours for {len(bars)} bars: {bars}")
    ax = _eval_axes(ax)
    height = 0.8 / len(bars)
    centres = np.arange(len(groups))[::-1].astype(float)
    for j, (bar, color) in enumerate(zip(bars, colors, strict=False)):
        y = centres + 0.4 - (j + 0.5) * height
        rows = frame.reindex([(g, bar) for g in groups])
        point = rows["point"].to_numpy(dtype=float)
        err = np.vstack([point - rows["low"].to_numpy(float), rows["high"].to_numpy(float) - point])
        err = np.nan_to_num(np.clip(err, 0, None))
        ax.barh(y, point, height=height, color=color, label=str(bar))
        ax.errorbar(point, y, xerr=err, fmt="none", ecolor="black", elinewidth=1, capsize=2)
    ax.set_yticks(centres, [str(g) for g in groups])
    ax.set_ylim(-0.5, len(groups) - 0.5)
    ax.set_xlim(*xlim)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(title=legend_title, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return ax


def plot_learning_curves(
    metrics, *, ax: Axes | None = None, metric: str = "loss", kept_epoch: int | None = None
) -> Axes:
    """Plot a metric per epoch for training and validation (learning curves).

    A widening gap between the curves (training still improving, validation not) is the
    picture of overfitting. With ``kept_epoch`` (the epoch whose checkpoint a run kept, e.g.
    :func:`course_lib.training.kept_epoch`), a dashed line and a circle on the validation curve
    mark it; without it, the circle marks this metric's best validation epoch, and says so.

    Args:
        metrics: One row per epoch, indexed by epoch, with columns ``train/<metric>`` and/or
            ``val/<metric>`` (what :func:`course_lib.training.read_metrics` returns).
        ax: Axes to draw on (default: the current axes).
        metric: Metric name without the stage, e.g. ``"loss"``, ``"accuracy"``,
            ``"balanced_accuracy"``.
        kept_epoch: The epoch to mark as the one kept (an index of ``metrics``), or ``None``.

    Returns:
        The axes, with one line per stage found (labels ``"train"``, ``"val"``).

    Raises:
        TypeError: If ``metrics`` is not a pandas DataFrame, or ``kept_epoch`` not an int.
        ValueError: If it has neither ``train/<metric>`` nor ``val/<metric>``, or
            ``kept_epoch`` is not one of its epochs.
    """
    check_type("metrics", metrics, pd.DataFrame, "a pandas DataFrame")
    if kept_epoch is not None:
        check_int("kept_epoch", kept_epoch)
        if kept_epoch not in metrics.index:
            raise ValueError(
                f"kept_epoch must be one of the epochs in metrics "
                f"({metrics.index.min()} to {metrics.index.max()}), got {kept_epoch}"
            )
    columns = [f"{stage}/{metric}" for stage in ("train", "val")]
    found = [c for c in columns if c in metrics.columns and metrics[c].notna().any()]
    if not found:
        have = sorted({c.split("/", 1)[1] for c in metrics.columns if "/" in c})
        raise ValueError(
            f"metrics has no column {columns[0]!r} or {columns[1]!r}; metrics available: {have}"
        )
    ax = _eval_axes(ax)
    for column in found:
        series = metrics[column].dropna()
        ax.plot(series.index, series.to_numpy(), marker="o", label=column.split("/", 1)[0])
    if kept_epoch is not None:
        ax.axvline(kept_epoch, color="0.4", linestyle="--", linewidth=1, label="checkpoint kept")
    if columns[1] in found:
        val = metrics[columns[1]].dropna()
        if kept_epoch is not None and kept_epoch in val.index:
            mark, text = kept_epoch, f"kept: epoch {kept_epoch}, val {val[kept_epoch]:.3f}"
        elif kept_epoch is None:
            mark = val.idxmin() if "loss" in metric else val.idxmax()
            word = "lowest" if "loss" in metric else "highest"
            text = f"{word} val {val[mark]:.3f} (epoch {mark})"
        else:
            mark = None
        if mark is not None:
            ax.scatter([mark], [val[mark]], s=120, facecolors="none", edgecolors="black", zorder=3)
            right_half = mark > (metrics.index.min() + metrics.index.max()) / 2
            ax.annotate(
                text,
                (mark, val[mark]),
                xytext=(-8, 8) if right_half else (8, 8),  # inside the axes, clear of the circle
                textcoords="offset points",
                ha="right" if right_half else "left",
                fontsize="small",
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(f"Learning curves: {metric.replace('_', ' ')}")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


# ----------------------------------------------------------------------------- registration
def _pair_01(fixed, moving) -> tuple[np.ndarray, np.ndarray]:
    """Two same-shape 2D images, each min-max scaled to ``[0, 1]`` (constant: zeros)."""
    fixed, moving = _image_2d(fixed, "fixed"), _image_2d(moving, "moving")
    if fixed.shape != moving.shape:
        raise ValueError(f"fixed has shape {fixed.shape} but moving has shape {moving.shape}")
    out = []
    for image in (fixed, moving):
        image = image.astype(np.float64)
        span = image.max() - image.min()
        out.append((image - image.min()) / span if span > 0 else np.zeros_like(image))
    return out[0], out[1]


def plot_checkerboard(
    fixed, moving, *, ax: Axes | None = None, tiles: int = 8, title: str | None = None
) -> Axes:
    """Show two registered slices as a checkerboard (scikit-image ``compare_images``).

    Edges that continue smoothly across tile borders mean the images are aligned.

    Args:
        fixed: ``(H, W)`` (or ``(1, H, W)``) image, any real dtype; min-max scaled for display.
        moving: Image of the same shape (e.g. the registered moving image).
        ax: Axes to draw on (default: the current axes).
        tiles: Tiles per side (``>= 2``).
        title: Axes title.

    Returns:
        The axes, with one grayscale image and no ticks.

    Raises:
        ValueError: If an image is not 2D, the shapes differ or ``tiles < 2``.
        TypeError: If ``tiles`` is not an int.
    """
    tiles = check_int("tiles", tiles, minimum=2)
    fixed, moving = _pair_01(fixed, moving)
    board = compare_images(fixed, moving, method="checkerboard", n_tiles=(tiles, tiles))
    return plot_slice(board, ax=ax, title=title, vmin=0, vmax=1)


def plot_overlay(fixed, moving, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Show two slices in one colour image: fixed in magenta, moving in green.

    Where they agree the result is gray; misaligned structures show as magenta/green fringes.

    Args:
        fixed: ``(H, W)`` (or ``(1, H, W)``) image, any real dtype; min-max scaled for display.
        moving: Image of the same shape.
        ax: Axes to draw on (default: the current axes).
        title: Axes title.

    Returns:
        The axes, with one RGB image and no ticks.

    Raises:
        ValueError: If an image is not 2D or the shapes differ.
    """
    fixed, moving = _pair_01(fixed, moving)
    ax = plt.gca() if ax is None else ax
    ax.imshow(np.stack([fixed, moving, fixed], axis=-1), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize="small")
    return ax


# ----------------------------------------------------------------------------- throughput
def plot_throughput(
    speeds,
    *,
    reference: float | None = None,
    reference_label: str = "model",
    label: str = "loader",
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Dot plot of images per second on a log axis, one row per setting, with a reference line.

    A dot, not a bar: on a log axis a bar's length depends on where the axis happens to start,
    so it says nothing. Each dot is labelled with its value; the x-axis has plain-number ticks at
    1, 2 and 5 times the powers of ten (no crowded minor labels).

    Args:
        speeds: ``{setting: images per second}`` (a dict or ``pandas.Series``), positive
            numbers, drawn top to bottom in their order.
        reference: Optional images per second drawn as a dashed vertical line (e.g. what the
            model can learn from), or ``None``.
        reference_label: Legend label of the reference line.
        label: Legend label of the dots.
        ax: Axes to draw on (default: the current axes).
        title: Axes title.

    Returns:
        The axes: one line of dots (labelled ``label`` in the legend, first), the reference
        line after it, one text per dot.

    Raises:
        ValueError: If ``speeds`` is empty or holds a value that is not positive, or
            ``reference`` is not positive.
        TypeError: If ``speeds`` is not a mapping or ``pandas.Series``.
    """
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter  # lazy: rare

    check_type("speeds", speeds, (dict, pd.Series), "a dict or pandas.Series of images/s")
    values = pd.Series(speeds, dtype=float)
    if values.empty:
        raise ValueError("speeds is empty; pass at least one {setting: images per second}")
    if not (np.isfinite(values) & (values > 0)).all():
        raise ValueError(f"speeds must be positive numbers, got {values.to_dict()}")
    if reference is not None and not reference > 0:
        raise ValueError(f"reference must be a positive number or None, got {reference!r}")
    ax = _eval_axes(ax)
    colors = class_colors(2)
    rows = np.arange(len(values))
    label_style = {"textcoords": "offset points", "ha": "center", "va": "bottom", "fontsize": 9}
    ax.plot(values.to_numpy(), rows, "o", color=colors[0], markersize=8, label=label)
    for row, value in zip(rows, values, strict=True):
        ax.annotate(f"{value:,.0f}/s", (value, row), xytext=(0, 7), **label_style)
    if reference is not None:
        ax.axvline(reference, color=colors[1], linestyle="--", label=reference_label)
    ax.set_yticks(rows, [str(name) for name in values.index])
    ax.set_ylim(len(values) - 0.4, -0.7)  # first setting on top, room for its label
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    known = [values.min(), values.max()] + ([reference] if reference is not None else [])
    ax.set_xlim(min(known) / 1.6, max(known) * 1.6)
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel("images per second (log scale; higher is faster)")
    if title is not None:
        ax.set_title(title)
    return ax


# ----------------------------------------------------------------------------- intensities
def plot_site_histograms(
    images,
    sites,
    masks=None,
    *,
    ax: Axes | None = None,
    bins: int = 60,
    title: str | None = None,
    xlabel: str = "intensity",
) -> Axes:
    """Overlay one intensity histogram per scanner site (pixels pooled inside the masks).

    Where the curves of different sites lie on top of each other, a model cannot tell the
    scanners apart by intensity alone; use it before and after a normalisation.

    Args:
        images: ``(N, H, W)`` array or a sequence of same-dimensional arrays, any real dtype.
        sites: ``N`` site labels, one per image.
        masks: ``N`` ``bool`` masks (e.g. brain masks) of the images' shapes, or ``None``.
        ax: Axes to draw on (default: the current axes).
        bins: Number of bins over the range of all selected pixels (``>= 2``).
        title: Axes title.
        xlabel: Label of the x-axis.

    Returns:
        The axes, with one step line per site (labelled by site, sorted, in the colours of
        :func:`class_colors`) and a legend; the y-axis is a density, so sites with more pixels
        do not look taller.

    Raises:
        ValueError: If lengths differ, a mask does not match its image, no pixel is selected
            or ``bins < 2``.
        TypeError: If ``bins`` is not an int.
    """
    images = [np.asarray(im) for im in images]
    sites = [str(s) for s in sites]
    if len(sites) != len(images) or not images:
        raise ValueError(f"need one site per image, got {len(images)} images, {len(sites)} sites")
    if masks is not None and len(masks) != len(images):
        raise ValueError(f"got {len(masks)} masks for {len(images)} images")
    bins = check_int("bins", bins, minimum=2)
    pooled: dict[str, list[np.ndarray]] = {}
    for i, (image, site) in enumerate(zip(images, sites, strict=True)):
        values = image
        if masks is not None:
            mask = np.asarray(masks[i])
            if mask.shape != image.shape:
                raise ValueError(f"masks[{i}] has shape {mask.shape}, image {image.shape}")
            values = image[mask.astype(bool)]
        pooled.setdefault(site, []).append(np.ravel(values).astype(np.float64))
    values = {site: np.concatenate(parts) for site, parts in sorted(pooled.items())}
    everything = np.concatenate(list(values.values()))
    if everything.size == 0:
        raise ValueError("the masks select no pixel; nothing to draw")
    edges = np.histogram_bin_edges(everything, bins=bins)
    ax = plt.gca() if ax is None else ax
    colors = class_colors(len(values))  # colour-blind safe, one per site in sorted order
    for (site, pixels), color in zip(values.items(), colors, strict=True):
        style = {"histtype": "step", "linewidth": 1.5, "color": color}
        ax.hist(pixels, bins=edges, density=True, label=site, **style)
    ax.set(xlabel=xlabel, ylabel="density")
    ax.legend(title="site", fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax


# ----------------------------------------------------------------------------- lesson 07
def plot_errors_by_patient(table, class_names=None, *, ax: Axes | None = None) -> Axes:
    """Wrong slices of every patient, one bar each, most wrong first, coloured by true class.

    A grey bar behind each shows how many slices the patient has: errors that come a patient at
    a time, not spread over many patients, are what makes slices poor independent evidence.

    Args:
        table: One row per patient with columns ``true`` (class name), ``slices`` and
            ``wrong``, as from :func:`course_lib.evaluation.errors_by_patient`; drawn in its
            row order.
        class_names: The class names, for the colours; default ``config.CLASS_NAMES``.
        ax: Axes to draw on (default: the current axes).

    Returns:
        The axes; the legend lists the classes in the order their first bar appears.

    Raises:
        TypeError: If ``table`` is not a DataFrame.
        ValueError: If it is empty, lacks a column or names an unknown class.
    """
    _check_table(
        "table", table, ("true", "slices", "wrong"), "course_lib.evaluation.errors_by_patient"
    )
    names = [str(n) for n in (CLASS_NAMES if class_names is None else class_names)]
    truth = table["true"].astype(str).to_numpy()
    unknown = sorted(set(truth) - set(names))
    if unknown:
        raise ValueError(f"table names unknown classes {unknown}; class_names are {names}")
    ax = _eval_axes(ax)
    x = np.arange(len(table))
    wrong = table["wrong"].to_numpy(dtype=float)
    slices = table["slices"].to_numpy(dtype=float)
    ax.bar(x, slices, width=0.8, color="0.88", label="slices of the patient")
    colors = dict(zip(names, class_colors(len(names)), strict=True))
    order = list(dict.fromkeys(truth[wrong > 0])) + [n for n in names if n not in truth[wrong > 0]]
    for name in order:
        rows = (truth == name) & (wrong > 0)
        if rows.any():
            ax.bar(x[rows], wrong[rows], width=0.8, color=colors[name], label=f"wrong ({name})")
    n_bad = int((wrong > 0).sum())
    ax.set_xlim(-1, len(table))
    ax.set_ylim(0, max(1.0, float(slices.max())) * 1.35)
    ax.set_xticks([])
    ax.set_xlabel(f"the {len(table)} patients, most wrong slices first")
    ax.set_ylabel("slices")
    ax.set_title(
        f"Wrong slices per patient: {int(wrong.sum())} in {n_bad} of {len(table)} patients"
    )
    ax.legend(loc="upper right", fontsize="small", ncol=len(order) + 1)
    return ax
