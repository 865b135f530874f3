"""Prediction collection, test-time augmentation, error ranking and the model card."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib.evaluation import (
    TTA_VIEWS,
    Predictions,
    collect_predictions,
    errors_by_patient,
    model_card,
    most_confident_mistakes,
    predict_split,
)


class LeftRight(nn.Module):
    """Logits (left half mean, right half mean): a model that is not flip-invariant."""

    def forward(self, x):
        w = x.shape[-1] // 2
        return torch.stack([x[..., :w].mean((1, 2, 3)), x[..., w:].mean((1, 2, 3))], dim=1) * 4


def _loader(n=6, batch_size=4):
    x = torch.zeros(n, 1, 4, 4)
    x[::2, ..., :2] = 1.0  # even samples bright on the left
    x[1::2, ..., 2:] = 1.0  # odd samples bright on the right
    y = torch.tensor([i % 2 for i in range(n)])
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)


def test_collect_predictions_keeps_order_and_matches_the_model():
    model = LeftRight()
    preds = collect_predictions(model, _loader(), patient_ids=list("aabbcc"), device="cpu")
    assert preds.y_true.tolist() == [0, 1, 0, 1, 0, 1]
    assert preds.y_pred.tolist() == [0, 1, 0, 1, 0, 1]
    expected = model(next(iter(_loader(6, 6)))[0]).numpy()
    np.testing.assert_allclose(preds.logits, expected, rtol=1e-6)
    np.testing.assert_allclose(preds.probs.sum(axis=1), 1.0)
    assert preds.patient_ids.tolist() == list("aabbcc")
    assert len(preds) == 6 and preds.confidence.shape == (6,)


def test_hflip_tta_averages_probabilities_of_both_views():
    model = LeftRight()
    plain = collect_predictions(model, _loader(), device="cpu")
    tta = collect_predictions(model, _loader(), tta=("hflip",), device="cpu")
    x = next(iter(_loader(6, 6)))[0]
    p_flip = torch.softmax(model(TTA_VIEWS["hflip"](x)), 1).numpy()
    np.testing.assert_allclose(tta.probs, (plain.probs + p_flip) / 2, rtol=1e-6)
    # this model swaps its answer under a flip, so the average is exactly uncertain
    np.testing.assert_allclose(tta.probs, 0.5, atol=1e-6)


def test_tta_view_names_are_checked():
    with pytest.raises(ValueError, match="unknown tta view"):
        collect_predictions(LeftRight(), _loader(), tta=("rotate",), device="cpu")
    views = collect_predictions(LeftRight(), _loader(), tta="vflip", device="cpu")
    assert views.logits.shape == (6, 2)


def test_collect_predictions_refuses_empty_loader_and_bad_ids():
    empty = DataLoader(TensorDataset(torch.zeros(0, 1, 4, 4), torch.zeros(0)), batch_size=2)
    with pytest.raises(ValueError, match="no batches"):
        collect_predictions(LeftRight(), empty, device="cpu")
    with pytest.raises(ValueError, match="patient_ids has 2 entries"):
        collect_predictions(LeftRight(), _loader(), patient_ids=["a", "b"], device="cpu")


def test_collect_predictions_puts_model_in_eval_mode():
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.9), nn.Linear(16, 2))
    first = collect_predictions(model, _loader(), device="cpu")
    second = collect_predictions(model, _loader(), device="cpu")
    assert not model.training
    np.testing.assert_array_equal(first.logits, second.logits)


def test_predictions_shape_checks_and_temperature():
    with pytest.raises(ValueError, match="same N"):
        Predictions(np.array([0, 1]), np.zeros((3, 2)))
    preds = Predictions(np.array([0, 1]), np.array([[2.0, 0.0], [0.0, 4.0]]))
    cooler = preds.with_temperature(2.0)
    np.testing.assert_allclose(cooler.logits, [[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_array_equal(cooler.y_pred, preds.y_pred)
    assert (cooler.confidence < preds.confidence).all()
    with pytest.raises(ValueError, match="temperature"):
        preds.with_temperature(0.0)


def test_predict_split_checks_split_name():
    with pytest.raises(ValueError, match="split must be"):
        predict_split(LeftRight(), object(), "train")


def test_predict_split_reads_loader_and_patient_ids():
    class FakeData:
        val_index = pd.DataFrame({"patient_id": list("ppqqrr")})

        def setup(self):
            self.called = True

        def val_dataloader(self):
            return _loader()

    data = FakeData()
    preds = predict_split(LeftRight(), data, "val", device="cpu")
    assert data.called and preds.patient_ids.tolist() == list("ppqqrr")


def test_most_confident_mistakes_ranks_wrong_predictions_only():
    probs = np.array([[0.9, 0.1], [0.95, 0.05], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
    y = np.array([0, 1, 0, 1, 1])
    frame = most_confident_mistakes(
        y, probs, k=5, class_names=["a", "b"], patient_ids=list("vwxyz")
    )
    assert frame.index.tolist() == [1, 2, 3]
    assert frame["predicted"].tolist() == ["a", "b", "a"]
    np.testing.assert_allclose(frame["confidence"], [0.95, 0.7, 0.6])
    np.testing.assert_allclose(frame["p_true"], [0.05, 0.3, 0.4])
    assert frame["patient_id"].tolist() == list("wxy")
    assert frame["caption"].iloc[0] == "true b\npredicted a (0.95)"
    assert most_confident_mistakes(y, probs, k=1, class_names="ab").index.tolist() == [1]


def test_most_confident_mistakes_one_per_patient_keeps_each_patients_worst():
    probs = np.array([[0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.4, 0.6]])
    y = np.array([0, 0, 0, 0])
    ids = ["p", "p", "q", "q"]
    frame = most_confident_mistakes(y, probs, class_names="ab", patient_ids=ids)
    assert frame.index.tolist() == [0, 1, 2, 3]
    frame = most_confident_mistakes(
        y, probs, class_names="ab", patient_ids=ids, one_per_patient=True
    )
    assert frame.index.tolist() == [0, 2] and frame["patient_id"].tolist() == ["p", "q"]
    with pytest.raises(ValueError, match="one_per_patient=True needs patient_ids"):
        most_confident_mistakes(y, probs, class_names="ab", one_per_patient=True)


def test_most_confident_mistakes_handles_no_mistakes_and_bad_input():
    assert most_confident_mistakes([0, 1], [[0.9, 0.1], [0.2, 0.8]], class_names="ab").empty
    with pytest.raises(ValueError, match="k must be"):
        most_confident_mistakes([0], [[1.0, 0.0]], k=0, class_names="ab")
    with pytest.raises(TypeError, match="k must be an int"):
        most_confident_mistakes([0], [[1.0, 0.0]], k=2.0, class_names="ab")
    with pytest.raises(ValueError, match="class_names"):
        most_confident_mistakes([0], [[1.0, 0.0]], class_names="abc")
    with pytest.raises(ValueError, match="patient_ids has 1"):
        most_confident_mistakes(
            [0, 1], [[0.2, 0.8], [1.0, 0.0]], class_names="ab", patient_ids=["x"]
        )


def _metrics():
    return pd.DataFrame(
        {"point": [0.9, np.nan], "low": [0.8, np.nan], "high": [0.95, np.nan]},
        index=["accuracy", "macro AUROC"],
    )


def test_model_card_has_every_section_and_the_disclaimer():
    card = model_card(
        name="simple_cnn",
        metrics=_metrics(),
        data="Synthetic T1-CE slices, 3 sites.",
        limitations=["Synthetic data only."],
        calibration={"ECE before": 0.1234, "temperature": 1.5},
    )
    parts = [
        "# Model card: simple_cnn",
        "## Intended use",
        "## Data",
        "## Metrics",
        "## Calibration",
        "## Limitations",
        "- Synthetic data only.",
        "| accuracy | 0.900 (95% CI 0.800 to 0.950) |",
        "| macro AUROC | n/a |",
        "- ECE before: 0.123",
        "assists a radiologist and never replaces one",
    ]
    for part in parts:
        assert part in card, part


def test_model_card_without_limitations_says_so():
    card = model_card(name="m", metrics=_metrics(), data="d")
    assert "red flag" in card and "## Calibration" not in card


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"name": ""}, ValueError, "name must be"),
        ({"data": " "}, ValueError, "data must be"),
        ({"metrics": {"point": 1}}, TypeError, "DataFrame"),
        ({"name": None}, TypeError, "name must be a string"),
        ({"metrics": pd.DataFrame({"point": [1.0]})}, ValueError, "lacks columns"),
    ],
)
def test_model_card_checks_arguments(kwargs, error, message):
    args = {"name": "m", "metrics": _metrics(), "data": "d"} | kwargs
    with pytest.raises(error, match=message):
        model_card(**args)


def test_model_card_shows_the_patients_behind_each_number():
    frame = pd.DataFrame(
        {
            "point": [0.9, 1.0],
            "low": [0.8, 0.84],
            "high": [0.95, 1.0],
            "method": ["patient bootstrap", "Wilson"],
            "patients": [80, 20],
            "slices": [320, 80],
        },
        index=["balanced accuracy", "sensitivity (pituitary)"],
    )
    card = model_card(name="m", metrics=frame, data="d")
    assert "| metric | value | patients | slices | interval |" in card
    assert "| sensitivity (pituitary) | 1.000 (95% CI 0.840 to 1.000) | 20 | 80 | Wilson |" in card
    assert "*Wilson*: the Wilson score interval" in card


def test_errors_by_patient():
    y = [0, 0, 0, 1, 1, 2, 2, 2]
    pred = [0, 1, 2, 1, 1, 2, 0, 0]
    ids = ["a", "a", "a", "b", "b", "c", "c", "c"]
    table = errors_by_patient(y, pred, ids, ["x", "y", "z"])
    assert list(table.index) == ["a", "c", "b"]  # most wrong slices first, then by class
    assert table["wrong"].tolist() == [2, 2, 0]
    assert table["slices"].tolist() == [3, 3, 2]
    assert table.loc["c", "predicted as"] == "x: 2"
    assert table.loc["a", "predicted as"] in ("y: 1, z: 1", "z: 1, y: 1")
    assert table.loc["b", "accuracy"] == 1.0
    assert table["true"].tolist() == ["x", "z", "y"]
    probs = np.eye(3)[pred].astype(float)
    assert errors_by_patient(y, probs, ids, ["x", "y", "z"]).equals(table)


def test_errors_by_patient_ties_by_class_then_id():
    table = errors_by_patient([1, 0, 1, 0], [0, 1, 0, 1], ["p", "q", "r", "s"], ["x", "y"])
    assert list(table.index) == ["q", "s", "p", "r"]


def test_errors_by_patient_raises():
    with pytest.raises(ValueError, match="one id per slice"):
        errors_by_patient([0, 1], [0, 1], ["a"], ["x", "y"])
    with pytest.raises(ValueError, match="labels must be < 2"):
        errors_by_patient([0, 2], [0, 1], ["a", "b"], ["x", "y"])
