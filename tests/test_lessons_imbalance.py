"""Screening counts, the majority baseline, metric rows and the method comparison."""

import numpy as np
import pytest

from course_lib.config import CLASS_NAMES, PROFILES
from course_lib.evaluation import Predictions
from course_lib.lessons.imbalance import (
    MethodResult,
    compare_methods,
    majority_predictions,
    metrics_row,
    post_hoc_rows,
    screening_counts,
    train_method,
)


def test_screening_counts_follow_shares_and_minimum():
    counts = screening_counts(1000)
    assert list(counts) == list(CLASS_NAMES)
    assert counts == {"glioma": 100, "meningioma": 400, "notumor": 1000, "pituitary": 250}
    assert screening_counts(10, minimum=4) == {
        "glioma": 4,
        "meningioma": 4,
        "notumor": 10,
        "pituitary": 4,
    }
    assert screening_counts(50, shares={"glioma": 0.5, "notumor": 1.0}) == {
        "glioma": 25,
        "notumor": 50,
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_majority": 0}, "n_majority must be"),
        ({"n_majority": 10, "minimum": 0}, "minimum must be"),
        ({"n_majority": 10, "shares": {"tumour": 1.0}}, "unknown classes"),
        ({"n_majority": 10, "shares": {"glioma": 1.5}}, r"shares\['glioma'\]"),
    ],
)
def test_screening_counts_checks_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        screening_counts(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_majority": 10.0}, "n_majority must be an int"),
        ({"n_majority": 10, "minimum": True}, "minimum must be an int"),
        ({"n_majority": 10, "shares": {"glioma": "half"}}, r"shares\['glioma'\] must be a number"),
    ],
)
def test_screening_counts_rejects_wrong_kinds(kwargs, message):
    with pytest.raises(TypeError, match=message):
        screening_counts(**kwargs)


def test_majority_predictions_and_the_accuracy_paradox():
    y_train = np.array([2] * 8 + [0, 1])
    y_eval = np.array([2] * 18 + [0, 1])
    pred = majority_predictions(y_train, len(y_eval))
    assert pred.dtype == np.int64 and set(pred.tolist()) == {2}
    row = metrics_row(y_eval, pred, ["a", "b", "c"])
    assert row["accuracy"] == pytest.approx(0.9)
    assert row["balanced accuracy"] == pytest.approx(1 / 3)
    assert row["recall a"] == 0.0 and row["recall c"] == 1.0
    with pytest.raises(ValueError, match="train_labels"):
        majority_predictions([], 3)
    with pytest.raises(ValueError, match="n must be"):
        majority_predictions([1], 0)
    with pytest.raises(TypeError, match="n must be an int"):
        majority_predictions([1], 3.0)


def test_metrics_row_columns():
    row = metrics_row([0, 1, 2, 3], [0, 1, 2, 2])
    assert list(row) == [
        "accuracy",
        "balanced accuracy",
        "macro F1",
        *(f"recall {n}" for n in CLASS_NAMES),
    ]
    assert row["recall pituitary"] == 0.0 and row["accuracy"] == 0.75


def _result():
    # class 0 is rare in training; the plain model under-calls it
    logits = np.log(
        np.array([[0.4, 0.6], [0.3, 0.7], [0.45, 0.55], [0.1, 0.9], [0.15, 0.85], [0.05, 0.95]])
    )
    y = np.array([0, 0, 0, 1, 1, 1])
    preds = Predictions(y, logits)
    return MethodResult("cross-entropy", None, preds, preds, {"a": 1, "b": 4})


def test_post_hoc_rows_move_decisions_towards_the_rare_class():
    rows = post_hoc_rows(_result(), target_sensitivity=1.0, class_names=("a", "b"))
    prior, threshold = rows["CE + prior correction"], rows["CE + threshold (a >= 0.30)"]
    # priors 0.2 / 0.8: p(a) / 0.2 vs p(b) / 0.8 flips the three rare-class slices to a
    assert prior["recall a"] == 1.0 and prior["recall b"] == 1.0
    assert threshold["recall a"] == 1.0
    with pytest.raises(ValueError, match="target_sensitivity"):
        post_hoc_rows(_result(), target_sensitivity=0.0, class_names=("a", "b"))


def test_post_hoc_rows_skip_the_threshold_without_validation_positives():
    result = _result()
    only_b = Predictions(np.array([1, 1]), np.log(np.array([[0.2, 0.8], [0.3, 0.7]])))
    result.val = only_b
    with pytest.warns(RuntimeWarning, match="no 'a' slice"):
        rows = post_hoc_rows(result, class_names=("a", "b"))
    assert list(rows) == ["CE + prior correction"]


def test_method_and_comparison_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="method must be one of"):
        train_method("smote", per_class={"glioma": 8}, root_dir=tmp_path)
    with pytest.raises(ValueError, match="non-empty selection"):
        compare_methods(per_class={"glioma": 8}, root_dir=tmp_path, methods=[])
    with pytest.raises(ValueError, match="post_hoc=True needs"):
        compare_methods(per_class={"glioma": 8}, root_dir=tmp_path, methods=["focal loss"])


def _tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    profile = PROFILES["smoke"].with_overrides(image_size=32, test_per_class=4, batch_size=64)
    return profile, screening_counts(40, minimum=20)  # 5 patients a class: one per fold


@pytest.mark.slow
def test_compare_methods_trains_and_adds_post_hoc_rows(tmp_path, monkeypatch):
    profile, counts = _tiny(tmp_path, monkeypatch)
    table, results = compare_methods(
        per_class=counts,
        root_dir=tmp_path / "runs",
        profile=profile,
        methods=["cross-entropy"],
        limit_train_batches=1,
        limit_val_batches=1,
        num_sanity_val_steps=0,
    )
    assert table.index[0] == "cross-entropy" and table.index[1] == "CE + prior correction"
    assert table.index[2].startswith("CE + threshold (")
    assert table.filter(like="recall").shape[1] == 4
    result = results["cross-entropy"]
    row = metrics_row(result.test.y_true, result.test.y_pred)
    assert table.loc["cross-entropy"].to_dict() == pytest.approx(row)
    assert result.model.global_step == 1
    assert result.train_counts["notumor"] > result.train_counts["glioma"]
    assert len(result.test) == 4 * 4 and result.test.patient_ids is not None


class _NoTraining:
    """Stands in for a Trainer: records what fit() was given and trains nothing."""

    seen: list = []

    def __init__(self, *args, **kwargs):
        pass

    def fit(self, model, datamodule):
        self.seen.append((model.hparams, datamodule.sampler))


@pytest.mark.parametrize(
    ("method", "loss", "sampler"),
    [
        ("weighted CE", "weighted_ce", "none"),
        ("oversampling", "ce", "weighted"),
        ("focal loss", "focal", "none"),
    ],
)
def test_each_method_configures_loss_and_sampler(method, loss, sampler, tmp_path, monkeypatch):
    profile, counts = _tiny(tmp_path, monkeypatch)
    monkeypatch.setattr("course_lib.training.make_trainer", _NoTraining)
    _NoTraining.seen.clear()
    result = train_method(method, per_class=counts, root_dir=tmp_path, profile=profile)
    hparams, used_sampler = _NoTraining.seen[0]
    assert hparams.loss == loss and used_sampler == sampler
    assert hparams.lr == 3e-3 and hparams.scheduler == "onecycle"  # MODEL_OPTIONS
    if method == "weighted CE":
        weights = hparams.class_weights  # glioma (rare) weighs more than notumor (common)
        assert weights[0] > weights[2]
    assert result.method == method and len(result.val) > 0
