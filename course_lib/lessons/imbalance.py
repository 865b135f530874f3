"""Class imbalance experiments (lesson 06): an imbalanced data set and a fair comparison.

- :func:`prevalence_counts`: per-class slice counts for a mix where most scans show no tumour
  and glioma is the rarest class, for ``BrainMRIDataModule(per_class=...)``
  (:func:`screening_counts` is its old name);
- :func:`lesson_profile`: the sizes the lesson trains with (small images, 2 slices a patient);
- :func:`imbalanced_test_index`: a second, independent draw with the training mix, to test on;
- :func:`majority_predictions`: the trivial model behind the accuracy paradox;
- :func:`metrics_row`: accuracy, balanced accuracy, macro-F1 and per-class recall in one row;
- :func:`train_method`: train one configuration (plain cross-entropy, class-weighted
  cross-entropy, oversampling with a ``WeightedRandomSampler``, or focal loss) and return its
  predictions on validation and on both test sets;
- :func:`choose_threshold`, :func:`post_hoc_predictions`, :func:`post_hoc_rows`: move the
  decision of the plain model after training (prior correction, a threshold for the rarest
  class), no retraining;
- :func:`compare_methods`: all of it for several seeds, same budget for each; the returned
  :class:`Comparison` gives the mean over seeds with a patient-bootstrap interval.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from torch.utils.data import DataLoader

from course_lib import datasets, training
from course_lib._validation import check_choice, check_int, check_interval
from course_lib.config import CLASS_NAMES, Profile, get_profile
from course_lib.data import BrainMRIDataModule, BrainMRIDataset
from course_lib.evaluation import Predictions, collect_predictions, predict_split
from course_lib.losses import class_weights
from course_lib.metrics import (
    adjust_for_priors,
    bootstrap_ci,
    classification_report_frame,
    predict_with_threshold,
    threshold_for_sensitivity,
)
from course_lib.models import TumorClassifier
from course_lib.synthetic_spec import SyntheticSpec
from course_lib.transforms import eval_transform

#: Share of each class relative to the commonest one: most scans show no tumour; glioma, the
#: most urgent, is here also the rarest. A made-up mix for teaching, not an epidemiological one:
#: real proportions depend on who is referred for an MRI.
PREVALENCE_SHARES: dict[str, float] = {
    "notumor": 1.0,
    "meningioma": 0.4,
    "pituitary": 0.25,
    "glioma": 0.1,
}

#: The old name of :data:`PREVALENCE_SHARES`.
SCREENING_SHARES = PREVALENCE_SHARES

#: Optimiser settings of every run in the comparison: a one-cycle schedule with a higher peak
#: learning rate, so that the small CNN learns within the few epochs of the ``cpu`` profile.
MODEL_OPTIONS: dict[str, object] = {"lr": 3e-3, "scheduler": "onecycle"}

#: Training configurations :func:`train_method` knows.
METHODS: tuple[str, ...] = ("cross-entropy", "weighted CE", "oversampling", "focal loss")

#: Seeds of the comparison. Each seed gives every method its own validation patients, initial
#: weights and batch order, so the spread over seeds shows how much a result owes to chance.
SEEDS: tuple[int, ...] = (1, 2, 3)

#: Share of the training patients kept for validation: a third (``split_by_patient`` makes
#: ``round(1 / 0.3) = 3`` folds), so that the glioma threshold is chosen on enough patients.
VAL_FRACTION = 0.3

#: Names of the two test sets of a :class:`Comparison`.
TEST_SETS: tuple[str, ...] = ("balanced", "imbalanced")


def prevalence_counts(
    n_majority: int, *, shares: Mapping[str, float] = PREVALENCE_SHARES, minimum: int = 8
) -> dict[str, int]:
    """Slices per class for an imbalanced set: ``n_majority`` times each class's share.

    Args:
        n_majority: Slices of the commonest class (e.g. ``2 * profile.samples_per_class``).
        shares: Each class's size relative to the commonest, in ``(0, 1]``; keys are class
            names from ``CLASS_NAMES``.
        minimum: Smallest count of any class (a validation split needs whole patients of
            every class; use at least three patients' worth of slices).

    Returns:
        ``{class_name: count}`` in ``CLASS_NAMES`` order, ints ``>= minimum``.

    Raises:
        ValueError: If ``n_majority`` or ``minimum`` is below 1, a share is outside ``(0, 1]``,
            or a key is not a class name.
        TypeError: If ``n_majority`` or ``minimum`` is not an int, or a share not a number.

    >>> prevalence_counts(300)
    {'glioma': 30, 'meningioma': 120, 'notumor': 300, 'pituitary': 75}
    >>> prevalence_counts(24)
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


#: The old name of :func:`prevalence_counts` (the mix is not a screening population: brain MRI
#: is a diagnostic exam of referred patients).
screening_counts = prevalence_counts


def lesson_profile(profile: Profile | str | None = None) -> Profile:
    """The profile with the sizes of lesson 06: at most 64 px, 6 epochs, 2 slices a patient.

    The comparison trains every method for several seeds; small images and at most 6 epochs
    keep that within the ``cpu`` profile's time, and 2 slices per patient (instead of 4) give
    twice as many patients for the same number of slices, so that the rare class has enough
    validation patients.

    Args:
        profile: A profile, its name, or ``None`` (this machine's).

    Returns:
        A changed copy of the profile.

    >>> p = lesson_profile("cpu")
    >>> p.image_size, p.max_epochs, p.slices_per_patient
    (64, 6, 2)
    """
    profile = get_profile(profile) if profile is None or isinstance(profile, str) else profile
    return profile.with_overrides(
        image_size=min(profile.image_size, 64),
        max_epochs=min(profile.max_epochs, 6),
        slices_per_patient=2,
    )


def _spec_options(data_options: Mapping | None) -> dict:
    fields_ = set(SyntheticSpec.field_names()) - {"image_size", "seed", "per_class"}
    return {k: v for k, v in dict(data_options or {}).items() if k in fields_}


def imbalanced_test_index(
    profile: Profile | str | None = None,
    *,
    per_class: Mapping[str, int],
    seed: int = 1,
    data_options: Mapping | None = None,
) -> pd.DataFrame:
    """A test set with an imbalanced mix: a separate synthetic draw, new patients.

    The balanced test split of a ``BrainMRIDataModule`` measures every class's recall on the
    same number of slices; this set is drawn like the training set instead (most slices
    ``notumor``), as a clinic would see them, so that accuracy shows what it does there. It
    comes from the generator with another seed, so no patient is shared with training.

    Args:
        profile: Sizes (image size, slices per patient); ``None`` for this machine's.
        per_class: Slices per class (e.g. :func:`prevalence_counts`).
        seed: Seed of the generator; not the training set's (``0``).
        data_options: The ``BrainMRIDataModule`` arguments of the training set; its synthetic
            fields (``difficulty``, ``sites``, ...) are used here too.

    Returns:
        The index (``path``, ``label``, ``class_name``, ``patient_id``, ...) of the draw.

    Raises:
        ValueError: If ``seed`` is 0, the training set's generator seed.
    """
    profile = get_profile(profile) if profile is None or isinstance(profile, str) else profile
    seed = check_int("seed", seed, minimum=0)
    if seed == SyntheticSpec().seed:
        raise ValueError(f"seed must differ from the training set's generator seed, got {seed}")
    spec = SyntheticSpec.from_profile(profile).replace(seed=seed, **_spec_options(data_options))
    # Testing takes whole patients up to test_per_class slices: exactly one patient a class
    spec = spec.replace(per_class=dict(per_class), test_per_class=spec.slices_per_patient)
    root = datasets.synthetic_dir(spec)
    datasets.prepare_synthetic(root, spec)
    index = datasets.read_dataset("synthetic", root)
    # the draw's own Testing part holds one patient of every class: leave it out
    return index[index["split"] == "train"].reset_index(drop=True)


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


def _metric_fn(name: str, class_names: Sequence[str]):
    """``f(y_true (N,), y_pred (N, S)) -> float``: a :func:`metrics_row` column, mean over S.

    From confusion matrices, so that a bootstrap stays fast; a recall of a class absent from
    ``y_true`` is NaN (the bootstrap skips that resample), not 0 as in :func:`metrics_row`.
    """
    c = len(class_names)
    names = [str(n) for n in class_names]

    def fn(y_true, y_pred):
        values = []
        for column in np.asarray(y_pred).reshape(len(y_true), -1).T:
            cm = np.bincount(c * y_true + column, minlength=c * c).reshape(c, c).astype(float)
            tp, support, called = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
            if name == "accuracy":
                values.append(tp.sum() / len(y_true))
            elif name == "balanced accuracy":
                values.append(np.mean(tp[support > 0] / support[support > 0]))
            elif name == "macro F1":
                den = support + called
                values.append(np.mean(np.divide(2 * tp, den, out=np.zeros(c), where=den > 0)))
            else:
                k = names.index(name.removeprefix("recall "))
                values.append(tp[k] / support[k] if support[k] else np.nan)
        return float(np.mean(values))

    return fn


@dataclass
class MethodResult:
    """A trained configuration and its predictions.

    Attributes:
        method: Name from :data:`METHODS`.
        model: The trained ``TumorClassifier`` (last epoch).
        val: Predictions on the validation split.
        test: Predictions on the (balanced) test split.
        train_counts: Training slices per class, in label order.
        seed: The run's seed.
        seconds: Wall time of the training.
        epochs: Epochs trained.
        test_imbalanced: Predictions on the imbalanced test set, or ``None``.
    """

    method: str
    model: object
    val: Predictions
    test: Predictions
    train_counts: dict[str, int]
    seed: int = 42
    seconds: float = float("nan")
    epochs: int = 0
    test_imbalanced: Predictions | None = None

    def line(self) -> str:
        """One line that sums up the run (what :func:`train_method` prints)."""
        val = metrics_row(self.val.y_true, self.val.y_pred)["balanced accuracy"]
        epochs = f"{self.epochs} epoch{'' if self.epochs == 1 else 's'}"
        return (
            f"{self.method}, seed {self.seed}: {epochs} in {self.seconds:.0f} s, "
            f"val balanced accuracy {val:.2f}"
        )


def _predict_index(model, data: BrainMRIDataModule, index: pd.DataFrame) -> Predictions:
    dataset = BrainMRIDataset(
        index,
        image_size=data.image_size,
        channels=data.channels,
        transform=eval_transform(data.image_size),
    )
    loader = DataLoader(dataset, batch_size=data.batch_size)
    return collect_predictions(model, loader, patient_ids=index["patient_id"].to_numpy())


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
    imbalanced_test: pd.DataFrame | None = None,
    verbose: bool = True,
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
        per_class: Training slices per class (e.g. :func:`prevalence_counts`).
        root_dir: Folder for this run's checkpoints (a sub-folder per method and seed).
        profile: Profile (sizes, epochs, device); ``None`` for this machine's.
        seed: Seed of the splits, weights and sampling.
        focal_gamma: Focusing parameter of the focal loss.
        data_options: More ``BrainMRIDataModule`` arguments (e.g. ``{"val_fraction": 0.3}``).
        model_options: ``TumorClassifier`` arguments other than the loss; default
            :data:`MODEL_OPTIONS`.
        imbalanced_test: An index to predict as well (:func:`imbalanced_test_index`).
        verbose: Print one line when the run ends (:meth:`MethodResult.line`).
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
        "progress": "none",  # one line per run instead, below
        "enable_model_summary": False,
        **trainer_overrides,
    }
    folder = os.path.join(os.fspath(root_dir), f"{method.replace(' ', '_')}-seed{seed}")
    start = time.perf_counter()
    # through the module, so that a test can stand in for the trainer
    trainer = training.make_trainer(profile, root_dir=folder, seed=seed, **trainer_kwargs)
    options = dict(MODEL_OPTIONS if model_options is None else model_options)
    model = TumorClassifier(**options, **model_kwargs)
    trainer.fit(model, datamodule=data)
    seconds = time.perf_counter() - start
    result = MethodResult(
        method=method,
        model=model,
        val=predict_split(model, data, "val"),
        test=predict_split(model, data, "test"),
        train_counts=data.class_counts,
        seed=seed,
        seconds=seconds,
        epochs=int(getattr(trainer, "current_epoch", 0)),
        test_imbalanced=None
        if imbalanced_test is None
        else _predict_index(model, data, imbalanced_test),
    )
    if verbose:
        print(result.line(), flush=True)
    return result


