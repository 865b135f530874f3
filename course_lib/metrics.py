"""Evaluation the way a medical-imaging paper needs it (lesson 07).

- per-class sensitivity, specificity, precision and F1: :func:`classification_report_frame`;
- confidence intervals by (patient-level) bootstrap: :func:`bootstrap_ci`, :func:`bootstrap_report`;
- intervals of proportions that stay valid at 0 and 1 (Wilson, Clopper-Pearson), on an effective
  sample size when slices come in patients: :func:`proportion_ci`,
  :func:`effective_sample_size`, :func:`clustered_proportion_ci`;
- calibration: :func:`expected_calibration_error`, :func:`reliability_curve`,
  :func:`fit_temperature`, :func:`apply_temperature`;
- moving the decision after training: :func:`threshold_for_sensitivity`,
  :func:`predict_with_threshold`, :func:`adjust_for_priors`;
- one-vs-rest ROC and precision-recall curves: :func:`one_vs_rest_curves`.

Conventions: ``y_true`` is an integer array ``(N,)`` of class indices (``CLASS_NAMES`` order);
``probs`` is a float array ``(N, C)`` of class probabilities (rows sum to 1); ``logits`` is a float
array ``(N, C)`` before the softmax. Numpy arrays, lists and torch tensors are all accepted;
inputs are never modified. The metrics themselves come from scikit-learn; the helpers here only
arrange them, and the tests compare them with scikit-learn and torchmetrics.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    average_precision_score,
    multilabel_confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from course_lib._validation import check_choice, check_int, check_interval, check_number
from course_lib.config import CLASS_NAMES


# ----------------------------------------------------------------------------- input checks
def _to_numpy(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:  # ragged lists and the like
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}") from err


def check_labels(y_true, name: str = "y_true") -> np.ndarray:
    """Check an array of class indices and return it as a new int64 array.

    Args:
        y_true: Integer class indices ``(N,)``: a list, numpy array or torch tensor; a ``bool``
            array counts as the labels 0/1 (e.g. ``y == 0``).
        name: The argument's name, for the messages.

    Returns:
        Int64 array ``(N,)``.

    Raises:
        ValueError: If it is not a non-empty 1-D array or holds a negative index.
        TypeError: If it is not array-like or not integer.

    >>> check_labels([0, 2, 1])
    array([0, 2, 1])
    >>> check_labels([0.0, 1.0])
    Traceback (most recent call last):
    ...
    TypeError: y_true must hold integer class indices, got dtype float64
    """
    arr = _to_numpy(y_true, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of class indices, got {arr.shape}")
    if arr.dtype == np.bool_:  # binary labels as a mask, e.g. y == 0
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    if arr.min() < 0:
        raise ValueError(f"{name} must be >= 0, got min {arr.min()}")
    return arr.astype(np.int64)


def check_probs(probs, n: int | None = None, name: str = "probs") -> np.ndarray:
    """Check a table of class probabilities and return it as a new float64 array.

    Args:
        probs: Probabilities ``(N, C)`` with ``C >= 2``, rows summing to 1 (within 1e-3): a
            list, numpy array or torch tensor of floats.
        n: The number of rows it must have (``len(y_true)``), or ``None``.
        name: The argument's name, for the messages.

    Returns:
        Float64 array ``(N, C)``.

    Raises:
        ValueError: On a wrong shape or number of rows, values outside ``[0, 1]`` or rows not
            summing to 1 (logits instead of probabilities, say).
        TypeError: If it is not array-like or not floating point.

    >>> check_probs([[0.25, 0.75]])
    array([[0.25, 0.75]])
    >>> check_probs([[2.0, -1.0]])
    Traceback (most recent call last):
    ...
    ValueError: probs must be probabilities in [0, 1] (apply softmax to logits first)
    """
    arr = _to_numpy(probs, name)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"{name} must have shape (N, C) with C >= 2, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name} must be floating point, got dtype {arr.dtype}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} rows but y_true has {n} entries")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must be probabilities in [0, 1] (apply softmax to logits first)")
    if not np.allclose(arr.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(f"{name} rows must sum to 1 (apply softmax to logits first)")
    return arr.astype(np.float64)


def _check_logits(logits, n: int | None = None, name: str = "logits") -> np.ndarray:
    arr = _to_numpy(logits, name)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"{name} must have shape (N, C) with C >= 2, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating) or not np.isfinite(arr).all():
        raise ValueError(f"{name} must hold finite floating-point values")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} rows but y_true has {n} entries")
    return arr.astype(np.float64)


def labels_and_predictions(y_true, y_score, num_classes: int | None = None):
    """Check labels with their predictions (labels or probabilities) and bring them together.

    Args:
        y_true: Integer labels ``(N,)``.
        y_score: Predicted labels ``(N,)`` or probabilities ``(N, C)`` (the argmax is taken).
        num_classes: ``C``; default: the number of columns of probabilities, else
            ``max(label) + 1``.

    Returns:
        ``(y_true, y_pred, probs, C)``: int64 labels and predictions ``(N,)``, float64
        probabilities ``(N, C)`` or ``None`` when ``y_score`` holds labels, and the number of
        classes.

    Raises:
        ValueError: On empty or mismatched inputs, labels outside ``[0, C)`` or probabilities
            with another number of columns than ``num_classes``.
        TypeError: If labels are not integer or probabilities not floating point.

    >>> labels_and_predictions([0, 1], [[0.8, 0.2], [0.4, 0.6]])[1:]
    (array([0, 1]), array([[0.8, 0.2],
           [0.4, 0.6]]), 2)
    """
    y_true = check_labels(y_true)
    score = _to_numpy(y_score, "y_score")
    if score.ndim not in (1, 2):
        raise ValueError(
            f"y_score must be labels of shape (N,) or probabilities of shape (N, C), "
            f"got {score.shape}"
        )
    probs = None
    if score.ndim == 2:
        probs = check_probs(score, len(y_true), name="y_score")
        y_pred = probs.argmax(axis=1)
        c = probs.shape[1]
        if num_classes is not None and num_classes != c:
            raise ValueError(f"y_score has {c} columns but {num_classes} class names were given")
    else:
        y_pred = check_labels(score, name="y_score")
        if len(y_pred) != len(y_true):
            raise ValueError(
                f"y_score has {len(y_pred)} entries but y_true has {len(y_true)}; pass one "
                "prediction (or one row of probabilities) per sample"
            )
        c = num_classes if num_classes is not None else int(max(y_true.max(), y_pred.max())) + 1
    if max(y_true.max(), y_pred.max()) >= c:
        raise ValueError(
            f"labels must be < {c} (the number of classes), got max "
            f"{max(y_true.max(), y_pred.max())}"
        )
    return y_true, y_pred, probs, c


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Elementwise ``num / den`` with 0 where ``den == 0`` (scikit-learn's ``zero_division=0``)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


# ----------------------------------------------------------------------------- the report
def _per_class_counts(y_true: np.ndarray, y_pred: np.ndarray, c: int):
    """One-vs-rest TP, FP, FN and TN of each class, float64 ``(C,)`` each (scikit-learn's)."""
    counts = multilabel_confusion_matrix(y_true, y_pred, labels=np.arange(c)).astype(np.float64)
    tn, fp, fn, tp = (counts[:, i, j] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
    return tp, fp, fn, tn


def headline_metrics(y_true, y_pred, num_classes: int | None = None) -> dict[str, float]:
    """Accuracy, balanced accuracy and macro-F1 from hard predictions.

    Balanced accuracy is the mean per-class sensitivity over the classes present in ``y_true``
    (as scikit-learn's ``balanced_accuracy_score``, without its warning). Macro-F1 averages the
    F1 of all ``C`` classes, where 0/0 is defined as 0 (scikit-learn's ``zero_division=0``).

    Args:
        y_true: Integer labels ``(N,)``.
        y_pred: Integer predicted labels ``(N,)``.
        num_classes: ``C``; default ``max(label) + 1``.

    Returns:
        ``{"accuracy": ..., "balanced_accuracy": ..., "macro_f1": ...}`` as Python floats.

    Raises:
        ValueError: If the arrays are empty, differ in length or hold labels outside ``[0, C)``.
        TypeError: If they are not integer.

    >>> headline_metrics([0, 0, 1, 1], [0, 1, 1, 1])
    {'accuracy': 0.75, 'balanced_accuracy': 0.75, 'macro_f1': 0.7333333333333334}
    """
    y_true, y_pred, _, c = labels_and_predictions(y_true, y_pred, num_classes)
    tp, fp, fn, _ = _per_class_counts(y_true, y_pred, c)
    f1 = _safe_div(2 * tp, 2 * tp + fp + fn)
    return {
        "accuracy": float(tp.sum() / len(y_true)),
        "balanced_accuracy": float(_safe_div(tp, tp + fn)[tp + fn > 0].mean()),
        "macro_f1": float(f1.mean()),
    }


def classification_report_frame(
    y_true, y_score, class_names: Sequence[str] = CLASS_NAMES
) -> pd.DataFrame:
    """Per-class sensitivity, specificity, precision, F1 and support, plus the averages.

    Rows: one per class, then ``"macro avg"`` (the unweighted mean over all classes: its
    ``f1`` is the **macro-F1**, its ``sensitivity`` the **balanced accuracy** when every class
    occurs in ``y_true``) and
    ``"micro avg"`` (pooled over classes: its ``sensitivity``, ``precision`` and ``f1`` all equal
    the **accuracy**). ``support`` is the number of true samples of the class (total in the
    average rows). The three headline numbers are also in ``frame.attrs`` (``"accuracy"``,
    ``"balanced_accuracy"``, ``"macro_f1"``).

    A ratio whose denominator is 0 is reported as **0**, not NaN (scikit-learn's
    ``zero_division=0``): a class that is never predicted has precision 0, a class absent from
    ``y_true`` has sensitivity 0 (and support 0, which tells the two cases apart).

    Args:
        y_true: Integer labels ``(N,)``.
        y_score: Predicted labels ``(N,)`` or probabilities ``(N, C)`` (argmax is taken).
        class_names: ``C`` names in label order.

    Returns:
        DataFrame indexed by class name (then the two average rows) with float columns
        ``sensitivity, specificity, precision, f1`` and int column ``support``.

    Raises:
        ValueError: On empty or mismatched inputs, labels outside ``[0, C)`` or a ``y_score``
            with a different number of columns than ``class_names``.
        TypeError: If labels are not integer or probabilities not floating point.

    >>> frame = classification_report_frame([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b"])
    >>> frame.round(3)
               sensitivity  specificity  precision     f1  support
    a                 0.50         1.00      1.000  0.667        2
    b                 1.00         0.50      0.667  0.800        2
    macro avg         0.75         0.75      0.833  0.733        4
    micro avg         0.75         0.75      0.750  0.750        4
    """
    names = [str(n) for n in class_names]
    y_true, y_pred, _, c = labels_and_predictions(y_true, y_score, len(names))
    tp, fp, fn, tn = _per_class_counts(y_true, y_pred, c)
    sens = _safe_div(tp, tp + fn)
    spec = _safe_div(tn, tn + fp)
    prec = _safe_div(tp, tp + fp)
    f1 = _safe_div(2 * tp, 2 * tp + fp + fn)
    support = (tp + fn).astype(np.int64)
    frame = pd.DataFrame(
        {"sensitivity": sens, "specificity": spec, "precision": prec, "f1": f1, "support": support},
        index=pd.Index(names, name=None),
    )
    acc = float(tp.sum() / len(y_true))
    frame.loc["macro avg"] = [sens.mean(), spec.mean(), prec.mean(), f1.mean(), len(y_true)]
    micro_spec = float(_safe_div(tn.sum(), tn.sum() + fp.sum()))
    frame.loc["micro avg"] = [acc, micro_spec, acc, acc, len(y_true)]
    frame["support"] = frame["support"].astype(np.int64)
    frame.attrs.update(headline_metrics(y_true, y_pred, c))
    return frame


# ----------------------------------------------------------------------------- bootstrap
class BootstrapCI(NamedTuple):
    """A point estimate with a percentile bootstrap interval."""

    point: float
    low: float
    high: float


def _check_bootstrap_args(n_resamples, ci, seed) -> None:
    check_int("n_resamples", n_resamples, minimum=1)
    check_interval("ci", ci, 0, 1, closed="neither")
    check_int("seed", seed)


def _check_groups(groups, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    arr = _to_numpy(groups, "groups")
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"groups must have shape ({n},) like y_true, got {arr.shape}")
    return arr


def _resample_indices(n: int, groups, n_resamples: int, seed: int):
    """Yield index arrays of bootstrap resamples, by sample or by group (patient)."""
    rng = np.random.default_rng(seed)
    if groups is None:
        for _ in range(n_resamples):
            yield rng.integers(0, n, size=n)
        return
    _, inverse = np.unique(groups, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    members = np.split(order, np.cumsum(np.bincount(inverse))[:-1])
    for _ in range(n_resamples):
        chosen = rng.integers(0, len(members), size=len(members))
        yield np.concatenate([members[g] for g in chosen])


def _bootstrap_values(metric_fn, y_true, y_score, groups, n_resamples, seed):
    """Return (point, finite resampled values, number skipped)."""
    point = float(metric_fn(y_true, y_score))
    values = []
    for idx in _resample_indices(len(y_true), groups, n_resamples, seed):
        try:
            with warnings.catch_warnings():  # counted below instead of warning 1000 times
                warnings.simplefilter("ignore", UndefinedMetricWarning)
                value = float(metric_fn(y_true[idx], y_score[idx]))
        except ValueError:  # e.g. a metric that refuses a resample holding one class
            continue
        if np.isfinite(value):
            values.append(value)
    return point, np.asarray(values), n_resamples - len(values)


def _interval(values: np.ndarray, ci: float) -> tuple[float, float]:
    if values.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(values, [50 * (1 - ci), 50 * (1 + ci)])
    return float(low), float(high)


def bootstrap_ci(
    metric_fn: Callable,
    y_true,
    y_score,
    *,
    groups=None,
    n_resamples: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> BootstrapCI:
    """Percentile bootstrap confidence interval of ``metric_fn(y_true, y_score)``.

    With ``groups`` (patient ids), whole patients are resampled with replacement, not slices:
    slices of one patient are correlated, and resampling them one by one gives intervals that
    are too narrow. Without ``groups`` every sample is its own group.

    A resample on which the metric is undefined (it returns NaN, as scikit-learn's
    ``roc_auc_score`` does when the resample holds a single class, or raises ``ValueError``) is
    **skipped**. scikit-learn's ``UndefinedMetricWarning`` is silenced on resamples; instead,
    when any are skipped, one ``RuntimeWarning`` says how many, and the interval comes from the
    remaining resamples. If all are skipped, the interval is ``(nan, nan)``. On the full data
    the metric runs as it is (a metric raising there raises here; NaN gives a NaN point).

    Args:
        metric_fn: ``f(y_true, y_score) -> float``, e.g. ``sklearn.metrics.accuracy_score``.
        y_true: Integer labels ``(N,)``.
        y_score: Predictions ``(N,)`` or scores ``(N, C)``; indexed along axis 0.
        groups: Optional group (patient) id per sample, shape ``(N,)``.
        n_resamples: Number of bootstrap resamples.
        ci: Confidence level in ``(0, 1)``.
        seed: Seed of the resampling.

    Returns:
        ``BootstrapCI(point, low, high)``: the metric on all the data and the interval bounds.

    Raises:
        ValueError: On invalid ``n_resamples``, ``ci``, ``groups`` or mismatched lengths, or if
            ``metric_fn`` raises it on the full data.
        TypeError: If ``seed`` or ``n_resamples`` is not an int, ``ci`` not a number, or
            ``metric_fn`` not callable.

    >>> from sklearn.metrics import accuracy_score
    >>> res = bootstrap_ci(accuracy_score, [0, 1, 1, 0] * 5, [0, 1, 0, 0] * 5, n_resamples=200)
    >>> res.point, res.low <= 0.75 <= res.high
    (0.75, True)
    """
    if not callable(metric_fn):
        raise TypeError(f"metric_fn must be callable, got {type(metric_fn).__name__}")
    _check_bootstrap_args(n_resamples, ci, seed)
    y_true = check_labels(y_true)
    y_score = _to_numpy(y_score, "y_score")
    if y_score.ndim == 0 or len(y_score) != len(y_true):
        raise ValueError(f"y_score must have {len(y_true)} rows like y_true, got {y_score.shape}")
    groups = _check_groups(groups, len(y_true))
    point, values, skipped = _bootstrap_values(
        metric_fn, y_true, y_score, groups, n_resamples, seed
    )
    if skipped:
        warnings.warn(
            f"{skipped} of {n_resamples} bootstrap resamples were skipped because the metric "
            "was undefined on them (e.g. a single class); the interval uses the rest",
            RuntimeWarning,
            stacklevel=2,
        )
    return BootstrapCI(point, *_interval(values, ci))


# ----------------------------------------------------------------------------- proportions
class ProportionCI(NamedTuple):
    """A proportion over slices with its interval, and the sample sizes behind it.

    ``n_eff`` is the effective sample size the interval assumes: between ``patients`` (slices of
    a patient fail together) and ``slices`` (every slice independent).
    """

    point: float
    low: float
    high: float
    patients: int
    slices: int
    n_eff: float


#: Interval methods of :func:`proportion_ci`.
PROPORTION_METHODS = ("wilson", "exact")


def proportion_ci(successes, n, *, ci: float = 0.95, method: str = "wilson") -> BootstrapCI:
    """Confidence interval of a proportion ``successes / n``, valid at 0 and 1 too.

    ``"wilson"`` is the Wilson score interval, ``"exact"`` the Clopper-Pearson interval (from
    beta quantiles; never narrower than asked, often wider). Both accept a non-integer
    ``successes`` and ``n``, as an effective sample size gives them (Korn and Graubard 1998).
    At ``successes == n`` the Wilson interval is ``[n / (n + z^2), 1]``: with 20 hits out of 20
    the true rate may still be as low as 0.83; the "rule of three" says the same (``1 - 3 / n``,
    one-sided). A percentile bootstrap gives ``[1, 1]`` there instead: every resample of 20 hits
    is 20 hits again.

    Args:
        successes: Number of successes, a number in ``[0, n]``.
        n: Number of trials, a number ``> 0``.
        ci: Confidence level in ``(0, 1)``.
        method: ``"wilson"`` or ``"exact"``.

    Returns:
        ``BootstrapCI(point, low, high)`` with ``point = successes / n``, as Python floats.

    Raises:
        ValueError: If ``n <= 0``, ``successes`` is outside ``[0, n]``, ``ci`` outside
            ``(0, 1)`` or ``method`` unknown.
        TypeError: If ``successes``, ``n`` or ``ci`` is not a number.

    >>> [round(v, 4) for v in proportion_ci(20, 20)]
    [1.0, 0.8389, 1.0]
    >>> [round(v, 4) for v in proportion_ci(0, 10, method="exact")]
    [0.0, 0.0, 0.3085]
    """
    n = check_number("n", n, above=0)
    k = check_number("successes", successes, minimum=0, maximum=n)
    ci = check_interval("ci", ci, 0, 1, closed="neither")
    check_choice("method", method, PROPORTION_METHODS)
    p = k / n
    alpha = 1 - ci
    if method == "exact":
        low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
        high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
        return BootstrapCI(p, low, high)
    z = float(stats.norm.ppf(1 - alpha / 2))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return BootstrapCI(p, float(low), float(high))


def effective_sample_size(hits, groups=None) -> float:
    """How many independent slices a set of clustered 0/1 outcomes is worth (Kish's design effect).

    ``n_eff = p (1 - p) / Var(p)``, where ``p`` is the share of hits and ``Var(p)`` its variance
    when whole patients, not slices, are the independent units (the ratio estimator's
    linearised variance, ``c / (c - 1) * sum_i (y_i - p m_i)^2 / n^2`` over the ``c`` patients
    with ``m_i`` slices and ``y_i`` hits). The result is clipped to ``[patients, slices]``.
    When ``p`` is 0 or 1 (or there is one patient) nothing can be estimated, and the cautious
    end is taken: the number of patients, as if each patient were one observation.

    Args:
        hits: 0/1 or bool outcomes, one per slice ``(N,)``.
        groups: Patient id per slice ``(N,)``; ``None``: every slice is its own patient.

    Returns:
        The effective sample size, a float in ``[patients, N]``.

    Raises:
        ValueError: If ``hits`` is empty, not 1-D or not 0/1, or ``groups`` has another length.
        TypeError: If ``hits`` is not array-like.

    >>> effective_sample_size([1, 1, 0, 0], ["a", "a", "b", "b"])  # patients fail together
    2.0
    >>> effective_sample_size([1, 0, 1, 0], ["a", "a", "b", "b"])  # no clustering at all
    4.0
    """
    h = _to_numpy(hits, "hits")
    if h.ndim != 1 or h.size == 0 or not np.isin(h, [0, 1]).all():
        raise ValueError(f"hits must be a non-empty 1-D array of 0/1, got shape {h.shape}")
    h = h.astype(np.float64)
    n = len(h)
    g = _check_groups(groups, n)
    if g is None:
        g = np.arange(n)
    _, inverse = np.unique(g, return_inverse=True)
    c = int(inverse.max()) + 1
    p = float(h.mean())
    if c < 2 or p in (0.0, 1.0):
        return float(c)
    m = np.bincount(inverse, minlength=c)
    y = np.bincount(inverse, weights=h, minlength=c)
    var = c / (c - 1) * float(np.sum((y - p * m) ** 2)) / n**2
    if var <= 0:
        return float(n)
    return float(np.clip(p * (1 - p) / var, c, n))


def clustered_proportion_ci(
    hits, groups=None, *, ci: float = 0.95, method: str = "wilson"
) -> ProportionCI:
    """Interval of a proportion over slices that come in patients (:func:`proportion_ci` on n_eff).

    The point is the share of hits over slices; the interval is the Wilson (or Clopper-Pearson)
    interval for that share with the :func:`effective_sample_size` as ``n``. With no miss at
    all (a sensitivity of 1.0), ``n`` is the number of patients: 20 patients without a miss
    give ``[0.839, 1]``, however many slices each has.

    Args:
        hits: 0/1 or bool outcomes, one per slice ``(N,)`` (e.g. ``y_pred == k`` on the
            slices of class ``k``: the sensitivity of ``k``).
        groups: Patient id per slice ``(N,)``; ``None``: every slice is its own patient.
        ci: Confidence level in ``(0, 1)``.
        method: ``"wilson"`` or ``"exact"``.

    Returns:
        ``ProportionCI(point, low, high, patients, slices, n_eff)``.

    Raises:
        ValueError: See :func:`effective_sample_size` and :func:`proportion_ci`.
        TypeError: See :func:`effective_sample_size` and :func:`proportion_ci`.

    >>> res = clustered_proportion_ci([1] * 8, ["a", "a", "b", "b", "c", "c", "d", "d"])
    >>> res.patients, res.slices, res.n_eff, round(res.low, 3)
    (4, 8, 4.0, 0.51)
    """
    n_eff = effective_sample_size(hits, groups)
    h = _to_numpy(hits, "hits").astype(np.float64)
    g = np.arange(len(h)) if groups is None else _to_numpy(groups, "groups")
    point = float(h.mean())
    _, low, high = proportion_ci(point * n_eff, n_eff, ci=ci, method=method)
    return ProportionCI(point, low, high, len(np.unique(g)), len(h), n_eff)


def _macro_auroc(y_true: np.ndarray, probs: np.ndarray) -> float:
    if len(np.unique(y_true)) < probs.shape[1]:
        raise ValueError("macro AUROC needs every class in y_true")
    return float(roc_auc_score(y_true, probs, multi_class="ovr", average="macro"))


def _sensitivity_fn(k: int) -> Callable:
    def fn(t, p):
        n_k = np.sum(t == k)
        if n_k == 0:
            return float("nan")
        return float(np.sum((t == k) & (p == k)) / n_k)

    return fn


#: What ``bootstrap_report`` can use for its proportions (accuracy, sensitivities).
REPORT_PROPORTIONS = (*PROPORTION_METHODS, "bootstrap")


def bootstrap_report(
    y_true,
    y_score,
    class_names: Sequence[str] = CLASS_NAMES,
    *,
    groups=None,
    n_resamples: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    proportions: str = "wilson",
) -> pd.DataFrame:
    """Headline metrics with confidence intervals, and how many patients stand behind each.

    Metrics: accuracy, balanced accuracy, macro-F1, the sensitivity of each class and, when
    probabilities are given, macro one-vs-rest AUROC.

    - **Proportions** (accuracy, each sensitivity) get the Wilson interval on the effective
      sample size (:func:`clustered_proportion_ci`; ``proportions="exact"``: Clopper-Pearson),
      which stays valid at 0 and 1. ``proportions="bootstrap"`` uses the percentile bootstrap
      for them too, as the other metrics: it collapses to ``[1, 1]`` for a class without a
      miss, because every resample is then without a miss too.
    - **The other metrics** (balanced accuracy, macro-F1, macro AUROC) get the percentile
      bootstrap over the same resamples (by patient when ``groups`` is given). Resamples on
      which a metric is undefined (macro AUROC when a class is missing from the resample) are
      skipped and counted in ``skipped``. If every resample gives the same value (a perfect
      model), the bootstrap says nothing; the row then takes the mean over classes of the
      Wilson interval of that value with the class's number of patients as ``n`` (a cautious
      bound), and its ``method`` says so. Not with ``proportions="bootstrap"``.

    Args:
        y_true: Integer labels ``(N,)``.
        y_score: Predicted labels ``(N,)`` or probabilities ``(N, C)``.
        class_names: ``C`` names in label order.
        groups: Optional patient id per sample ``(N,)``; without it every slice is its own
            patient (so ``patients`` equals ``slices``).
        n_resamples: Number of resamples (``profile.bootstrap_samples`` in the notebooks).
        ci: Confidence level in ``(0, 1)``.
        seed: Seed of the resampling.
        proportions: ``"wilson"``, ``"exact"`` or ``"bootstrap"``, see above.

    Returns:
        DataFrame indexed by metric name with float columns ``point, low, high``, str column
        ``method``, int columns ``patients`` and ``slices`` (those the metric counts: for a
        sensitivity, the patients and slices of that class), float column ``n_eff`` (the
        effective sample size of a proportion's interval, the number of patients for a
        bootstrap row) and int column ``skipped``. A class absent from ``y_true`` has NaN
        sensitivity and interval.

    Raises:
        ValueError: On invalid inputs (see :func:`classification_report_frame` and
            :func:`bootstrap_ci`) or an unknown ``proportions``.
        TypeError: If ``seed`` or ``n_resamples`` is not an int, ``ci`` not a number, or labels
            are not integer.

    >>> y = [0, 1, 2, 0, 1, 2] * 4
    >>> frame = bootstrap_report(y, y, ["a", "b", "c"], n_resamples=20)
    >>> frame[["point", "low", "high", "method", "patients"]].round(3)
                       point    low  high           method  patients
    accuracy             1.0  0.862   1.0           Wilson        24
    balanced accuracy    1.0  0.676   1.0  Wilson by class        24
    macro F1             1.0  0.676   1.0  Wilson by class        24
    sensitivity (a)      1.0  0.676   1.0           Wilson         8
    sensitivity (b)      1.0  0.676   1.0           Wilson         8
    sensitivity (c)      1.0  0.676   1.0           Wilson         8
    """
    _check_bootstrap_args(n_resamples, ci, seed)
    check_choice("proportions", proportions, REPORT_PROPORTIONS)
    names = [str(n) for n in class_names]
    y_true, y_pred, probs, c = labels_and_predictions(y_true, y_score, len(names))
    groups = _check_groups(groups, len(y_true))
    ids = np.arange(len(y_true)) if groups is None else groups
    boot_name = "slice bootstrap" if groups is None else "patient bootstrap"
    subsets = {"accuracy": np.ones(len(y_true), dtype=bool)}
    subsets.update({f"sensitivity ({name})": y_true == k for k, name in enumerate(names)})
    size = {name: (len(np.unique(ids[m])), int(m.sum())) for name, m in subsets.items()}
    class_patients = [size[f"sensitivity ({name})"][0] for name in names]
    all_patients = size["accuracy"][0]

    def boot_row(point, values, skipped, patients=all_patients):
        low, high = _interval(values, ci)
        method = boot_name
        collapsed = values.size > 0 and np.ptp(values) == 0 and np.isfinite(point)
        if collapsed and proportions != "bootstrap":
            bounds = [proportion_ci(point * n, n, ci=ci)[1:] for n in class_patients if n]
            low, high = (float(v) for v in np.mean(bounds, axis=0))
            method = "Wilson by class"
        return [point, low, high, method, float(patients), skipped]

    # The three headline metrics come from one confusion matrix per resample.
    headline = {"accuracy": "accuracy", "balanced accuracy": "balanced_accuracy"}
    headline["macro F1"] = "macro_f1"
    point = headline_metrics(y_true, y_pred, c)
    draws = [
        headline_metrics(y_true[idx], y_pred[idx], c)
        for idx in _resample_indices(len(y_true), groups, n_resamples, seed)
    ]
    rows = {}
    for name, key in headline.items():
        values = np.array([draw[key] for draw in draws])
        values = values[np.isfinite(values)]
        rows[name] = boot_row(point[key], values, n_resamples - values.size)
    for k, name in enumerate(names):
        if proportions == "bootstrap":
            row = f"sensitivity ({name})"
            p, values, skipped = _bootstrap_values(
                _sensitivity_fn(k), y_true, y_pred, groups, n_resamples, seed
            )
            rows[row] = boot_row(p, values, skipped, patients=size[row][0])
    if proportions != "bootstrap":
        label = "Wilson" if proportions == "wilson" else "Clopper-Pearson"
        for name, mask in subsets.items():
            if not mask.any():  # a class absent from y_true: no sensitivity
                rows[name] = [np.nan, np.nan, np.nan, label, 0.0, 0]
                continue
            res = clustered_proportion_ci(
                y_pred[mask] == y_true[mask], ids[mask], ci=ci, method=proportions
            )
            rows[name] = [res.point, res.low, res.high, label, res.n_eff, 0]
    if probs is not None:
        try:
            p, values, skipped = _bootstrap_values(
                _macro_auroc, y_true, probs, groups, n_resamples, seed
            )
        except ValueError:  # undefined on the full data (a class missing from y_true)
            p, values, skipped = float("nan"), np.array([]), n_resamples
        rows["macro AUROC"] = boot_row(p, values, skipped)
    frame = pd.DataFrame.from_dict(
        rows, orient="index", columns=["point", "low", "high", "method", "n_eff", "skipped"]
    )
    frame.insert(4, "patients", [size.get(name, size["accuracy"])[0] for name in frame.index])
    frame.insert(5, "slices", [size.get(name, size["accuracy"])[1] for name in frame.index])
    frame = frame.astype({"point": float, "low": float, "high": float, "n_eff": float})
    frame[["patients", "slices", "skipped"]] = frame[["patients", "slices", "skipped"]].astype(
        np.int64
    )
    return frame


# ----------------------------------------------------------------------------- calibration
def reliability_curve(probs, y_true, n_bins: int = 15) -> pd.DataFrame:
    """Top-label reliability table: per confidence bin, mean confidence, accuracy and count.

    Confidence is the largest probability of each row; bins are equal-width on ``[0, 1]``,
    closed on the left (``[lo, hi)``, the last one ``[lo, 1]``), as in torchmetrics (which
    gives a confidence of exactly 1.0 a bin of its own instead, see
    :func:`expected_calibration_error`). Empty bins are kept with ``count`` 0 and NaN
    ``confidence``/``accuracy``.

    Args:
        probs: Probabilities ``(N, C)``.
        y_true: Integer labels ``(N,)``.
        n_bins: Number of bins.

    Returns:
        DataFrame with ``n_bins`` rows and columns ``bin_lower, bin_upper, confidence,
        accuracy, count``.

    Raises:
        ValueError: If ``n_bins < 1``, on mismatched shapes or rows that are not probabilities.
        TypeError: If ``n_bins`` is not an int, ``y_true`` not integer or ``probs`` not
            floating point.

    >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]
    >>> reliability_curve(probs, [0, 1, 1], n_bins=2)
       bin_lower  bin_upper  confidence  accuracy  count
    0        0.0        0.5         NaN       NaN      0
    1        0.5        1.0         0.8  0.666667      3
    """
    check_int("n_bins", n_bins, minimum=1)
    y_true = check_labels(y_true)
    probs = check_probs(probs, len(y_true))
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, weights=conf, minlength=n_bins) / count
        accuracy = np.bincount(bins, weights=correct, minlength=n_bins) / count
    return pd.DataFrame(
        {
            "bin_lower": edges[:-1],
            "bin_upper": edges[1:],
            "confidence": mean_conf,
            "accuracy": accuracy,
            "count": count.astype(np.int64),
        }
    )


def expected_calibration_error(probs, y_true, *, n_bins: int = 15) -> float:
    """Top-label expected calibration error (Guo et al. 2017), computed by torchmetrics.

    ``ECE = sum_b (n_b / N) * |accuracy_b - confidence_b|`` over equal-width bins of the top
    probability: torchmetrics' ``multiclass_calibration_error(norm="l1")``, on the bins of
    :func:`reliability_curve` (so the count-weighted mean gap of its table gives the same
    number). 0 is perfect calibration. torchmetrics rounds the confidences to float32 and gives
    those equal to 1.0 a bin of their own, where :func:`reliability_curve` puts them in the last
    bin; the two differ only when that last bin holds confidences of exactly 1.0 together with
    others whose gap has the opposite sign (the others under-confident).

    Args:
        probs: Probabilities ``(N, C)``.
        y_true: Integer labels ``(N,)``.
        n_bins: Number of equal-width confidence bins.

    Returns:
        The ECE in ``[0, 1]`` as a Python float.

    Raises:
        ValueError: See :func:`reliability_curve`.
        TypeError: See :func:`reliability_curve`.

    >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]
    >>> round(expected_calibration_error(probs, [0, 1, 1]), 4)  # (0.1 + 0.8 + 0.3) / 3
    0.4
    >>> round(expected_calibration_error(probs, [0, 1, 1], n_bins=2), 4)  # |2/3 - 0.8|
    0.1333
    """
    # lazy: torchmetrics takes about 3 s to import, and only the ECE needs it in this module
    from torchmetrics.functional.classification import multiclass_calibration_error

    check_int("n_bins", n_bins, minimum=1)
    y_true = check_labels(y_true)
    probs = check_probs(probs, len(y_true))
    ece = multiclass_calibration_error(
        torch.as_tensor(probs),
        torch.as_tensor(y_true),
        num_classes=probs.shape[1],
        n_bins=n_bins,
        norm="l1",
        validate_args=False,  # checked above; a label >= C simply counts as a wrong prediction
    )
    return float(ece)


def apply_temperature(logits, temperature: float):
    """Divide logits by a temperature (temperature scaling, Guo et al. 2017).

    ``T > 1`` softens over-confident probabilities, ``T < 1`` sharpens them; the argmax, and
    so accuracy, does not change. Apply a softmax to the result for probabilities.

    Args:
        logits: Float array or tensor ``(N, C)``.
        temperature: ``T > 0``, e.g. from :func:`fit_temperature`.

    Returns:
        ``logits / T``, a new array of the same type (numpy or torch), shape and dtype.

    Raises:
        ValueError: If ``temperature`` is not a finite number > 0.
        TypeError: If it is not a number (a bool is not).

    >>> apply_temperature(np.array([[2.0, 0.0]]), 2.0)
    array([[1., 0.]])
    """
    check_number("temperature", temperature, above=0)
    if isinstance(logits, torch.Tensor):
        return logits / temperature
    return np.asarray(logits) / temperature


def fit_temperature(logits, y_true, *, max_iter: int = 200) -> float:
    """Fit the temperature that minimises the NLL of validation logits (Guo et al. 2017).

    Optimises ``log T`` (so ``T > 0``) with L-BFGS on the cross-entropy of
    ``softmax(logits / T)``. Fit on a validation split, never on the test split.

    Args:
        logits: Float validation logits ``(N, C)``.
        y_true: Integer labels ``(N,)``.
        max_iter: L-BFGS iterations.

    Returns:
        The temperature ``T > 0`` as a Python float.

    Raises:
        ValueError: On mismatched shapes, non-finite logits, labels outside ``[0, C)`` or
            ``max_iter < 1``.
        TypeError: If ``y_true`` is not integer or ``max_iter`` not an int.

    >>> logits = np.array([[4.0, 0.0], [4.0, 0.0], [0.0, 4.0], [0.0, 4.0]])
    >>> fit_temperature(logits, [0, 1, 1, 0]) > 10  # right half the time: soften a lot
    True
    """
    check_int("max_iter", max_iter, minimum=1)
    y = check_labels(y_true)
    z = _check_logits(logits, len(y))
    if y.max() >= z.shape[1]:
        raise ValueError(f"y_true must be < C={z.shape[1]}, got max {y.max()}")
    z_t = torch.as_tensor(z, dtype=torch.float64)
    y_t = torch.as_tensor(y)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(z_t / log_t.exp(), y_t)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())


# ----------------------------------------------------------------------------- thresholds
def threshold_for_sensitivity(y_true_binary, scores, target: float = 0.95) -> float:
    """The largest threshold whose sensitivity reaches ``target`` (predict positive if ``>=``).

    Screening asks for a minimum sensitivity ("miss at most 5 % of tumours"); this picks the
    highest score cut-off that still meets it, which keeps specificity as high as possible.
    Computed on a validation split with scikit-learn's ``roc_curve``.

    Args:
        y_true_binary: 0/1 (or bool) labels ``(N,)``, 1 = positive (e.g. "tumour").
        scores: Float scores ``(N,)``, higher = more likely positive (e.g. ``1 - p(notumor)``).
        target: Wanted sensitivity in ``(0, 1]``.

    Returns:
        The threshold as a Python float: ``scores >= threshold`` has sensitivity ``>= target``.

    Raises:
        ValueError: If ``target`` is outside ``(0, 1]``, the labels are not binary, there are no
            positives, or the shapes differ.
        TypeError: If ``target`` is not a number.

    >>> threshold_for_sensitivity([0, 0, 1, 1, 1, 1], [0.1, 0.6, 0.4, 0.7, 0.8, 0.9], 0.75)
    0.7
    """
    check_interval("target", target, 0, 1, closed="right")
    y = _to_numpy(y_true_binary, "y_true_binary")
    s = _to_numpy(scores, "scores").astype(np.float64)
    if y.ndim != 1 or s.shape != y.shape:
        raise ValueError(f"y_true_binary {y.shape} and scores {s.shape} must be 1-D and equal")
    if not np.isin(y, [0, 1]).all():
        raise ValueError("y_true_binary must hold only 0/1 (or False/True)")
    if not y.any():
        raise ValueError("y_true_binary has no positives: sensitivity is undefined")
    y = y.astype(np.int64)
    if y.all():  # roc_curve needs negatives; every positive then counts, so take the minimum
        return float(np.sort(s)[int(np.floor((1 - target) * len(s) + 1e-9))])
    _, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    idx = int(np.argmax(tpr >= target - 1e-12))
    return float(thresholds[idx])


def predict_with_threshold(probs, class_index: int, threshold: float) -> np.ndarray:
    """Predict ``class_index`` whenever its probability reaches ``threshold``, else the argmax.

    Lowering the threshold of a class raises its sensitivity at the cost of the others
    (e.g. flag every slice with ``p(glioma) >= 0.2``). When the class is not chosen, the
    prediction is the most probable of the **other** classes.

    Args:
        probs: Probabilities ``(N, C)``.
        class_index: The class whose decision moves, in ``[0, C)``.
        threshold: In ``[0, 1]``.

    Returns:
        Int64 predicted labels ``(N,)``.

    Raises:
        ValueError: If ``class_index`` or ``threshold`` is out of range, or ``probs`` invalid.
        TypeError: If ``class_index`` is not an int or ``threshold`` not a number.

    >>> predict_with_threshold([[0.7, 0.3], [0.9, 0.1]], class_index=1, threshold=0.25)
    array([1, 0])
    """
    p = check_probs(probs)
    c = p.shape[1]
    class_index = check_int("class_index", class_index)
    if not 0 <= class_index < c:  # a column of probs
        raise ValueError(f"class_index must be in [0, {c}), got {class_index}")
    check_interval("threshold", threshold, 0, 1)
    others = p.copy()
    others[:, class_index] = -np.inf
    pred = others.argmax(axis=1)
    pred[p[:, class_index] >= threshold] = class_index
    return pred.astype(np.int64)


def adjust_for_priors(probs, train_priors, target_priors) -> np.ndarray:
    """Re-weight probabilities for new class priors (Saerens et al. 2002, Bayes' rule).

    A model trained on balanced classes believes every class is equally likely a priori; in a
    clinic where 50 % of scans show no tumour, ``p'_c ∝ p_c * target_c / train_c``.

    Args:
        probs: Probabilities ``(N, C)``.
        train_priors: Class frequencies the model was trained on, ``(C,)``, positive.
        target_priors: Class frequencies where it is used, ``(C,)``, positive.

    Returns:
        New float64 probabilities ``(N, C)``, rows summing to 1.

    Raises:
        ValueError: If a prior vector has the wrong length or a non-positive entry.

    >>> adjust_for_priors([[0.5, 0.5]], [0.5, 0.5], [0.8, 0.2])
    array([[0.8, 0.2]])
    """
    p = check_probs(probs)
    ratio = []
    for name, priors in (("train_priors", train_priors), ("target_priors", target_priors)):
        arr = _to_numpy(priors, name).astype(np.float64)
        if arr.shape != (p.shape[1],) or not (arr > 0).all() or not np.isfinite(arr).all():
            raise ValueError(
                f"{name} must be {p.shape[1]} positive class frequencies, got {arr.tolist()}"
            )
        ratio.append(arr / arr.sum())
    adjusted = p * (ratio[1] / ratio[0])
    return adjusted / adjusted.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------- curves
def one_vs_rest_curves(
    y_true, probs, class_names: Sequence[str] = CLASS_NAMES
) -> dict[str, dict[str, np.ndarray | float]]:
    """One-vs-rest ROC and precision-recall curves with AUROC and AUPRC, per class.

    AUPRC is scikit-learn's ``average_precision_score`` (step-wise, no interpolation); its
    chance level is the class's ``prevalence``. A class that is absent from ``y_true`` (or is
    all of it) has no curve: its arrays are empty and its AUROC/AUPRC are NaN.

    Args:
        y_true: Integer labels ``(N,)``.
        probs: Probabilities ``(N, C)``.
        class_names: ``C`` names in label order.

    Returns:
        ``{class_name: {"fpr", "tpr", "precision", "recall"`` (1-D float arrays),
        ``"auroc", "auprc", "prevalence"`` (floats)``}}``, in label order.

    Raises:
        ValueError: On mismatched shapes, labels outside ``[0, C)`` or a number of names
            different from ``C``.
        TypeError: If labels are not integer.

    >>> curves = one_vs_rest_curves([0, 1, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]],
    ...                             ["a", "b"])
    >>> curves["b"]["auroc"], curves["b"]["auprc"]
    (1.0, 1.0)
    """
    names = [str(n) for n in class_names]
    y_true, _, p, _ = labels_and_predictions(y_true, check_probs(probs), len(names))
    out = {}
    for k, name in enumerate(names):
        positive = (y_true == k).astype(np.int64)
        entry: dict[str, np.ndarray | float] = {"prevalence": float(positive.mean())}
        if 0 < positive.sum() < len(positive):
            fpr, tpr, _ = roc_curve(positive, p[:, k])
            precision, recall, _ = precision_recall_curve(positive, p[:, k])
            entry.update(
                fpr=fpr,
                tpr=tpr,
                precision=precision,
                recall=recall,
                auroc=float(roc_auc_score(positive, p[:, k])),
                auprc=float(average_precision_score(positive, p[:, k])),
            )
        else:
            empty = np.array([], dtype=np.float64)
            entry.update(
                fpr=empty, tpr=empty, precision=empty, recall=empty, auroc=np.nan, auprc=np.nan
            )
        out[name] = entry
    return out


def one_vs_rest_frame(y_true, probs, class_names: Sequence[str] = CLASS_NAMES) -> pd.DataFrame:
    """AUROC, AUPRC and prevalence per class as a table (see :func:`one_vs_rest_curves`).

    Returns:
        DataFrame indexed by class name with float columns ``auroc, auprc, prevalence``.

    Raises:
        ValueError: See :func:`one_vs_rest_curves`.
        TypeError: See :func:`one_vs_rest_curves`.

    >>> one_vs_rest_frame([0, 1], [[0.8, 0.2], [0.3, 0.7]], ["a", "b"])
       auroc  auprc  prevalence
    a    1.0    1.0         0.5
    b    1.0    1.0         0.5
    """
    curves = one_vs_rest_curves(y_true, probs, class_names)
    cols = ["auroc", "auprc", "prevalence"]
    return pd.DataFrame({name: [c[k] for k in cols] for name, c in curves.items()}, index=cols).T
