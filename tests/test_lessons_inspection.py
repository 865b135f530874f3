"""Convolution by hand, output sizes, parameter counts, layer shapes and feature maps."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from course_lib.lessons.inspection import (
    KERNELS,
    conv_output_size,
    correlate2d,
    count_parameters,
    feature_maps,
    layer_table,
)
from course_lib.models import SimpleCNN


def torch_correlate(image, kernel, padding):
    x = torch.from_numpy(np.asarray(image, np.float32))[None, None]
    w = torch.from_numpy(np.asarray(kernel, np.float32))[None, None]
    return F.conv2d(x, w, padding=padding)[0, 0].numpy()


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("kernel_shape", [(3, 3), (1, 2), (5, 3)])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_correlate2d_matches_torch_conv2d(rng, dtype, kernel_shape, padding):
    image = (rng.random((9, 11)) * 200).astype(dtype)
    kernel = rng.normal(size=kernel_shape)
    before = image.copy()
    got = correlate2d(image, kernel, padding=padding)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, torch_correlate(image, kernel, padding), atol=1e-3)
    assert np.array_equal(image, before)


def test_correlate2d_does_not_flip_the_kernel():
    image = np.zeros((3, 3), np.float32)
    image[0, 0] = 1
    kernel = np.arange(9, dtype=np.float32).reshape(3, 3)
    assert correlate2d(image, kernel)[0, 0] == 0  # the top-left weight meets the one bright pixel
    assert correlate2d(image, kernel, padding=1)[1, 1] == 0
    assert correlate2d(image, kernel, padding=1)[0, 0] == 4  # centre weight on the pixel


def test_kernels_are_3x3_float32_and_blur_keeps_a_constant_image():
    assert all(k.shape == (3, 3) and k.dtype == np.float32 for k in KERNELS.values())
    flat = np.full((5, 5), 7.0)
    np.testing.assert_allclose(correlate2d(flat, KERNELS["blur"]), 7.0, rtol=1e-6)
    np.testing.assert_allclose(correlate2d(flat, KERNELS["vertical edges (Sobel x)"]), 0.0)


@pytest.mark.parametrize(
    ("image", "kernel", "padding", "error", "message"),
    [
        (np.zeros(5), np.ones((3, 3)), 0, ValueError, "image must be 2D"),
        (np.zeros((5, 5)), np.ones((1, 3, 3)), 0, ValueError, "kernel must be 2D"),
        (np.zeros((5, 5)), np.ones((3, 3)), -1, ValueError, "padding must be >= 0"),
        (np.zeros((5, 5)), np.ones((3, 3)), 1.0, TypeError, "padding must be an int"),
        (np.zeros((2, 2)), np.ones((3, 3)), 0, ValueError, "larger than the padded image"),
    ],
)
def test_correlate2d_checks_arguments(image, kernel, padding, error, message):
    with pytest.raises(error, match=message):
        correlate2d(image, kernel, padding=padding)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "dilation"),
    [
        (128, 3, 1, 1, 1),
        (128, 3, 1, 0, 1),
        (65, 2, 2, 0, 1),
        (224, 7, 2, 3, 1),
        (9, 3, 1, 0, 2),
        (5, 5, 1, 0, 1),
        (10, 4, 3, 1, 1),
    ],
)
def test_conv_output_size_matches_pytorch(size, kernel, stride, padding, dilation):
    conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation)
    expected = conv(torch.zeros(1, 1, size, size)).shape[-1]
    got = conv_output_size(size, kernel, stride=stride, padding=padding, dilation=dilation)
    assert got == expected and isinstance(got, int)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"size": 8.0, "kernel_size": 3}, TypeError, "size must be an int"),
        ({"size": 8, "kernel_size": True}, TypeError, "kernel_size must be an int"),
        ({"size": 0, "kernel_size": 3}, ValueError, "size must be >= 1"),
        ({"size": 8, "kernel_size": 3, "stride": 0}, ValueError, "stride must be >= 1"),
        ({"size": 8, "kernel_size": 3, "padding": -1}, ValueError, "padding must be >= 0"),
        ({"size": 8, "kernel_size": 3, "dilation": 0}, ValueError, "dilation must be >= 1"),
        ({"size": 2, "kernel_size": 5}, ValueError, "does not fit"),
    ],
)
def test_conv_output_size_checks_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        conv_output_size(**kwargs)


def test_count_parameters_all_and_trainable():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Linear(4, 2))
    assert count_parameters(model) == 4 * 9 + 4 + 4 * 2 + 2
    model[0].weight.requires_grad = False
    assert count_parameters(model, trainable_only=True) == 4 + 4 * 2 + 2
    with pytest.raises(TypeError, match="torch.nn.Module"):
        count_parameters(np.zeros(3))


def test_layer_table_follows_shapes_and_restores_the_mode():
    model = SimpleCNN(widths=(4, 8)).train()
    table = layer_table(model, (2, 1, 16, 16))
    assert model.training
    assert table.loc["features.0", "output shape"] == (2, 4, 16, 16)
    assert table.loc["features.3", "output shape"] == (2, 4, 8, 8)
    assert table.loc["features.7", "output shape"] == (2, 8, 4, 4)
    assert table["output shape"].iloc[-1] == (2, 4)
    assert table["parameters"].sum() == count_parameters(model)
    assert list(table.columns) == ["layer", "output shape", "parameters"]


def test_layer_table_checks_arguments():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        layer_table("model", (1, 1, 8, 8))
    with pytest.raises(ValueError, match="positive sizes"):
        layer_table(nn.Conv2d(1, 1, 3), (1, 0, 8, 8))


def test_feature_maps_catch_the_named_layers_detached():
    torch.manual_seed(0)
    model = SimpleCNN(widths=(4, 8)).eval()
    x = torch.rand(3, 1, 16, 16)
    maps = feature_maps(model, x, ["features.0", "features.6"])
    assert list(maps) == ["features.0", "features.6"]
    assert maps["features.0"].shape == (3, 4, 16, 16) and maps["features.6"].shape == (3, 8, 8, 8)
    assert not maps["features.0"].requires_grad
    with torch.no_grad():
        torch.testing.assert_close(maps["features.0"], model.features[0](x))


@pytest.mark.parametrize(
    ("model", "images", "layers", "error", "message"),
    [
        (nn.Conv2d(1, 1, 3), torch.zeros(1, 1, 5, 5), [], ValueError, "layers is empty"),
        (
            nn.Sequential(nn.Conv2d(1, 1, 3)),
            torch.zeros(1, 1, 5, 5),
            ["1"],
            ValueError,
            r"no layer\(s\) \['1'\]; choose from \['0'\]",
        ),
        (nn.Conv2d(1, 1, 3), np.zeros((1, 1, 5, 5)), ["x"], TypeError, "images must be"),
        (lambda x: x, torch.zeros(1, 1, 5, 5), ["0"], TypeError, "torch.nn.Module"),
    ],
)
def test_feature_maps_checks_arguments(model, images, layers, error, message):
    with pytest.raises(error, match=message):
        feature_maps(model, images, layers)
