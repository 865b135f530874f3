"""From a trained model to an evaluation: predictions, test-time augmentation, errors, model card.

The metrics themselves live in :mod:`course_lib.metrics`; this module produces what they take.

- :func:`collect_predictions` runs a model over a ``DataLoader`` and returns a
  :class:`Predictions` (labels, logits, probabilities, patient ids), optionally averaging
  flipped views (test-time augmentation, :data:`TTA_VIEWS`);
- :func:`predict_split` does the same for a split of a ``BrainMRIDataModule``, patient ids
  included;
- :func:`most_confident_mistakes` ranks the errors for an error-analysis gallery;
- :func:`errors_by_patient` counts them per patient;
- :func:`model_card` writes a short Markdown model card (Mitchell et al. 2019).

Arrays are numpy; class indices follow ``course_lib.config.CLASS_NAMES``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch

from course_lib._validation import check_choice, check_int, check_type
from course_lib.config import CLASS_NAMES, default_device
from course_lib.metrics import (
    apply_temperature,
    check_labels,
    check_probs,
    labels_and_predictions,
)

#: Views for test-time augmentation: name to a function on a float batch ``(N, C, H, W)``.
#: ``"hflip"`` mirrors left and right, which a roughly symmetric brain tolerates; ``"vflip"``
#: puts the skull base on top, a view the model never saw (useful to see TTA *hurt*).
TTA_VIEWS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "hflip": lambda x: torch.flip(x, dims=(-1,)),
    "vflip": lambda x: torch.flip(x, dims=(-2,)),
}


@dataclass(frozen=True)
class Predictions:
    """A model's outputs on a set of slices, with the truth.

    Attributes:
        y_true: Int64 labels ``(N,)``.
        logits: Float64 scores ``(N, C)`` before the softmax. For test-time augmentation they
            are the log of the averaged probabilities, so ``softmax(logits)`` gives the average.
        patient_ids: Patient id of each slice ``(N,)`` (strings), or ``None``.
    """

    y_true: np.ndarray
    logits: np.ndarray
    patient_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        """Check the shapes agree."""
        y, z = np.asarray(self.y_true), np.asarray(self.logits)
        if y.ndim != 1 or z.ndim != 2 or len(y) != len(z):
            raise ValueError(
                f"y_true must be (N,) and logits (N, C) with the same N, got {y.shape} and "
                f"{z.shape}"
            )
        if self.patient_ids is not None and len(self.patient_ids) != len(y):
            raise ValueError(
                f"patient_ids has {len(self.patient_ids)} entries but there are {len(y)} slices"
            )

    def __len__(self) -> int:
        """Number of slices."""
        return len(self.y_true)

    @property
    def probs(self) -> np.ndarray:
        """Softmax probabilities, float64 ``(N, C)``; rows sum to 1."""
        return torch.softmax(torch.as_tensor(self.logits, dtype=torch.float64), dim=1).numpy()

    @property
    def y_pred(self) -> np.ndarray:
        """Predicted labels (the argmax), int64 ``(N,)``."""
        return np.asarray(self.logits).argmax(axis=1).astype(np.int64)

    @property
    def confidence(self) -> np.ndarray:
        """Probability of the predicted class, float64 ``(N,)``."""
        return self.probs.max(axis=1)

    def with_temperature(self, temperature: float) -> Predictions:
        """A copy with logits divided by ``temperature`` (see ``metrics.fit_temperature``).

        Raises:
            ValueError: If ``temperature`` is not a finite number > 0.
            TypeError: If it is not a number.
        """
        return replace(self, logits=apply_temperature(self.logits, temperature))


def _check_tta(tta) -> tuple[str, ...]:
    if isinstance(tta, str):
        tta = (tta,)
    views = tuple(tta)
    unknown = [v for v in views if v not in TTA_VIEWS]
    if unknown:
        raise ValueError(f"unknown tta view(s) {unknown}; choose from {sorted(TTA_VIEWS)}")
    return views


def _model_device(model: torch.nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@torch.inference_mode()
def collect_predictions(
    model: torch.nn.Module,
    loader,
    *,
    patient_ids=None,
    tta: Sequence[str] = (),
    device=None,
) -> Predictions:
    """Run a classifier over every batch of a loader and gather labels and logits.

    The model is put in eval mode (dropout off, batch norm frozen) and moved to ``device``.
    With ``tta``, each batch is also seen through each named view of :data:`TTA_VIEWS`; the
    softmax probabilities of the original and the views are averaged.

    Args:
        model: Maps float32 ``(N, C_in, H, W)`` to logits ``(N, C)`` (e.g. a
            ``TumorClassifier``).
        loader: Iterable of ``(images, labels)`` batches, in a fixed order (val/test loaders
            never shuffle).
        patient_ids: Optional patient id per slice, in loader order ``(N,)``.
        tta: Names of extra views, e.g. ``("hflip",)``; empty for none.
        device: Where to run; default: the best device here (``config.default_device()``).

    Returns:
        A :class:`Predictions`.

    Raises:
        ValueError: If a ``tta`` name is unknown, the loader is empty, or ``patient_ids`` does
            not have one entry per slice.

    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    >>> data = TensorDataset(torch.zeros(5, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1]))
    >>> preds = collect_predictions(model, DataLoader(data, batch_size=2), device="cpu")
    >>> preds.logits.shape, preds.y_true.tolist()
    ((5, 3), [0, 1, 2, 0, 1])
    """
    views = _check_tta(tta)
    device = default_device() if device is None else torch.device(device)
    model.eval().to(device)
    labels, logits = [], []
    for batch in loader:
        x, y = batch[0], batch[1]
        x = x.to(device)
        out = model(x).float()
        if views:
            probs = torch.softmax(out, dim=1)
            for view in views:
                probs = probs + torch.softmax(model(TTA_VIEWS[view](x)).float(), dim=1)
            out = torch.log(probs / (len(views) + 1))
        logits.append(out.cpu().double().numpy())
        labels.append(torch.as_tensor(y).cpu().numpy().astype(np.int64))
    if not logits:
        raise ValueError("loader yielded no batches; nothing to predict")
    ids = None if patient_ids is None else np.asarray(patient_ids).astype(str)
    return Predictions(np.concatenate(labels), np.concatenate(logits), ids)


def predict_split(
    model: torch.nn.Module, datamodule, split: str = "test", *, tta: Sequence[str] = (), device=None
) -> Predictions:
    """:func:`collect_predictions` on a split of a ``BrainMRIDataModule``, with patient ids.

    Args:
        model: The classifier.
        datamodule: A set-up ``BrainMRIDataModule`` (``setup()`` is called if needed).
        split: ``"val"`` or ``"test"``.
        tta: Extra views, see :func:`collect_predictions`.
        device: See :func:`collect_predictions`.

    Returns:
        A :class:`Predictions` in the split's index order.

    Raises:
        ValueError: If ``split`` is not ``"val"`` or ``"test"``.
    """
    check_choice("split", split, ("val", "test"))
    datamodule.setup()
    loader = getattr(datamodule, f"{split}_dataloader")()
    index = getattr(datamodule, f"{split}_index")
    ids = index["patient_id"].to_numpy() if "patient_id" in index else None
    return collect_predictions(model, loader, patient_ids=ids, tta=tta, device=device)


def most_confident_mistakes(
    y_true,
    probs,
    *,
    k: int = 8,
    class_names: Sequence[str] = CLASS_NAMES,
    patient_ids=None,
    one_per_patient: bool = False,
) -> pd.DataFrame:
    """The ``k`` wrong predictions the model was most sure of, for an error gallery.

    Args:
        y_true: Int labels ``(N,)``.
        probs: Probabilities ``(N, C)``.
        k: How many to return at most (fewer when there are fewer mistakes).
        class_names: ``C`` names in label order.
        patient_ids: Optional patient id per slice ``(N,)``.
        one_per_patient: Keep only each patient's most confident mistake (neighbouring slices
            of one patient tend to fail together and would fill the gallery); needs
            ``patient_ids``.

    Returns:
        DataFrame indexed by the slices' positions (``0 .. N-1``), most confident first, with
        columns ``true``, ``predicted`` (class names), ``confidence`` (probability of the
        predicted class), ``p_true`` (probability given to the true class), ``patient_id``
        (when given) and ``caption`` (a two-line title for a plot).

    Raises:
        ValueError: If ``k < 1``, the shapes do not match, or ``one_per_patient`` is set
            without ``patient_ids``.
        TypeError: If ``k`` is not an int, or the labels or probabilities have the wrong dtype.

    >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.4, 0.6]]
    >>> most_confident_mistakes([0, 1, 1], probs, class_names="ab").drop(columns="caption")
      true predicted  confidence  p_true
    1    b         a         0.8     0.2
    """
    k = check_int("k", k, minimum=1)
    y = check_labels(y_true)
    p = check_probs(probs, len(y))
    names = [str(n) for n in class_names]
    if len(names) != p.shape[1] or y.max() >= p.shape[1]:
        raise ValueError(
            f"probs has {p.shape[1]} columns; need as many class_names ({len(names)}) and "
            f"labels below it (max {y.max()})"
        )
    if one_per_patient and patient_ids is None:
        raise ValueError("one_per_patient=True needs patient_ids (one id per slice)")
    ids = None
    if patient_ids is not None:
        ids = np.asarray(patient_ids)
        if len(ids) != len(y):
            raise ValueError(f"patient_ids has {len(ids)} entries, y_true {len(y)}")
    pred = p.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    order = wrong[np.argsort(-p[wrong, pred[wrong]], kind="stable")]
    if one_per_patient:
        _, first = np.unique(ids[order], return_index=True)
        order = order[np.sort(first)]
    order = order[:k]
    frame = pd.DataFrame(
        {
            "true": [names[i] for i in y[order]],
            "predicted": [names[i] for i in pred[order]],
            "confidence": p[order, pred[order]],
            "p_true": p[order, y[order]],
        },
        index=order,
    )
    if ids is not None:
        frame["patient_id"] = ids[order]
    frame["caption"] = [
        f"true {t}\npredicted {q} ({c:.2f})"
        for t, q, c in zip(frame["true"], frame["predicted"], frame["confidence"], strict=True)
    ]
    return frame


def errors_by_patient(
    y_true, y_score, patient_ids, class_names: Sequence[str] = CLASS_NAMES
) -> pd.DataFrame:
    """Slices and wrong predictions per patient: do the errors spread out or come in patients?

    Args:
        y_true: Int labels ``(N,)``.
        y_score: Predicted labels ``(N,)`` or probabilities ``(N, C)`` (the argmax is taken).
        patient_ids: Patient id of each slice ``(N,)``.
        class_names: ``C`` names in label order.

    Returns:
        DataFrame indexed by patient id, the patients with the most wrong slices first (then
        by class and id), with columns ``true`` (the class name of the patient's slices; the
        most common one if they differ), ``slices``, ``wrong`` (ints), ``accuracy`` (float)
        and ``predicted as`` (the wrong predictions' class names with counts, ``""`` when
        none).

    Raises:
        ValueError: If the shapes do not match or a label is outside ``[0, C)``.
        TypeError: If the labels or probabilities have the wrong dtype.

    >>> table = errors_by_patient([0, 0, 1, 1], [0, 1, 1, 1], ["a", "a", "b", "b"], ["x", "y"])
    >>> table.drop(columns="predicted as")
      true  slices  wrong  accuracy
    a    x       2      1       0.5
    b    y       2      0       1.0
    >>> table["predicted as"].tolist()
    ['y: 1', '']
    """
    names = [str(n) for n in class_names]
    y, pred, _, _ = labels_and_predictions(y_true, y_score, len(names))
    ids = np.asarray(patient_ids).astype(str)
    if ids.shape != y.shape:
        raise ValueError(f"patient_ids has shape {ids.shape}, y_true {y.shape}; one id per slice")
    rows = {}
    for patient in np.unique(ids):
        members = ids == patient
        truth, wrong = y[members], pred[members] != y[members]
        counts = pd.Series([names[i] for i in pred[members][wrong]]).value_counts()
        rows[patient] = {
            "true": names[int(np.bincount(truth).argmax())],
            "slices": int(members.sum()),
            "wrong": int(wrong.sum()),
            "accuracy": float(1 - wrong.mean()),
            "predicted as": ", ".join(f"{k}: {v}" for k, v in counts.items()),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    rank = frame["true"].map({name: i for i, name in enumerate(names)}).to_numpy()
    order = np.lexsort((frame.index.to_numpy(), rank, -frame["wrong"].to_numpy()))
    return frame.iloc[order]


def _fmt_interval(row) -> str:
    if not np.isfinite(row["point"]):
        return "n/a"
    return f"{row['point']:.3f} (95% CI {row['low']:.3f} to {row['high']:.3f})"


def _metric_rows(metrics: pd.DataFrame) -> list[str]:
    """The model card's metrics table; with sample sizes when ``metrics`` has them."""
    sizes = [c for c in ("patients", "slices", "method") if c in metrics.columns]
    header = ["metric", "value", *(c if c != "method" else "interval" for c in sizes)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for index, row in metrics.iterrows():
        cells = [str(index), _fmt_interval(row)]
        cells += [str(row[c]) if c == "method" else f"{row[c]:.0f}" for c in sizes]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def model_card(
    *,
    name: str,
    metrics: pd.DataFrame,
    data: str,
    intended_use: str = (
        "Teaching: a second reader that flags brain-MRI slices which may show a glioma, "
        "meningioma or pituitary tumour, for a radiologist to review."
    ),
    limitations: Sequence[str] = (),
    calibration: dict[str, float] | None = None,
) -> str:
    """A short Markdown model card: what the model is for, on what data, how good, where not.

    The card always states that the model assists a radiologist and never replaces one, and
    that it is not a medical device.

    Args:
        name: Model name (e.g. backbone and loss).
        metrics: Headline metrics with intervals, as from ``metrics.bootstrap_report``: indexed
            by metric name with columns ``point``, ``low``, ``high``, and optionally
            ``patients`` and ``slices`` (how many stand behind each number) and ``method``
            (how its interval was computed), which the card then shows too.
        data: One or two sentences on the training and test data.
        intended_use: Who uses it, for what.
        limitations: Known limitations, one sentence each.
        calibration: Optional numbers to report, e.g. ``{"ECE before": 0.08, "ECE after":
            0.02, "temperature": 1.6}``.

    Returns:
        The card as a Markdown string.

    Raises:
        ValueError: If ``name`` or ``data`` is empty, or ``metrics`` lacks a column.
        TypeError: If ``name`` or ``data`` is not a string, or ``metrics`` not a DataFrame.

    >>> frame = pd.DataFrame({"point": [0.9], "low": [0.8], "high": [0.95]}, index=["accuracy"])
    >>> card = model_card(name="cnn", metrics=frame, data="Synthetic slices.")
    >>> "| accuracy | 0.900 (95% CI 0.800 to 0.950) |" in card, "never replaces" in card
    (True, True)
    """
    for arg, value in (("name", name), ("data", data)):
        if not check_type(arg, value, str, "a string").strip():
            raise ValueError(f"{arg} must be a non-empty string, got {value!r}")
    check_type("metrics", metrics, pd.DataFrame, "a pandas DataFrame")
    missing = [c for c in ("point", "low", "high") if c not in metrics.columns]
    if missing:
        raise ValueError(f"metrics lacks columns {missing}; use metrics.bootstrap_report")
    lines = [
        f"# Model card: {name}",
        "",
        "## Intended use",
        intended_use,
        "",
        "**This model assists a radiologist and never replaces one.** It is a teaching model, "
        "not a medical device; it must not be used for diagnosis.",
        "",
        "## Data",
        data,
        "",
        "## Metrics (held-out test set, 95% confidence intervals)",
        *_metric_rows(metrics),
    ]
    if "patients" in metrics.columns:
        lines += [
            "",
            "*patients*, *slices*: how many stand behind each number (for a sensitivity, those "
            "of its class). Slices of one patient are not independent evidence, and the intervals "
            "allow for it.",
        ]
    if "method" in metrics.columns:
        lines += [
            "*Wilson*: the Wilson score interval for a proportion, on the effective number of "
            "independent slices (between the numbers of patients and slices; the number of "
            "patients when there is no error to measure how they cluster). *patient bootstrap*: "
            "the 2.5th to 97.5th percentile over test sets redrawn by patient.",
        ]
    if calibration:
        lines += ["", "## Calibration", *(f"- {k}: {v:.3f}" for k, v in calibration.items())]
    lines += ["", "## Limitations"]
    lines += [f"- {item}" for item in limitations] or ["- None documented (that is a red flag)."]
    return "\n".join(lines) + "\n"
