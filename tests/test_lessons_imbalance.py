"""Prevalence counts, the majority baseline, metric rows and the method comparison."""

import numpy as np
import pandas as pd
import pytest

from course_lib.config import CLASS_NAMES, PROFILES
from course_lib.evaluation import Predictions
from course_lib.lessons.imbalance import (
    PREVALENCE_SHARES,
    SCREENING_SHARES,
    Comparison,
    MethodResult,
    _metric_fn,
    choose_threshold,
    compare_methods,
    imbalanced_test_index,
    interval_table,
    lesson_profile,
    majority_predictions,
    metrics_row,
    post_hoc_predictions,
    post_hoc_rows,
    prevalence_counts,
    screening_counts,
    train_method,
)


def test_screening_counts_is_the_old_name_of_prevalence_counts():
    assert screening_counts is prevalence_counts and SCREENING_SHARES is PREVALENCE_SHARES


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


def test_lesson_profile_shrinks_images_and_patients():
    profile = lesson_profile(PROFILES["cpu"])
    assert (profile.image_size, profile.slices_per_patient, profile.max_epochs) == (64, 2, 6)
    assert profile.samples_per_class == PROFILES["cpu"].samples_per_class
    assert lesson_profile("smoke").image_size == 64


def test_imbalanced_test_index_is_a_new_draw_with_the_mix(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    profile = lesson_profile(PROFILES["smoke"]).with_overrides(image_size=32)
    counts = {"glioma": 2, "meningioma": 4, "notumor": 10, "pituitary": 2}
    index = imbalanced_test_index(profile, per_class=counts, data_options={"val_fraction": 0.3})
    assert index["class_name"].value_counts().to_dict() == counts
    assert set(index["split"]) == {"train"} and index["patient_id"].nunique() == 9
    with pytest.raises(ValueError, match="seed must differ"):
        imbalanced_test_index(profile, per_class=counts, seed=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metric_fn_agrees_with_metrics_row_and_averages_columns(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, 60)
    preds = rng.integers(0, 4, (60, 3))
    for name in metrics_row(y, preds[:, 0]):
        expected = np.mean([metrics_row(y, p)[name] for p in preds.T])
        assert _metric_fn(name, CLASS_NAMES)(y, preds) == pytest.approx(expected)
    absent = _metric_fn("recall glioma", CLASS_NAMES)(np.array([1, 2]), np.array([[1], [2]]))
    assert np.isnan(absent)  # 0 in metrics_row; the bootstrap skips such a resample


def _result():
    # class 0 is rare in training; the plain model under-calls it
    logits = np.log(
        np.array([[0.4, 0.6], [0.3, 0.7], [0.45, 0.55], [0.1, 0.9], [0.15, 0.85], [0.05, 0.95]])
    )
    y = np.array([0, 0, 0, 1, 1, 1])
    preds = Predictions(y, logits, np.array(["p1", "p1", "p2", "p3", "p3", "p4"]))
    return MethodResult("cross-entropy", None, preds, preds, {"a": 1, "b": 4}, seed=3)


def test_choose_threshold_counts_slices_and_patients():
    choice = choose_threshold(_result(), target_sensitivity=1.0, class_names=("a", "b"))
    assert choice.class_name == "a" and choice.threshold == pytest.approx(0.3)
    assert (choice.val_slices, choice.val_patients, choice.val_sensitivity) == (3, 2, 1.0)
    with pytest.raises(ValueError, match="target_sensitivity"):
        choose_threshold(_result(), target_sensitivity=1.5, class_names=("a", "b"))
    with pytest.raises(TypeError, match="target_sensitivity"):
        choose_threshold(_result(), target_sensitivity="high", class_names=("a", "b"))


def test_post_hoc_rows_move_decisions_towards_the_rare_class():
    rows = post_hoc_rows(_result(), target_sensitivity=1.0, class_names=("a", "b"))
    prior, threshold = rows["CE + prior correction"], rows["CE + threshold (a)"]
    # priors 0.2 / 0.8: p(a) / 0.2 vs p(b) / 0.8 flips the three rare-class slices to a
    assert prior["recall a"] == 1.0 and prior["recall b"] == 1.0
    assert threshold["recall a"] == 1.0
    with pytest.raises(ValueError, match="target_sensitivity"):
        post_hoc_rows(_result(), target_sensitivity=0.0, class_names=("a", "b"))


def test_post_hoc_predictions_cover_each_test_set():
    result = _result()
    result.test_imbalanced = Predictions(np.array([0, 1]), np.log(np.array([[0.35, 0.65]] * 2)))
    rows, choice = post_hoc_predictions(result, target_sensitivity=1.0, class_names=("a", "b"))
    assert list(rows) == ["CE + prior correction", "CE + threshold (a)"]
    assert rows["CE + threshold (a)"]["imbalanced"].tolist() == [0, 0]  # 0.35 >= 0.30
    assert set(rows["CE + prior correction"]) == {"balanced", "imbalanced"}
    assert choice.threshold == pytest.approx(0.3)


def test_post_hoc_rows_skip_the_threshold_without_validation_positives():
    result = _result()
    only_b = Predictions(np.array([1, 1]), np.log(np.array([[0.2, 0.8], [0.3, 0.7]])))
    result.val = only_b
    with pytest.warns(RuntimeWarning, match="no 'a' slice"):
        rows = post_hoc_rows(result, class_names=("a", "b"))
    assert list(rows) == ["CE + prior correction"]


def test_method_result_line():
    result = _result()
    result.seconds, result.epochs = 31.4, 8
    assert result.line() == "cross-entropy, seed 3: 8 epochs in 31 s, val balanced accuracy 0.50"


def _comparison():
    """Two rows, two seeds, 8 patients of 2 slices: 'good' is right more often than 'poor'."""
    y = np.repeat([0, 1, 2, 3], 4)
    ids = np.repeat([f"p{i}" for i in range(8)], 2)
    good = np.stack([y, np.where(np.arange(16) == 0, 1, y)], axis=1)
    poor = np.stack([np.full(16, 2), np.where(y == 0, 2, y)], axis=1)
    return Comparison(
        runs={},
        predictions={("balanced", "good"): good, ("balanced", "poor"): poor},
        truth={"balanced": (y, ids)},
        seeds=(1, 2),
    )


def test_comparison_scores_summary_and_differences():
    comparison = _comparison()
    assert comparison.rows == ["good", "poor"] and comparison.test_sets == ["balanced"]
    scores = comparison.scores()
    assert scores.index.names == ["test set", "method", "seed"]
    assert scores.loc[("balanced", "poor", 1), "balanced accuracy"] == 0.25
    with pytest.warns(RuntimeWarning, match=r"no patient of a class.*balanced: recall glioma"):
        summary = comparison.summary(n_resamples=200)
    row = summary.loc[("balanced", "poor", "balanced accuracy")]
    assert row["point"] == pytest.approx((0.25 + 0.75) / 2)
    assert (row["seed min"], row["seed max"]) == (0.25, 0.75)
    assert row["low"] <= row["point"] <= row["high"] and row["low"] < row["high"]
    good = summary.loc[("balanced", "good", "recall glioma")]
    assert good["point"] == pytest.approx(0.875) and good["seed min"] == 0.75
    diff = comparison.differences("balanced accuracy", n_resamples=200)
    assert diff.attrs["reference"] == "good" and list(diff.index) == ["poor"]
    assert diff.loc["poor", "difference"] == pytest.approx(0.96875 - 0.5)
    assert diff.loc["poor", "low"] > 0  # every resample favours 'good'


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"metric": "auroc"}, "metric must be one of"),
        ({"reference": "best"}, "reference must be one of"),
        ({"test_set": "imbalanced"}, "test_set must be one of"),
    ],
)
def test_differences_check_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _comparison().differences(n_resamples=10, **kwargs)


