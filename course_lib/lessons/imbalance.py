"""Class imbalance experiments (lesson 06): a screening-like data set and a fair comparison.

- :func:`screening_counts`: per-class slice counts as in screening (many scans without a tumour,
  few of the rarest tumour), for ``BrainMRIDataModule(per_class=...)``;
- :func:`majority_predictions`: the trivial model behind the accuracy paradox;
- :func:`metrics_row`: accuracy, balanced accuracy, macro-F1 and per-class recall in one row;
- :func:`train_method`: train one configuration (plain cross-entropy, class-weighted
  cross-entropy, oversampling with a ``WeightedRandomSampler``, or focal loss) and return its
  predictions on validation and test;
- :func:`post_hoc_rows`: move the decision of the plain model after training (prior correction,
  a threshold for the rarest class), no retraining;
- :func:`compare_methods`: all of it in one table, same seed and same budget for each.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from course_lib import training
from course_lib._validation import check_choice, check_int, check_interval
from course_lib.config import CLASS_NAMES, Profile, get_profile
from course_lib.data import BrainMRIDataModule
from course_lib.evaluation import predict_split
from course_lib.losses import class_weights
from course_lib.metrics import (
    adjust_for_priors,
    classification_report_frame,
    predict_with_threshold,
    threshold_for_sensitivity,
)
from course_lib.models import TumorClassifier

#: Share of each class relative to the commonest one, as in a screening population: most
#: scans show no tumour; glioma, the most urgent, is here also the rarest.
SCREENING_SHARES: dict[str, float] = {
    "notumor": 1.0,
    "meningioma": 0.4,
    "pituitary": 0.25,
    "glioma": 0.1,
}

#: Optimiser settings of every run in the comparison: a one-cycle schedule with a higher peak
#: learning rate, so that the small CNN learns within the few epochs of the ``cpu`` profile.
MODEL_OPTIONS: dict[str, object] = {"lr": 3e-3, "scheduler": "onecycle"}

#: Training configurations :func:`train_method` knows.
METHODS: tuple[str, ...] = ("cross-entropy", "weighted CE", "oversampling", "focal loss")


def screening_counts(
    n_majority: int, *, shares: Mapping[str, float] = SCREENING_SHARES, minimum: int = 8
) -> dict[str, int]:
    """Training slices per class for an imbalanced, screening-like set.

    Args:
        n_majority: Slices of the commonest class (e.g. ``profile.samples_per_class``).
        shares: Each class's size relative to the commonest, in ``(0, 1]``; keys are class
            names from ``CLASS_NAMES``.
        minimum: Smallest count of any class (a validation split needs whole patients of
            every class; use at least two patients' worth of slices).

    Returns:
        ``{class_name: count}`` in ``CLASS_NAMES`` order, ints ``>= minimum``.

    Raises:
        ValueError: If ``n_majority`` or ``minimum`` is below 1, a share is outside ``(0, 1]``,
            or a key is not a class name.
        TypeError: If ``n_majority`` or ``minimum`` is not an int, or a share not a number.

    >>> screening_counts(300)
    {'glioma': 30, 'meningioma': 120, 'notumor': 300, 'pituitary': 75}
    >>> screening_counts(24)
    {'glioma': 8, 'meningioma': 10, 'notumor': 24, 'pituitary': 8}
    """
    n_majority = check_int("n_majority", n_majority, minimum=1)
    minimum = check_int("minimum", minimum, minimum=1)
    unknown = sorted(set(shares) - set(CLASS_NAMES))
    if unknown:
        raise ValueError(f"shares has unknown classes {unknown}; use names from {CLASS_NAMES}")
    counts = {}
    for name in CLASS_NAMES:
        if name not in shares:
            continue
        share = check_interval(f"shares[{name!r}]", shares[name], 0, 1, closed="right")
        counts[name] = max(minimum, round(share * n_majority))
    return counts


def majority_predictions(train_labels, n: int) -> np.ndarray:
    """Predictions of the trivial model that always answers the commonest training class.

    Args:
        train_labels: Int training labels ``(N_train,)``.
        n: How many predictions to make.

    Returns:
        Int64 array ``(n,)`` filled with the most frequent label (the smallest on ties).

    Raises:
        ValueError: If ``train_labels`` is empty or ``n < 1``.
        TypeError: If ``n`` is not an int.

    >>> majority_predictions([2, 2, 1], 3)
    array([2, 2, 2])
    """
    labels = np.asarray(train_labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"train_labels must be a non-empty 1-D array, got shape {labels.shape}")
    n = check_int("n", n, minimum=1)
    majority = int(np.bincount(labels.astype(np.int64)).argmax())
    return np.full(n, majority, dtype=np.int64)


def metrics_row(y_true, y_pred, class_names: Sequence[str] = CLASS_NAMES) -> dict[str, float]:
    """One row of a comparison table: accuracy, balanced accuracy, macro-F1, recall per class.

    Args:
        y_true: Int labels ``(N,)``.
        y_pred: Int predicted labels ``(N,)``.
        class_names: ``C`` names in label order.

    Returns:
        ``{"accuracy", "balanced accuracy", "macro F1", "recall <class>" ...}`` as floats.

    Raises:
        ValueError: See ``metrics.classification_report_frame``.

    >>> metrics_row([0, 0, 1, 1], [0, 0, 0, 1], ["a", "b"])["recall b"]
    0.5
    """
    frame = classification_report_frame(y_true, y_pred, class_names)
    row = {
        "accuracy": frame.attrs["accuracy"],
        "balanced accuracy": frame.attrs["balanced_accuracy"],
        "macro F1": frame.attrs["macro_f1"],
    }
    row.update({f"recall {n}": float(frame.at[str(n), "sensitivity"]) for n in class_names})
    return row


@dataclass
class MethodResult:
    """A trained configuration and its predictions.

    Attributes:
        method: Name from :data:`METHODS`.
        model: The trained ``TumorClassifier`` (last epoch).
        val: Predictions on the validation split.
        test: Predictions on the test split.
        train_counts: Training slices per class, in label order.
    """

    method: str
    model: object
    val: object
    test: object
    train_counts: dict[str, int]


def train_method(
    method: str,
    *,
    per_class: Mapping[str, int],
    root_dir: str | os.PathLike,
    profile: Profile | str | None = None,
    seed: int = 42,
    focal_gamma: float = 2.0,
    data_options: Mapping | None = None,
    model_options: Mapping | None = None,
    **trainer_overrides,
) -> MethodResult:
    """Train one imbalance configuration with the profile's budget and predict val and test.

    Every method uses the same data (seeded), model (``simple_cnn``), seed and number of
    epochs; only the loss or the sampling changes:

    - ``"cross-entropy"``: the plain loss, batches shuffled;
    - ``"weighted CE"``: cross-entropy weighted by inverse class frequency
      (``losses.class_weights``);
    - ``"oversampling"``: plain loss, batches drawn by a class-balanced ``WeightedRandomSampler``
      (each epoch still draws as many slices as the training set holds);
    - ``"focal loss"``: focal loss with ``focal_gamma`` and no class weights.

    Args:
        method: One of :data:`METHODS`.
        per_class: Training slices per class (e.g. :func:`screening_counts`).
        root_dir: Folder for this run's checkpoints (a sub-folder per method is made).
        profile: Profile (sizes, epochs, device); ``None`` for this machine's.
        seed: Seed of data, splits, weights and sampling.
        focal_gamma: Focusing parameter of the focal loss.
        data_options: More ``BrainMRIDataModule`` arguments (e.g. ``{"difficulty": 0.5}``).
        model_options: ``TumorClassifier`` arguments other than the loss; default
            :data:`MODEL_OPTIONS`.
        **trainer_overrides: Passed to ``training.make_trainer`` (e.g. ``max_epochs=2``).

    Returns:
        A :class:`MethodResult`.

    Raises:
        ValueError: If ``method`` is not one of :data:`METHODS`.
    """
    check_choice("method", method, METHODS)
    profile = get_profile(profile) if profile is None or isinstance(profile, str) else profile
    data = BrainMRIDataModule.from_profile(
        profile,
        per_class=dict(per_class),
        seed=seed,
        sampler="weighted" if method == "oversampling" else "none",
        **dict(data_options or {}),
    )
    data.prepare_data()
    data.setup()
    model_kwargs = {"loss": "ce"}
    if method == "weighted CE":
        weights = class_weights(data.train_dataset.labels, data.num_classes)
        model_kwargs = {"loss": "weighted_ce", "class_weights": weights.tolist()}
    elif method == "focal loss":
        model_kwargs = {"loss": "focal", "focal_gamma": focal_gamma}
    trainer_kwargs = {
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        **trainer_overrides,
    }
    folder = os.path.join(os.fspath(root_dir), method.replace(" ", "_"))
    with training.quiet_lightning():
        # through the module, so that a test can stand in for the trainer
        trainer = training.make_trainer(profile, root_dir=folder, seed=seed, **trainer_kwargs)
        options = dict(MODEL_OPTIONS if model_options is None else model_options)
        model = TumorClassifier(**options, **model_kwargs)
        trainer.fit(model, datamodule=data)
    return MethodResult(
        method=method,
        model=model,
        val=predict_split(model, data, "val"),
        test=predict_split(model, data, "test"),
        train_counts=data.class_counts,
    )


def post_hoc_rows(
    plain: MethodResult, *, target_sensitivity: float = 0.9, class_names=CLASS_NAMES
) -> dict[str, dict[str, float]]:
    """Change the plain model's decision after training, and score it on the test split.

    - ``"CE + prior correction"``: divide each probability by its class's training frequency
      and renormalise (``metrics.adjust_for_priors`` to uniform priors, Saerens et al. 2002):
      the model's answer as if every class were equally common.
    - ``"CE + threshold (<rarest>)"``: predict the rarest training class whenever its
      probability reaches the largest threshold that gives ``target_sensitivity`` for it on the
      **validation** split (``metrics.threshold_for_sensitivity``).

    Args:
        plain: The result of ``train_method("cross-entropy", ...)``.
        target_sensitivity: Wanted validation sensitivity of the rarest class, in ``(0, 1]``.
        class_names: Names in label order.

    Returns:
        ``{row name: metrics_row(...)}`` for the two rows (only the first, with a
        ``RuntimeWarning``, when the validation split holds no slice of the rarest class).

    Raises:
        ValueError: If ``target_sensitivity`` is outside ``(0, 1]``.
        TypeError: If it is not a number.
    """
    check_interval("target_sensitivity", target_sensitivity, 0, 1, closed="right")
    counts = np.array([plain.train_counts[n] for n in class_names], dtype=np.float64)
    priors = counts / counts.sum()
    uniform = np.full(len(counts), 1.0 / len(counts))
    corrected = adjust_for_priors(plain.test.probs, priors, uniform).argmax(axis=1)
    y = plain.test.y_true
    rows = {"CE + prior correction": metrics_row(y, corrected, class_names)}
    rare = int(counts.argmin())
    if not np.any(plain.val.y_true == rare):
        warnings.warn(
            f"the validation split holds no {class_names[rare]!r} slice, so no threshold can be "
            "chosen for it; the threshold row is left out (use more data per class)",
            RuntimeWarning,
            stacklevel=2,
        )
        return rows
    threshold = threshold_for_sensitivity(
        plain.val.y_true == rare, plain.val.probs[:, rare], target_sensitivity
    )
    moved = predict_with_threshold(plain.test.probs, rare, threshold)
    rows[f"CE + threshold ({class_names[rare]} >= {threshold:.2f})"] = metrics_row(
        y, moved, class_names
    )
    return rows


def compare_methods(
    *,
    per_class: Mapping[str, int],
    root_dir: str | os.PathLike,
    profile: Profile | str | None = None,
    seed: int = 42,
    methods: Sequence[str] = METHODS,
    post_hoc: bool = True,
    data_options: Mapping | None = None,
    model_options: Mapping | None = None,
    **trainer_overrides,
) -> tuple[pd.DataFrame, dict[str, MethodResult]]:
    """Train each method with the same seed and budget; one table of test metrics.

    Args:
        per_class: Training slices per class.
        root_dir: Folder for the runs.
        profile: Profile; ``None`` for this machine's.
        seed: The shared seed.
        methods: Which of :data:`METHODS` to train.
        post_hoc: Add the rows of :func:`post_hoc_rows` (needs ``"cross-entropy"``).
        data_options: More ``BrainMRIDataModule`` arguments, the same for every method.
        model_options: ``TumorClassifier`` arguments, the same for every method (default
            :data:`MODEL_OPTIONS`).
        **trainer_overrides: Passed to ``training.make_trainer``.

    Returns:
        ``(table, results)``: a DataFrame indexed by method with the columns of
        :func:`metrics_row` (on the test split), and the :class:`MethodResult` of each method.

    Raises:
        ValueError: If ``methods`` is empty or unknown, or ``post_hoc`` without
            ``"cross-entropy"``.
    """
    methods = list(methods)
    if not methods or any(m not in METHODS for m in methods):
        raise ValueError(f"methods must be a non-empty selection of {METHODS}, got {methods!r}")
    if post_hoc and "cross-entropy" not in methods:
        raise ValueError("post_hoc=True needs 'cross-entropy' in methods (it adjusts that model)")
    results, rows = {}, {}
    for method in methods:
        result = train_method(
            method,
            per_class=per_class,
            root_dir=root_dir,
            profile=profile,
            seed=seed,
            data_options=data_options,
            model_options=model_options,
            **trainer_overrides,
        )
        results[method] = result
        rows[method] = metrics_row(result.test.y_true, result.test.y_pred)
        if post_hoc and method == "cross-entropy":
            rows.update(post_hoc_rows(result))
    return pd.DataFrame.from_dict(rows, orient="index"), results