#: What ``metrics.bootstrap_ci`` warns when a metric was undefined on some resamples.
_SKIPPED = "bootstrap resamples were skipped"

#: Name of the prior-correction row of a comparison.
PRIOR_ROW = "CE + prior correction"


def _threshold_row(class_name: str) -> str:
    return f"CE + threshold ({class_name})"


@dataclass(frozen=True)
class ThresholdChoice:
    """A decision threshold for one class, chosen on the validation split.

    Attributes:
        class_name: The class (the rarest in training).
        threshold: Predict the class when its probability is ``>= threshold``.
        target: The validation sensitivity asked for.
        val_slices: Validation slices of the class it was chosen on.
        val_patients: Validation patients they come from.
        val_sensitivity: The sensitivity it reaches on them (``>= target``).
    """

    class_name: str
    threshold: float
    target: float
    val_slices: int
    val_patients: int
    val_sensitivity: float


def choose_threshold(
    plain: MethodResult, *, target_sensitivity: float = 0.9, class_names=CLASS_NAMES
) -> ThresholdChoice | None:
    """The largest threshold for the rarest class that reaches a validation sensitivity.

    Args:
        plain: The result of ``train_method("cross-entropy", ...)``.
        target_sensitivity: Wanted validation sensitivity of the rarest class, in ``(0, 1]``.
        class_names: Names in label order.

    Returns:
        A :class:`ThresholdChoice`, or ``None`` (with a ``RuntimeWarning``) when the validation
        split holds no slice of the rarest class.

    Raises:
        ValueError: If ``target_sensitivity`` is outside ``(0, 1]``.
        TypeError: If it is not a number.
    """
    check_interval("target_sensitivity", target_sensitivity, 0, 1, closed="right")
    counts = np.array([plain.train_counts[n] for n in class_names], dtype=np.float64)
    rare = int(counts.argmin())
    positives = plain.val.y_true == rare
    if not positives.any():
        warnings.warn(
            f"the validation split holds no {class_names[rare]!r} slice, so no threshold can be "
            "chosen for it; the threshold row is left out (use more data per class)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    scores = plain.val.probs[:, rare]
    threshold = threshold_for_sensitivity(positives, scores, target_sensitivity)
    ids = plain.val.patient_ids
    patients = int(positives.sum()) if ids is None else len(np.unique(ids[positives]))
    return ThresholdChoice(
        class_name=str(class_names[rare]),
        threshold=threshold,
        target=float(target_sensitivity),
        val_slices=int(positives.sum()),
        val_patients=patients,
        val_sensitivity=float(np.mean(scores[positives] >= threshold)),
    )


def _test_sets(result: MethodResult) -> dict[str, Predictions]:
    sets = {"balanced": result.test}
    if result.test_imbalanced is not None:
        sets["imbalanced"] = result.test_imbalanced
    return sets


def post_hoc_predictions(
    plain: MethodResult, *, target_sensitivity: float = 0.9, class_names=CLASS_NAMES
) -> tuple[dict[str, dict[str, np.ndarray]], ThresholdChoice | None]:
    """Change the plain model's decision after training: predicted labels on each test set.

    - ``"CE + prior correction"``: divide each probability by its class's training frequency
      and renormalise (``metrics.adjust_for_priors`` to uniform priors, Saerens et al. 2002):
      the model's answer as if every class were equally common.
    - ``"CE + threshold (<rarest>)"``: predict the rarest training class whenever its
      probability reaches the threshold of :func:`choose_threshold`, chosen on the
      **validation** split.

    Args:
        plain: The result of ``train_method("cross-entropy", ...)``.
        target_sensitivity: Wanted validation sensitivity of the rarest class, in ``(0, 1]``.
        class_names: Names in label order.

    Returns:
        ``({row name: {test set: int64 labels (N,)}}, threshold choice)``; test sets
        ``"balanced"`` and, when predicted, ``"imbalanced"``; without a threshold (see
        :func:`choose_threshold`) only the first row and ``None``.

    Raises:
        ValueError: If ``target_sensitivity`` is outside ``(0, 1]``.
        TypeError: If it is not a number.
    """
    choice = choose_threshold(plain, target_sensitivity=target_sensitivity, class_names=class_names)
    counts = np.array([plain.train_counts[n] for n in class_names], dtype=np.float64)
    priors = counts / counts.sum()
    uniform = np.full(len(counts), 1.0 / len(counts))
    sets = _test_sets(plain)
    rows = {
        PRIOR_ROW: {
            name: adjust_for_priors(p.probs, priors, uniform).argmax(axis=1)
            for name, p in sets.items()
        }
    }
    if choice is not None:
        k = list(map(str, class_names)).index(choice.class_name)
        rows[_threshold_row(choice.class_name)] = {
            name: predict_with_threshold(p.probs, k, choice.threshold) for name, p in sets.items()
        }
    return rows, choice


def post_hoc_rows(
    plain: MethodResult, *, target_sensitivity: float = 0.9, class_names=CLASS_NAMES
) -> dict[str, dict[str, float]]:
    """:func:`post_hoc_predictions` scored on the (balanced) test split.

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
    rows, _ = post_hoc_predictions(
        plain, target_sensitivity=target_sensitivity, class_names=class_names
    )
    y = plain.test.y_true
    return {name: metrics_row(y, labels["balanced"], class_names) for name, labels in rows.items()}


@dataclass
class Comparison:
    """Every method trained for every seed, and its predictions on the test sets.

    Attributes:
        runs: ``{(method, seed): MethodResult}``.
        predictions: ``{(test set, row): int64 labels (N, S)}``, one column per seed (in
            ``seeds`` order); rows are the methods and the post-hoc rows.
        truth: ``{test set: (y_true (N,), patient ids (N,) or None)}``.
        seeds: The seeds.
        thresholds: One row per seed: the :class:`ThresholdChoice` of its plain model.
        class_names: Names in label order.
    """

    runs: dict[tuple[str, int], MethodResult]
    predictions: dict[tuple[str, str], np.ndarray]
    truth: dict[str, tuple[np.ndarray, np.ndarray | None]]
    seeds: tuple[int, ...]
    thresholds: pd.DataFrame = field(default_factory=pd.DataFrame)
    class_names: tuple[str, ...] = CLASS_NAMES

    @property
    def rows(self) -> list[str]:
        """Row names (methods and post-hoc rows) in the order they were added."""
        return list(dict.fromkeys(row for _, row in self.predictions))

    @property
    def test_sets(self) -> list[str]:
        """Names of the test sets, ``"balanced"`` first."""
        return list(self.truth)

    def scores(self) -> pd.DataFrame:
        """One :func:`metrics_row` per test set, row and seed.

        Returns:
            DataFrame indexed by ``(test set, method, seed)``.
        """
        records = {}
        for (test_set, row), labels in self.predictions.items():
            y_true = self.truth[test_set][0]
            for seed, column in zip(self.seeds, labels.T, strict=True):
                records[(test_set, row, seed)] = metrics_row(y_true, column, self.class_names)
        frame = pd.DataFrame.from_dict(records, orient="index")
        frame.index = pd.MultiIndex.from_tuples(frame.index, names=["test set", "method", "seed"])
        return frame

    def summary(self, *, n_resamples: int = 1000, ci: float = 0.95, seed: int = 0) -> pd.DataFrame:
        """Mean over seeds of each metric, with a patient-bootstrap interval and the seed range.

        The interval resamples the test **patients** (``metrics.bootstrap_ci`` with
        ``groups``): it says how much the mean over seeds could move with other test patients.
        The seed range (``seed min``, ``seed max``) says how much one training run moves.
        Every row and metric uses the same resamples.

        Args:
            n_resamples: Bootstrap resamples (``profile.bootstrap_samples`` in the lesson).
            ci: Confidence level in ``(0, 1)``.
            seed: Seed of the resampling.

        Returns:
            DataFrame indexed by ``(test set, method, metric)`` with float columns ``point``
            (the mean over seeds), ``low``, ``high``, ``seed min`` and ``seed max``.
        """
        records, short = {}, set()
        for (test_set, row), labels in self.predictions.items():
            y_true, groups = self.truth[test_set]
            per_seed = pd.DataFrame(
                [metrics_row(y_true, column, self.class_names) for column in labels.T]
            )
            for metric in per_seed.columns:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    point, low, high = bootstrap_ci(
                        _metric_fn(metric, self.class_names),
                        y_true,
                        labels,
                        groups=groups,
                        n_resamples=n_resamples,
                        ci=ci,
                        seed=seed,
                    )
                for w in caught:
                    if _SKIPPED in str(w.message):
                        short.add(f"{test_set}: {metric}")
                    else:
                        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                values = per_seed[metric]
                records[(test_set, row, metric)] = {
                    "point": float(values.mean()),
                    "low": low,
                    "high": high,
                    "seed min": float(values.min()),
                    "seed max": float(values.max()),
                }
        if short:
            warnings.warn(
                f"some bootstrap resamples held no patient of a class, so its recall was left "
                f"out of them ({', '.join(sorted(short))}); the intervals use the other "
                "resamples. More test patients of the rare classes avoid it.",
                RuntimeWarning,
                stacklevel=2,
            )
        frame = pd.DataFrame.from_dict(records, orient="index")
        frame.index = pd.MultiIndex.from_tuples(frame.index, names=["test set", "method", "metric"])
        return frame

    def differences(
        self,
        metric: str = "balanced accuracy",
        *,
        reference: str | None = None,
        test_set: str = "balanced",
        n_resamples: int = 1000,
        ci: float = 0.95,
        seed: int = 0,
    ) -> pd.DataFrame:
        """How much better ``reference`` is than each other row, with a paired interval.

        Both means over seeds are computed on the same bootstrap resamples of test patients,
        so the interval of the difference is narrower than the two intervals side by side
        suggest. An interval that holds 0 means this test set cannot tell the two apart.

        Args:
            metric: A :func:`metrics_row` column.
            reference: A row name; default the row with the highest mean ``metric``.
            test_set: One of :attr:`test_sets`.
            n_resamples: Bootstrap resamples.
            ci: Confidence level in ``(0, 1)``.
            seed: Seed of the resampling (the same as :meth:`summary`'s gives its resamples).

        Returns:
            DataFrame indexed by the other rows with columns ``difference`` (reference minus
            row, mean over seeds), ``low`` and ``high``; its ``attrs["reference"]`` is the
            reference row.

        Raises:
            ValueError: If ``metric``, ``reference`` or ``test_set`` is unknown.
        """
        check_choice("test_set", test_set, self.test_sets)
        names = [str(n) for n in self.class_names]
        columns = ["accuracy", "balanced accuracy", "macro F1", *(f"recall {n}" for n in names)]
        check_choice("metric", metric, columns)
        fn = _metric_fn(metric, self.class_names)
        y_true, groups = self.truth[test_set]
        labels = {row: self.predictions[(test_set, row)] for row in self.rows}
        if reference is None:
            reference = max(labels, key=lambda row: fn(y_true, labels[row]))
        check_choice("reference", reference, self.rows)
        s = len(self.seeds)

        def diff(t, p):
            return fn(t, p[:, :s]) - fn(t, p[:, s:])

        records = {}
        for row in self.rows:
            if row == reference:
                continue
            stacked = np.hstack([labels[reference], labels[row]])
            point, low, high = bootstrap_ci(
                diff, y_true, stacked, groups=groups, n_resamples=n_resamples, ci=ci, seed=seed
            )
            records[row] = {"difference": point, "low": low, "high": high}
        frame = pd.DataFrame.from_dict(records, orient="index")
        frame.attrs["reference"] = reference
        return frame


def interval_table(
    summary: pd.DataFrame, test_set: str, metrics: Sequence[str] | None = None, digits: int = 2
) -> pd.DataFrame:
    """A :meth:`Comparison.summary` as text, one test set: "0.83 [0.78, 0.88]" per cell.

    Args:
        summary: The frame of :meth:`Comparison.summary`.
        test_set: ``"balanced"`` or ``"imbalanced"``.
        metrics: Columns to show, in order; default all.
        digits: Decimals.

    Returns:
        DataFrame of strings indexed by method, one column per metric.

    Raises:
        ValueError: If ``test_set`` or a metric is not in ``summary``.
    """
    check_choice("test_set", test_set, list(summary.index.unique("test set")))
    part = summary.loc[test_set]
    known = list(part.index.unique("metric"))
    metrics = known if metrics is None else list(metrics)
    for metric in metrics:
        check_choice("metric", metric, known)
    digits = check_int("digits", digits, minimum=0)

    def cell(r) -> str:
        return f"{r['point']:.{digits}f} [{r['low']:.{digits}f}, {r['high']:.{digits}f}]"

    text = part.apply(cell, axis=1).unstack("metric")
    return text.reindex(index=list(part.index.unique("method")), columns=metrics)


def _threshold_frame(choices, predictions, truth, seeds, class_names=CLASS_NAMES) -> pd.DataFrame:
    """One row per seed: its threshold, what it was chosen on, and the recall it gave."""
    records = {}
    for seed, c in choices.items():
        if c is None:
            continue
        records[seed] = {
            "class": c.class_name,
            "threshold": c.threshold,
            "target": c.target,
            "val slices": c.val_slices,
            "val patients": c.val_patients,
            "val recall": c.val_sensitivity,
        }
        k = list(map(str, class_names)).index(c.class_name)
        for name, (y_true, _) in truth.items():
            labels = predictions.get((name, _threshold_row(c.class_name)))
            if labels is not None:  # (left out when a seed had no threshold)
                hits = labels[y_true == k, seeds.index(seed)] == k
                records[seed][f"{name} test recall"] = float(np.mean(hits))
    return pd.DataFrame.from_dict(records, orient="index").rename_axis("seed")


def compare_methods(
    *,
    per_class: Mapping[str, int],
    root_dir: str | os.PathLike,
    profile: Profile | str | None = None,
    seeds: Sequence[int] = SEEDS,
    methods: Sequence[str] = METHODS,
    post_hoc: bool = True,
    target_sensitivity: float = 0.9,
    data_options: Mapping | None = None,
    model_options: Mapping | None = None,
    imbalanced_test: pd.DataFrame | None = None,
    verbose: bool = True,
    **trainer_overrides,
) -> Comparison:
    """Train each method for each seed with the same budget; predict both test sets.

    Args:
        per_class: Training slices per class.
        root_dir: Folder for the runs.
        profile: Profile; ``None`` for this machine's.
        seeds: The seeds; each trains every method once.
        methods: Which of :data:`METHODS` to train.
        post_hoc: Add the rows of :func:`post_hoc_predictions` (needs ``"cross-entropy"``);
            each seed's plain model gets its own threshold.
        target_sensitivity: See :func:`choose_threshold`.
        data_options: More ``BrainMRIDataModule`` arguments, the same for every method.
        model_options: ``TumorClassifier`` arguments, the same for every method (default
            :data:`MODEL_OPTIONS`).
        imbalanced_test: Index of an imbalanced test set (:func:`imbalanced_test_index`).
        verbose: Print one line per run.
        **trainer_overrides: Passed to ``training.make_trainer``.

    Returns:
        A :class:`Comparison`.

    Raises:
        ValueError: If ``methods`` or ``seeds`` is empty, a method unknown, or ``post_hoc``
            without ``"cross-entropy"``.
    """
    methods = list(methods)
    if not methods or any(m not in METHODS for m in methods):
        raise ValueError(f"methods must be a non-empty selection of {METHODS}, got {methods!r}")
    if post_hoc and "cross-entropy" not in methods:
        raise ValueError("post_hoc=True needs 'cross-entropy' in methods (it adjusts that model)")
    seeds = tuple(check_int("seeds", s, minimum=0) for s in seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and at least one, got {seeds!r}")
    runs, columns, truth, choices = {}, {}, {}, {}
    for seed in seeds:
        for method in methods:
            result = train_method(
                method,
                per_class=per_class,
                root_dir=root_dir,
                profile=profile,
                seed=seed,
                data_options=data_options,
                model_options=model_options,
                imbalanced_test=imbalanced_test,
                verbose=verbose,
                **trainer_overrides,
            )
            runs[(method, seed)] = result
            sets = _test_sets(result)
            for name, preds in sets.items():
                truth.setdefault(name, (preds.y_true, preds.patient_ids))
                if not np.array_equal(truth[name][0], preds.y_true):
                    raise RuntimeError(f"the {name} test set changed between runs")
                columns.setdefault((name, method), []).append(preds.y_pred)
            if post_hoc and method == "cross-entropy":
                rows, choice = post_hoc_predictions(result, target_sensitivity=target_sensitivity)
                choices[seed] = choice
                for row, labels in rows.items():
                    for name, y_pred in labels.items():
                        columns.setdefault((name, row), []).append(y_pred)
    predictions = {
        key: np.stack(cols, axis=1) for key, cols in columns.items() if len(cols) == len(seeds)
    }
    thresholds = _threshold_frame(choices, predictions, truth, seeds)
    return Comparison(
        runs=runs, predictions=predictions, truth=truth, seeds=seeds, thresholds=thresholds
    )