def test_interval_table_formats_point_and_interval():
    with pytest.warns(RuntimeWarning, match="no patient of a class"):
        summary = _comparison().summary(n_resamples=50)
    table = interval_table(summary, "balanced", ["balanced accuracy", "recall glioma"], digits=1)
    assert list(table.index) == ["good", "poor"]
    assert list(table.columns) == ["balanced accuracy", "recall glioma"]
    assert table.loc["poor", "recall glioma"] == "0.0 [0.0, 0.0]"
    with pytest.raises(ValueError, match="test_set must be one of"):
        interval_table(summary, "imbalanced")
    with pytest.raises(ValueError, match="metric must be one of"):
        interval_table(summary, "balanced", ["auroc"])
    with pytest.raises(ValueError, match="digits must be"):
        interval_table(summary, "balanced", digits=-1)
    with pytest.raises(TypeError, match="digits must be an int"):
        interval_table(summary, "balanced", digits=1.5)


def test_method_and_comparison_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="method must be one of"):
        train_method("smote", per_class={"glioma": 8}, root_dir=tmp_path)
    with pytest.raises(ValueError, match="non-empty selection"):
        compare_methods(per_class={"glioma": 8}, root_dir=tmp_path, methods=[])
    with pytest.raises(ValueError, match="post_hoc=True needs"):
        compare_methods(per_class={"glioma": 8}, root_dir=tmp_path, methods=["focal loss"])
    with pytest.raises(ValueError, match="seeds must be distinct"):
        compare_methods(per_class={"glioma": 8}, root_dir=tmp_path, seeds=[1, 1])
    with pytest.raises(ValueError, match="seeds must be distinct"):
        compare_methods(per_class={"glioma": 8}, root_dir=tmp_path, seeds=[])
    with pytest.raises(TypeError, match="seeds must be an int"):
        compare_methods(per_class={"glioma": 8}, root_dir=tmp_path, seeds=["1"])


