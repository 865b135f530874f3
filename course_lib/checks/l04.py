"""Checks for the lesson 04 exercises: the arithmetic of a CNN layer by layer."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from course_lib.checks import check, expect, expect_array


@check(
    "conv_output_size",
    hint="out = (size + 2 * padding - kernel_size) // stride + 1 (integer division).",
)
def check_conv_output_size(conv_output_size) -> None:
    """Check ``conv_output_size(size, kernel_size, stride, padding) -> int`` against PyTorch."""
    cases = [
        (128, 3, 1, 1),  # "same" convolution
        (128, 3, 1, 0),  # no padding: loses a pixel on each side
        (128, 2, 2, 0),  # 2x2 max-pooling
        (224, 7, 2, 3),  # the first layer of a ResNet
        (65, 3, 2, 1),  # odd size: the division rounds down
        (5, 5, 1, 0),  # the kernel covers the whole image
    ]
    for size, kernel, stride, padding in cases:
        conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding)
        expected = conv(torch.zeros(1, 1, size, size)).shape[-1]
        got = conv_output_size(size, kernel, stride, padding)
        what = (
            f"conv_output_size(size={size}, kernel_size={kernel}, stride={stride}, "
            f"padding={padding})"
        )
        expect(
            isinstance(got, int | np.integer),
            f"{what} returned {got!r} ({type(got).__name__}); expected an int.",
            "Use integer division // so the result is an int, not a float.",
        )
        one_sided = (size + padding - kernel) // stride + 1
        rounded_up = -(-(size + 2 * padding - kernel) // stride) + 1
        hint = "out = (size + 2 * padding - kernel_size) // stride + 1."
        if got == one_sided != expected:
            hint = "Padding adds `padding` pixels on *both* sides: size + 2 * padding."
        elif got == rounded_up != expected:
            hint = "Round down: use //, not / followed by round() or ceil()."
        expect(got == expected, f"{what} returned {got}; PyTorch gives {expected}.", hint)


def _reference_correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """What ``F.conv2d`` gives for one 2D image and one 2D kernel (valid, stride 1)."""
    out = F.conv2d(torch.from_numpy(image)[None, None], torch.from_numpy(kernel)[None, None])
    return out[0, 0].numpy()


@check(
    "conv2d_by_hand",
    hint="For each (i, j): out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel).",
)
def check_conv2d_by_hand(conv2d_by_hand) -> None:
    """Check ``conv2d_by_hand(image, kernel) -> float32 (H - kh + 1, W - kw + 1)`` vs conv2d."""
    image = np.arange(30, dtype=np.float32).reshape(5, 6) % 7
    asymmetric = np.array([[1, 2, 0], [0, -1, 0], [0, 0, 3]], dtype=np.float32)
    scratch = image.copy()
    conv2d_by_hand(scratch, asymmetric.copy())
    expect(
        np.array_equal(scratch, image),
        "conv2d_by_hand changed its input image.",
        "Read windows of the image; never assign into it.",
    )
    got = conv2d_by_hand(image.copy(), asymmetric.copy())
    expected = _reference_correlate(image, asymmetric)
    if isinstance(got, np.ndarray) and got.shape == expected.shape:
        flipped = _reference_correlate(image, asymmetric[::-1, ::-1].copy())
        expect(
            not np.allclose(got, flipped),
            "conv2d_by_hand flips the kernel (the textbook convolution); nn.Conv2d does not.",
            "Multiply each window by the kernel as it is: no np.flip, no [::-1].",
        )
    expect_array(
        got,
        expected,
        what="conv2d_by_hand(5x6 image, 3x3 kernel)",
        hint="Without padding the output has H - kh + 1 rows and W - kw + 1 columns.",
        atol=1e-4,
    )
    wide = np.array([[1.0, -1.0]], dtype=np.float32)
    expect_array(
        conv2d_by_hand(image.copy(), wide.copy()),
        _reference_correlate(image, wide),
        what="conv2d_by_hand(5x6 image, 1x2 kernel)",
        hint="Kernels need not be square: use kh, kw = kernel.shape.",
        atol=1e-4,
    )


@check(
    "conv_parameters",
    hint="Each of the out_channels filters has in_channels * k * k weights, plus one bias each.",
)
def check_conv_parameters(conv_parameters) -> None:
    """Check ``conv_parameters(in_channels, out_channels, kernel_size, bias) -> int``."""
    for in_ch, out_ch, k, bias in [(1, 16, 3, True), (16, 32, 3, True), (3, 64, 7, False)]:
        layer = nn.Conv2d(in_ch, out_ch, k, bias=bias)
        expected = sum(p.numel() for p in layer.parameters())
        got = conv_parameters(in_ch, out_ch, k, bias)
        hint = (
            "A filter looks at every input channel: in_channels * k * k weights per filter."
            if in_ch > 1
            else "Count weights (out * in * k * k) and biases (one per output channel)."
        )
        if not bias:
            hint = "Without bias there are no extra parameters: only out * in * k * k."
        expect(
            got == expected,
            f"conv_parameters({in_ch}, {out_ch}, {k}, bias={bias}) returned {got}; "
            f"nn.Conv2d has {expected}.",
            hint,
        )


@check(
    "softmax",
    hint="Subtract each row's maximum, exponentiate, divide by the row sums (axis=1).",
)
def check_softmax(softmax) -> None:
    """Check ``softmax(logits (N, C)) -> probabilities (N, C)``, rows summing to 1, stable."""
    logits = np.array([[2.0, 1.0, 0.1, -1.0], [0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    scratch = logits.copy()
    got = softmax(scratch)
    expect(
        np.array_equal(scratch, logits),
        "softmax changed its input logits.",
        "Write x = logits - logits.max(axis=1, keepdims=True), not logits -= ...",
    )
    expected = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    expect_array(
        got,
        expected,
        what="softmax(2x4 logits)",
        hint="Normalise each row (axis=1, keepdims=True), not the whole array.",
        atol=1e-5,
    )
    large = np.array([[1000.0, 999.0, 0.0, -5.0]], dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        got_large = softmax(large.copy())
    expect(
        isinstance(got_large, np.ndarray) and bool(np.all(np.isfinite(got_large))),
        "softmax of logits around 1000 gives inf or nan: exp(1000) overflows.",
        "Subtract the row's maximum first; it does not change the result but keeps exp small.",
    )
    expect_array(
        got_large,
        torch.softmax(torch.from_numpy(large), dim=1).numpy(),
        what="softmax([[1000, 999, 0, -5]])",
        atol=1e-5,
    )
