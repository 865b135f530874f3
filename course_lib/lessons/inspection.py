"""Look inside a CNN (lesson 04): a convolution by hand, output sizes, shapes and feature maps.

- :data:`KERNELS` and :func:`correlate2d`: what one ``nn.Conv2d`` filter computes, in NumPy;
- :func:`conv_output_size`: the output-size formula of a convolution or pooling layer;
- :func:`count_parameters`: all or only the trainable parameters of a model;
- :func:`layer_table`: every layer's output shape and parameter count for an input shape;
- :func:`feature_maps`: the activations of named layers, caught with forward hooks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from course_lib._validation import check_int, check_type

#: Classic 3x3 filters, float32, to run over a slice with :func:`correlate2d`.
KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32),
    "blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32) / 16,
    "vertical edges (Sobel x)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32),
    "horizontal edges (Sobel y)": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float32),
    "outline (Laplacian)": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32),
}


def correlate2d(image, kernel, *, padding: int = 0) -> np.ndarray:
    """Slide a kernel over an image and sum the products: one filter of ``nn.Conv2d``.

    Deep-learning "convolution" is a cross-correlation: the kernel is *not* flipped. Each output
    pixel is ``sum(window * kernel)`` for the window of the (zero-padded) image under the kernel,
    so the result equals ``torch.nn.functional.conv2d`` with one input and one output channel,
    stride 1 and no bias.

    Args:
        image: ``(H, W)`` array, any real dtype; not modified.
        kernel: ``(kh, kw)`` array, any real dtype, at most as large as the padded image.
        padding: Zeros added on every side first (``kh // 2`` keeps the size for odd kernels).

    Returns:
        float32 array ``(H + 2 * padding - kh + 1, W + 2 * padding - kw + 1)``.

    Raises:
        ValueError: If ``image`` or ``kernel`` is not 2D, ``padding`` is negative, or the
            kernel is larger than the padded image.
        TypeError: If ``padding`` is not an int.

    >>> correlate2d(np.arange(9).reshape(3, 3), np.array([[1, 0], [0, -1]]))
    array([[-4., -4.],
           [-4., -4.]], dtype=float32)
    """
    image = np.asarray(image, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"image must be 2D (H, W), got shape {image.shape}")
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2D (kh, kw), got shape {kernel.shape}")
    padding = check_int("padding", padding, minimum=0)
    if padding:
        image = np.pad(image, padding)
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError(
            f"kernel {kernel.shape} is larger than the padded image {image.shape}; "
            "use a smaller kernel or more padding"
        )
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel).astype(np.float32)


def conv_output_size(
    size: int, kernel_size: int, *, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Output side of a convolution or pooling layer, as PyTorch computes it.

    ``floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``.

    Args:
        size: Input height or width in pixels.
        kernel_size: Kernel side.
        stride: Step between windows.
        padding: Zeros added on each side.
        dilation: Spacing between kernel taps.

    Returns:
        The output side, ``>= 1``.

    Raises:
        TypeError: If an argument is not an int.
        ValueError: If an argument is out of range, or the kernel does not fit at all.

    >>> conv_output_size(128, 3, padding=1), conv_output_size(128, 2, stride=2)
    (128, 64)
    >>> conv_output_size(224, 7, stride=2, padding=3)
    112
    """
    size = check_int("size", size, minimum=1)
    kernel_size = check_int("kernel_size", kernel_size, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    padding = check_int("padding", padding, minimum=0)
    dilation = check_int("dilation", dilation, minimum=1)
    span = dilation * (kernel_size - 1) + 1
    if size + 2 * padding < span:
        raise ValueError(
            f"a kernel spanning {span} pixels does not fit into size {size} with padding "
            f"{padding}; use a smaller kernel or more padding"
        )
    return (size + 2 * padding - span) // stride + 1


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar parameters of a model (weights and biases).

    Args:
        model: Any ``nn.Module``.
        trainable_only: Count only parameters with ``requires_grad`` (those the optimiser
            changes).

    Returns:
        The count.

    Raises:
        TypeError: If ``model`` is not an ``nn.Module``.

    >>> count_parameters(nn.Conv2d(1, 16, 3))  # 16 * 1 * 3 * 3 weights + 16 biases
    160
    """
    check_type("model", model, nn.Module, "a torch.nn.Module")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _run_with_hooks(model: nn.Module, x: torch.Tensor, modules: dict[str, nn.Module]) -> dict:
    """Run ``model(x)`` in eval mode without gradients; return each named module's output."""
    outputs: dict[str, torch.Tensor] = {}
    handles = [
        module.register_forward_hook(
            lambda _m, _i, out, name=name: outputs.__setitem__(name, out.detach())
        )
        for name, module in modules.items()
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return outputs


def layer_table(model: nn.Module, input_shape: Sequence[int]) -> pd.DataFrame:
    """Every leaf layer of a model with the shape it outputs for one input, in call order.

    A zero batch of ``input_shape`` runs through the model once (eval mode, no gradients; the
    model's mode is restored), and a forward hook on each leaf module records its output.

    Args:
        model: Any ``nn.Module`` taking one float32 tensor.
        input_shape: ``(N, C, H, W)`` of the batch to try, e.g. ``(1, 1, 128, 128)``.

    Returns:
        A DataFrame indexed by layer name with columns ``layer`` (class name), ``output shape``
        (a tuple, ``(N, C, H, W)`` after convolutions) and ``parameters`` (int).

    Raises:
        TypeError: If ``model`` is not an ``nn.Module``.
        ValueError: If ``input_shape`` has a non-positive entry.

    >>> table = layer_table(nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2)), (1, 1, 8, 8))
    >>> table["output shape"].tolist(), table["parameters"].tolist()
    ([(1, 4, 6, 6), (1, 4, 3, 3)], [40, 0])
    """
    check_type("model", model, nn.Module, "a torch.nn.Module")
    shape = tuple(int(s) for s in input_shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"input_shape must hold positive sizes, got {tuple(input_shape)!r}")
    leaves = {name: m for name, m in model.named_modules() if name and not list(m.children())}
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    outputs = _run_with_hooks(model, torch.zeros(shape, device=device), leaves)
    rows = [
        {
            "name": name,
            "layer": type(leaves[name]).__name__,
            "output shape": tuple(out.shape),
            "parameters": count_parameters(leaves[name]),
        }
        for name, out in outputs.items()
    ]
    return pd.DataFrame(rows).set_index("name")


def feature_maps(
    model: nn.Module, images: torch.Tensor, layers: Sequence[str]
) -> dict[str, torch.Tensor]:
    """The activations of named layers for a batch, caught with forward hooks.

    Args:
        model: Any ``nn.Module``; run once in eval mode without gradients (its mode is kept).
        images: float32 ``(N, C, H, W)`` batch on the model's device.
        layers: Names from ``model.named_modules()``, e.g. ``"features.2"``.

    Returns:
        ``{name: tensor}`` in the order of ``layers``; each tensor is detached and on the CPU,
        ``(N, channels, h, w)`` for convolutional layers.

    Raises:
        TypeError: If ``model`` is not an ``nn.Module`` or ``images`` not a tensor.
        ValueError: If ``layers`` is empty or names a module the model does not have (the
            message lists the names it has).

    >>> maps = feature_maps(nn.Sequential(nn.Conv2d(1, 2, 3)), torch.zeros(1, 1, 5, 5), ["0"])
    >>> tuple(maps["0"].shape)
    (1, 2, 3, 3)
    """
    check_type("model", model, nn.Module, "a torch.nn.Module")
    check_type("images", images, torch.Tensor, "a torch.Tensor (N, C, H, W)")
    layers = list(layers)
    if not layers:
        raise ValueError("layers is empty; name at least one module, e.g. 'features.0'")
    named = dict(model.named_modules())
    unknown = [name for name in layers if name not in named or not name]
    if unknown:
        choices = [name for name in named if name]
        raise ValueError(f"model has no layer(s) {unknown}; choose from {choices}")
    outputs = _run_with_hooks(model, images, {name: named[name] for name in layers})
    return {name: outputs[name].cpu() for name in layers}