def _tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    profile = PROFILES["smoke"].with_overrides(image_size=32, test_per_class=4, batch_size=64)
    return profile, screening_counts(40, minimum=20)  # 5 patients a class: one per fold


@pytest.mark.slow
def test_compare_methods_trains_and_adds_post_hoc_rows(tmp_path, monkeypatch, capsys):
    profile, counts = _tiny(tmp_path, monkeypatch)
    imbalanced = imbalanced_test_index(
        profile, per_class={"glioma": 4, "meningioma": 4, "notumor": 12, "pituitary": 4}
    )
    comparison = compare_methods(
        per_class=counts,
        root_dir=tmp_path / "runs",
        profile=profile,
        seeds=(1, 2),
        methods=["cross-entropy"],
        imbalanced_test=imbalanced,
        limit_train_batches=1,
        limit_val_batches=1,
        num_sanity_val_steps=0,
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "cross-entropy, seed 1",
        "cross-entropy, seed 2",
    ]
    assert "1 epoch in" in lines[0] and "val balanced accuracy" in lines[0]
    assert comparison.rows == ["cross-entropy", "CE + prior correction", "CE + threshold (glioma)"]
    assert comparison.test_sets == ["balanced", "imbalanced"]
    scores = comparison.scores()
    result = comparison.runs[("cross-entropy", 2)]
    row = metrics_row(result.test.y_true, result.test.y_pred)
    assert scores.loc[("balanced", "cross-entropy", 2)].to_dict() == pytest.approx(row)
    assert result.model.global_step == 1
    assert result.train_counts["notumor"] > result.train_counts["glioma"]
    assert len(result.test) == 4 * 4 and result.test.patient_ids is not None
    assert len(result.test_imbalanced) == len(imbalanced)
    assert comparison.predictions[("imbalanced", "CE + threshold (glioma)")].shape == (24, 2)
    assert list(comparison.thresholds.index) == [1, 2]
    assert (comparison.thresholds["val slices"] > 0).all()
    assert list(comparison.thresholds.columns)[-2:] == [
        "balanced test recall",
        "imbalanced test recall",
    ]
    with pytest.warns(RuntimeWarning, match="no patient of a class"):  # 1 patient a class
        summary = comparison.summary(n_resamples=20)
    assert summary.shape == (2 * 3 * 7, 5)


class _NoTraining:
    """Stands in for a Trainer: records what fit() was given and trains nothing."""

    seen: list = []

    def __init__(self, *args, **kwargs):
        self.seen.append(kwargs)

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
    result = train_method(method, per_class=counts, root_dir=tmp_path, profile=profile, seed=5)
    trainer_kwargs, (hparams, used_sampler) = _NoTraining.seen
    assert trainer_kwargs["progress"] == "none" and trainer_kwargs["seed"] == 5
    assert hparams.loss == loss and used_sampler == sampler
    assert hparams.lr == 3e-3 and hparams.scheduler == "onecycle"  # MODEL_OPTIONS
    if method == "weighted CE":
        weights = hparams.class_weights  # glioma (rare) weighs more than notumor (common)
        assert weights[0] > weights[2]
    assert result.method == method and result.seed == 5 and len(result.val) > 0
    assert result.test_imbalanced is None


def test_summary_frame_is_long_and_ordered():
    with pytest.warns(RuntimeWarning, match="no patient of a class"):
        summary = _comparison().summary(n_resamples=10)
    assert list(summary.columns) == ["point", "low", "high", "seed min", "seed max"]
    assert isinstance(summary.index, pd.MultiIndex)
    assert summary.index.names == ["test set", "method", "metric"]
