"""The cheap pieces of ``benchmarks/realism.py`` (the benchmark itself needs the real sample)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "realism.py"
_spec = importlib.util.spec_from_file_location("realism", SCRIPT)
realism = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(realism)


def test_minmax_scales_each_image_by_its_own_range_and_keeps_its_input():
    images = np.array([[[2.0, 4.0], [3.0, 2.0]], [[5.0, 5.0], [5.0, 5.0]]])
    before = images.copy()
    out = realism.minmax(images)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], [[0.0, 1.0], [0.5, 0.0]])
    np.testing.assert_array_equal(out[1], np.zeros((2, 2)))  # a constant image gives zeros
    np.testing.assert_array_equal(images, before)


def test_options_the_generator_knows_are_passed():
    requested = {"plane": ("axial", "coronal"), "contrast": ("T1CE",), "randomize": 0.5}
    fields = ("image_size", "contrast", "plane", "randomize", "seed")
    passed, notices, effective = realism.synthetic_options(requested, fields)
    assert passed == requested
    assert effective == requested
    assert notices == []


def test_options_an_old_generator_lacks_are_dropped_with_a_notice_when_they_matter():
    requested = {"plane": ("axial",), "contrast": ("T1CE",), "randomize": 0.0}
    fields = ("image_size", "contrast", "seed")  # generator version 2
    passed, notices, effective = realism.synthetic_options(requested, fields)
    assert passed == {"contrast": ("T1CE",)}
    assert effective == {"plane": ("coronal",), "contrast": ("T1CE",), "randomize": 0.0}
    assert len(notices) == 1  # randomize 0 is what the old engine did anyway
    assert "'plane'" in notices[0] and "axial" in notices[0]


def test_without_field_names_only_options_that_change_the_old_behaviour_are_passed():
    requested = {"plane": ("coronal",), "contrast": ("T2",), "randomize": 0.25}
    passed, notices, _ = realism.synthetic_options(requested, None)
    assert passed == {"contrast": ("T2",), "randomize": 0.25}
    assert notices == []


def test_histogram_features_are_pixel_shares():
    images = np.zeros((2, 4, 4), np.float32)
    images[1, :2] = 1.0
    features = realism.histogram_features(images, bins=4)
    np.testing.assert_allclose(features, [[1, 0, 0, 0], [0.5, 0, 0, 0.5]])


def test_the_cnn_gives_one_logit_per_image():
    model = realism.make_cnn()
    assert model(torch.zeros(3, 1, 32, 32)).shape == (3, 1)


@pytest.mark.parametrize("argv", [["--real", "-1"], ["--epochs", "0"], ["--size", "8"]])
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        realism.parse_args(argv)
    assert "must be at least" in capsys.readouterr().err


def test_a_missing_sample_ends_in_one_error_line(tmp_path):
    with pytest.raises(SystemExit, match=r"^error: the real MRI sample is needed"):
        realism.main(["--data", str(tmp_path)])
