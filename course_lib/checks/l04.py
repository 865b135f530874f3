"""Checks for the lesson 04 exercises: a CNN's arithmetic, the loop, Lightning, the LR finder.

Every check builds its own small inputs (fresh copies for each call, so an answer that modifies
its input cannot spoil the next test) and names the typical wrong answer before it falls back to
a general message. The training checks use a two-layer network on 16 random vectors: a handful
of steps, milliseconds. The Lightning check fits one Trainer for four steps on the CPU, quietly:
well under a second once Lightning is imported.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import tempfile
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from course_lib.checks import check, expect, expect_array, expect_own_code, fail, names_used


def _uses(answer, *names: str) -> list[str]:
    """The names among ``names`` that a function's code uses (nested functions included)."""
    code = getattr(answer, "__code__", None)
    used = names_used(code) if code is not None else set()
    return [name for name in names if name in used]


def _keeps_random_state(body: Callable) -> Callable:
    """Run a check with torch's global random state kept (a DataLoader draws from it)."""

    @functools.wraps(body)
    def run(*args, **kwargs):
        with torch.random.fork_rng(devices=[]):
            return body(*args, **kwargs)

    return run


# --------------------------------------------------------------------------- output size

#: (size, kernel_size, stride, padding) cases, each chosen to tell a mistake from the right answer.
_SIZE_CASES = (
    (128, 3, 1, 1),  # "same" convolution
    (128, 3, 1, 0),  # no padding: loses a pixel on each side
    (128, 2, 2, 0),  # 2x2 max-pooling
    (224, 7, 2, 3),  # the first layer of a ResNet
    (65, 3, 2, 1),  # odd size: the division rounds down
    (5, 5, 1, 0),  # the kernel covers the whole image
)

#: Typical wrong formulas: (what it computes, what is wrong, a hint that points the way).
_SIZE_MISTAKES: tuple[tuple[Callable[[int, int, int, int], int], str, str], ...] = (
    (
        lambda n, k, s, p: (n + 2 * p - k) // s,
        "it is one short: the +1 is missing",
        "You counted the strides the kernel takes, not the positions it visits: its first "
        "position costs no stride, so there is one position more than strides.",
    ),
    (
        lambda n, k, s, p: (n + p - k) // s + 1,
        "the padding is counted on one side only",
        "Padding adds `padding` zeros on both sides of the image, so the padded side is longer "
        "by twice the padding.",
    ),
    (
        lambda n, k, s, p: (n - k) // s + 1,
        "the padding is ignored",
        "The kernel slides over the padded image, not the original one.",
    ),
    (
        lambda n, k, s, p: (n + 2 * p - k + 1) // s,
        "the +1 sits inside the division by the stride",
        "Divide the room the kernel has to move by the stride first; the first position, which "
        "needs no stride, is added after the division.",
    ),
    (
        lambda n, k, s, p: -(-(n + 2 * p - k) // s) + 1,
        "it rounds up",
        "A stride that would take the kernel past the edge does not count: round down.",
    ),
    (
        lambda n, k, s, p: n + 2 * p - k + 1,
        "the stride is ignored",
        "With stride 2 the kernel visits every second position only.",
    ),
)


def _torch_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """The output side PyTorch gives (run a real layer on zeros)."""
    weight = torch.zeros(1, 1, kernel, kernel)
    out = F.conv2d(torch.zeros(1, 1, size, size), weight, stride=stride, padding=padding)
    return int(out.shape[-1])


@check(
    "conv_output_size",
    hint="Count the positions the kernel can take along one side of the padded image, then how "
    "many of them a stride visits.",
)
def check_conv_output_size(conv_output_size) -> None:
    """Check ``conv_output_size(size, kernel_size, stride, padding) -> int`` against PyTorch."""
    expect_own_code(conv_output_size, "conv_output_size", exercise="conv_output_size")
    got, expected = [], []
    for size, kernel, stride, padding in _SIZE_CASES:
        value = conv_output_size(size, kernel, stride, padding)
        what = (
            f"conv_output_size(size={size}, kernel_size={kernel}, stride={stride}, "
            f"padding={padding})"
        )
        if value is None:
            fail(f"{what} returned None.", "Did you forget to `return` the result?")
        expect(
            isinstance(value, int | np.integer) and not isinstance(value, bool),
            f"{what} returned {value} ({type(value).__name__}); expected an int.",
            "A side is a whole number of pixels: use integer division, which also rounds down.",
        )
        got.append(int(value))
        expected.append(_torch_size(size, kernel, stride, padding))
    wrong = [i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
    if not wrong:
        return
    for formula, problem, hint in _SIZE_MISTAKES:
        if all(formula(*case) == g for case, g in zip(_SIZE_CASES, got, strict=True)):
            size, kernel, stride, padding = _SIZE_CASES[wrong[0]]
            fail(
                f"conv_output_size(size={size}, kernel_size={kernel}, stride={stride}, "
                f"padding={padding}) returned {got[wrong[0]]}; PyTorch gives "
                f"{expected[wrong[0]]}: {problem}.",
                hint,
            )
    size, kernel, stride, padding = _SIZE_CASES[wrong[0]]
    fail(
        f"conv_output_size(size={size}, kernel_size={kernel}, stride={stride}, "
        f"padding={padding}) returned {got[wrong[0]]}; PyTorch gives {expected[wrong[0]]}.",
        "Pad, see how far the kernel can move, count its steps of `stride` (rounding down), and "
        "remember the position it starts from.",
    )


# --------------------------------------------------------------------------- convolution by hand


def _reference_correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """What ``F.conv2d`` gives for one 2D image and one 2D kernel (valid, stride 1), float32."""
    image = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    kernel = torch.from_numpy(np.ascontiguousarray(kernel, dtype=np.float32))
    return F.conv2d(image[None, None], kernel[None, None])[0, 0].numpy()


def _conv_image() -> np.ndarray:
    """A fresh 5x6 float32 test image with negative values (its minimum is -3, not 0)."""
    return (np.arange(30, dtype=np.float32).reshape(5, 6) % 7) - 3


def _asymmetric_kernel() -> np.ndarray:
    """A fresh 3x3 kernel that differs from its flipped self."""
    return np.array([[1, 2, 0], [0, -1, 0], [0, 0, 3]], dtype=np.float32)


def _run_conv(conv2d_by_hand, image: np.ndarray, kernel: np.ndarray):
    """Call the answer on copies and fail if it changed either of them."""
    image_in, kernel_in = image.copy(), kernel.copy()
    got = conv2d_by_hand(image_in, kernel_in)
    expect(
        np.array_equal(image_in, image),
        "conv2d_by_hand changed its input image.",
        "Read windows of the image and keep the products in new arrays: a slice is a view, and "
        "an in-place operation (+=, *=, -=, or assigning into it) writes into the image.",
    )
    expect(
        np.array_equal(kernel_in, kernel),
        "conv2d_by_hand changed the kernel it was given.",
        "The kernel belongs to the caller (a layer uses it again at the next position and the "
        "next image): use it as it is, and change nothing in place.",
    )
    return got


def _expect_conv(got, image: np.ndarray, kernel: np.ndarray, what: str, hint: str) -> None:
    """Compare an answer with F.conv2d: the kernel flip, the shape, the dtype, the values."""
    expected = _reference_correlate(image, kernel)
    if got is None:
        fail(f"{what} returned None.", "Did you forget to `return` the result?")
    if isinstance(got, np.ndarray) and got.shape == expected.shape:
        flipped = _reference_correlate(image, kernel[::-1, ::-1])
        if not np.allclose(flipped, expected) and np.allclose(got, flipped, atol=1e-4):
            fail(
                f"{what}: your result is the textbook convolution, with the kernel flipped; "
                "nn.Conv2d does not flip it.",
                "Multiply each window by the kernel as it is, element by element.",
            )
        if got.dtype != np.float32:
            fail(
                f"{what} returned dtype {got.dtype}; expected float32.",
                "The array you fill decides the dtype of the result, and NumPy's default is "
                "float64; a network works in float32 whatever the dtype of the image.",
            )
    expect_array(got, expected, what=what, hint=hint, atol=1e-4)


@check(
    "conv2d_by_hand",
    hint="Work out the output's shape first; then one output pixel is the sum of a window of "
    "the image multiplied by the kernel.",
)
def check_conv2d_by_hand(conv2d_by_hand) -> None:
    """Check ``conv2d_by_hand(image, kernel) -> float32 (H - kh + 1, W - kw + 1)`` vs conv2d."""
    expect_own_code(conv2d_by_hand, "correlate2d", exercise="conv2d_by_hand")
    library = _uses(conv2d_by_hand, "conv2d", "convolve2d")
    expect(
        not library,
        f"conv2d_by_hand calls a library's {library[0] if library else ''}.",
        "The exercise is to compute the sums yourself; the check compares them with PyTorch's.",
    )
    image, kernel = _conv_image(), _asymmetric_kernel()
    _expect_conv(
        _run_conv(conv2d_by_hand, image, kernel),
        image,
        kernel,
        "conv2d_by_hand(5x6 image, 3x3 kernel)",
        "Without padding the kernel must fit inside the image: the output has H - kh + 1 rows "
        "and W - kw + 1 columns, and each pixel is the sum over one window.",
    )
    wide = np.array([[1.0, -1.0]], dtype=np.float32)
    _expect_conv(
        _run_conv(conv2d_by_hand, image, wide),
        image,
        wide,
        "conv2d_by_hand(5x6 image, 1x2 kernel)",
        "Kernels need not be square: take the kernel's height and width separately.",
    )


@check(
    "conv2d_by_hand (more cases)",
    hint="It must work for an image of any dtype and return float32.",
)
def check_conv2d_by_hand_more(conv2d_by_hand) -> None:
    """Hidden cases: a uint8 image (as files store it), a float64 image, a kernel as large."""
    image = ((np.arange(42).reshape(6, 7) * 37) % 256).astype(np.uint8)
    kernel = np.array([[0.5, -1.0], [2.0, 0.25]], dtype=np.float32)
    got = _run_conv(conv2d_by_hand, image, kernel)
    if isinstance(got, np.ndarray) and got.dtype == np.uint8:
        fail(
            "with a uint8 image, conv2d_by_hand returned uint8: sums above 255 wrap around and "
            "negative sums are lost.",
            "Make the result float32 whatever the image's dtype.",
        )
    _expect_conv(got, image, kernel, "conv2d_by_hand(6x7 uint8 image, 2x2 kernel)", "")
    as_float64 = _conv_image().astype(np.float64)
    _expect_conv(
        _run_conv(conv2d_by_hand, as_float64, _asymmetric_kernel()),
        as_float64,
        _asymmetric_kernel(),
        "conv2d_by_hand(5x6 float64 image, 3x3 kernel)",
        "",
    )
    whole = np.ones((5, 6), dtype=np.float32)
    _expect_conv(
        _run_conv(conv2d_by_hand, _conv_image(), whole),
        _conv_image(),
        whole,
        "conv2d_by_hand(5x6 image, 5x6 kernel)",
        "A kernel as large as the image fits in one position: a 1x1 result.",
    )


# --------------------------------------------------------------------------- parameters


@check(
    "conv_parameters",
    hint="A layer has weights and, maybe, biases: how many numbers does one filter hold, and how "
    "many filters are there?",
)
def check_conv_parameters(conv_parameters) -> None:
    """Check ``conv_parameters(in_channels, out_channels, kernel_size, bias) -> int``."""
    expect_own_code(conv_parameters, "count_parameters", exercise="conv_parameters")
    built = _uses(conv_parameters, "Conv2d", "numel", "parameters")
    expect(
        not built,
        "conv_parameters builds a layer and counts what PyTorch made.",
        "Work the number out from the four arguments; the check builds the layer to compare.",
    )
    for in_ch, out_ch, k, bias in [(1, 16, 3, True), (16, 32, 3, True), (3, 64, 7, False)]:
        layer = nn.Conv2d(in_ch, out_ch, k, bias=bias, device="meta")  # no memory, no RNG
        expected = sum(p.numel() for p in layer.parameters())
        got = conv_parameters(in_ch, out_ch, k, bias)
        if in_ch > 1 and got == out_ch * k * k + (out_ch if bias else 0):
            hint = "A filter looks at every input channel, with one k x k grid for each."
        elif not bias and got == expected + out_ch:
            hint = "With bias=False the layer has weights only."
        elif got == expected - out_ch and bias:
            hint = "Each filter adds one bias to its output."
        else:
            hint = "Count the weights of one filter, then the filters, then the biases."
        expect(
            got == expected,
            f"conv_parameters({in_ch}, {out_ch}, {k}, bias={bias}) returned {got}; "
            f"nn.Conv2d has {expected}.",
            hint,
        )


# --------------------------------------------------------------------------- softmax


def _global_max_softmax(logits: np.ndarray) -> np.ndarray:
    """The typical wrong answer: shift by the largest logit of the whole batch."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(logits - logits.max())
        return e / e.sum(axis=1, keepdims=True)


def _run_softmax(softmax, logits: np.ndarray):
    scratch = logits.copy()
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        got = softmax(scratch)
    expect(
        np.array_equal(scratch, logits),
        "softmax changed its input logits.",
        "Keep the shifted logits in a new array: an in-place operation such as -= writes into "
        "the caller's array.",
    )
    if got is None:
        fail("softmax returned None.", "Did you forget to `return` the probabilities?")
    if torch.is_tensor(got):
        fail("softmax returned a torch tensor.", "Work with NumPy and return a NumPy array.")
    return got


@check(
    "softmax",
    hint="Each row of logits becomes a row of probabilities: positive, summing to 1. Which "
    "shift leaves the result unchanged but keeps np.exp from overflowing?",
)
def check_softmax(softmax) -> None:
    """Check ``softmax(logits (N, C)) -> probabilities (N, C)``, rows summing to 1, stable."""
    library = _uses(softmax, "softmax", "log_softmax")
    expect(
        not library,
        f"softmax calls a library's {library[0] if library else ''}.",
        "The exercise is to write it with np.exp and a sum; the check compares with PyTorch's.",
    )
    logits = np.array([[2.0, 1.0, 0.1, -1.0], [0.0, 0.5, 0.0, -0.5]], dtype=np.float32)
    got = _run_softmax(softmax, logits)
    expected = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    if isinstance(got, np.ndarray) and got.shape == expected.shape:
        with np.errstate(invalid="ignore"):
            if np.isclose(float(got.sum()), 1.0, atol=1e-4):
                fail(
                    "softmax(2x4 logits): the whole array sums to 1, not each row.",
                    "Each row is one image's scores: normalise every row on its own (axis 1, "
                    "keeping the axis so that the division lines up).",
                )
            if np.allclose(got.sum(axis=0), 1.0, atol=1e-4):
                fail(
                    "softmax(2x4 logits): each column sums to 1, not each row.",
                    "The classes run along axis 1: sum over axis 1, not axis 0.",
                )
    expect_array(
        got,
        expected,
        what="softmax(2x4 logits)",
        hint="exp of each logit divided by the sum of the exps of its row.",
        atol=1e-4,
    )
    # rows of very different scale: 1000s, ordinary logits, and -1000s
    batch = np.array(
        [[1000.0, 999.0, 0.0, -5.0], [-2.0, 1.0, 0.5, -1.0], [-1000.0, -1001.0, -1005.0, -999.0]],
        dtype=np.float32,
    )
    got = _run_softmax(softmax, batch)
    expected = torch.softmax(torch.from_numpy(batch), dim=1).numpy()
    expect(
        isinstance(got, np.ndarray) and got.shape == expected.shape,
        f"softmax(3x4 logits) returned {getattr(got, 'shape', type(got).__name__)}; expected "
        "an array of shape (3, 4).",
        "Return one row of probabilities per row of logits.",
    )
    got64 = got.astype(np.float64)
    with np.errstate(invalid="ignore"):
        row_ok = [
            bool(np.all(np.isfinite(g)) and np.allclose(g, e, atol=1e-4))
            for g, e in zip(got64, expected, strict=True)
        ]
    if not np.all(np.isfinite(got64[0])):
        fail(
            "softmax of logits around 1000 gives inf or nan: exp(1000) overflows.",
            "Softmax does not change when you subtract the same number from every logit of a "
            "row; choose that number so that the largest exponent is 0.",
        )
    same_as_global = np.allclose(got64, _global_max_softmax(batch), atol=1e-4, equal_nan=True)
    with np.errstate(invalid="ignore"):
        lost = [not np.all(np.isfinite(g)) or float(g.sum()) < 0.5 for g in got64[1:]]
    if row_ok[0] and not all(row_ok[1:]) and (same_as_global or any(lost)):
        fail(
            "softmax of a batch whose rows differ hugely in scale (logits around 1000 in one "
            "row, around 0 and around -1000 in others) gives nan or zeros in the smaller rows: "
            "you shifted by the maximum of the whole batch instead of each row's maximum.",
            "After a shift by the batch's largest logit, exp of a row whose logits are all far "
            "below it is 0 for every entry, and 0 / 0 is nan. Shift each row by its own largest "
            "logit.",
        )
    expect_array(
        got,
        expected,
        what="softmax of a batch whose rows differ hugely in scale",
        hint="Shift each row by its own largest logit before the exponential.",
        atol=1e-4,
    )


# --------------------------------------------------------------------------- the training loop


class _ModeProbe(nn.Module):
    """Passes its input on and records, at every forward pass, whether it was in training mode."""

    def __init__(self) -> None:
        super().__init__()
        self.modes: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        self.modes.append(self.training)
        return x


def _tiny_classifier() -> nn.Sequential:
    """Four features in, three logits out, with batch norm (so that the mode matters), seeded."""
    with torch.random.fork_rng(devices=[]):  # leave the notebook's random state alone
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Linear(4, 8), nn.BatchNorm1d(8), _ModeProbe(), nn.ReLU(), nn.Linear(8, 3)
        )
    return model


def _tiny_data(n: int = 16, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=generator)
    y = torch.randint(0, 3, (n,), generator=generator)
    return x, y


def _functional_sgd(model: nn.Module, batches, lr: float, *, accumulate: bool):
    """Final parameters and batch losses of plain SGD, by torch.autograd.grad (no optimiser).

    ``accumulate=True`` keeps adding every batch's gradient to the earlier ones, as a loop that
    never resets the gradients does.
    """
    model = copy.deepcopy(model).train()
    params = {name: p.detach().clone().requires_grad_(True) for name, p in model.named_parameters()}
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    summed = {name: torch.zeros_like(p) for name, p in params.items()}
    losses = []
    for x, y in batches:
        logits = torch.func.functional_call(model, (params, buffers), (x,))
        loss = F.cross_entropy(logits, y)
        grads = torch.autograd.grad(loss, list(params.values()))
        with torch.no_grad():
            for (name, p), g in zip(list(params.items()), grads, strict=True):
                summed[name] = summed[name] + g if accumulate else g
                params[name] = (p - lr * summed[name]).requires_grad_(True)
        losses.append(float(loss.detach()))
    return {name: p.detach() for name, p in params.items()}, losses


def _same_weights(model: nn.Module, params: dict) -> bool:
    return all(
        torch.allclose(p.detach(), params[name], atol=1e-5) for name, p in model.named_parameters()
    )


def _as_number(got, what: str) -> float:
    if got is None:
        fail(f"{what} returned None.", "Did you forget to `return` the mean loss?")
    if torch.is_tensor(got):
        if got.requires_grad:
            fail(
                f"{what} returned a tensor that still carries its gradient graph.",
                "Adding up loss tensors keeps the graph of every batch alive (memory grows "
                "batch by batch). Turn each batch's loss into a plain Python number before you "
                "add it.",
            )
        if got.numel() != 1:
            fail(f"{what} returned a tensor of shape {tuple(got.shape)}.", "Return one number.")
    if isinstance(got, list | tuple | np.ndarray) and np.size(got) != 1:
        fail(
            f"{what} returned {type(got).__name__} of {np.size(got)} values.",
            "Return one number: the mean of the batch losses.",
        )
    try:
        return float(got)
    except (TypeError, ValueError):
        fail(f"{what} returned a {type(got).__name__}, not a number.", "Return the mean loss.")


@check(
    "train_one_epoch",
    hint="Four steps for every batch, in an order that makes each gradient belong to one batch "
    "only; and the model must be in the right mode before the first one.",
)
@_keeps_random_state
def check_train_one_epoch(train_one_epoch) -> None:
    """Check ``train_one_epoch(model, loader, optimiser, loss_fn) -> float`` (the mean loss)."""
    x, y = _tiny_data()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    model = _tiny_classifier()
    batches = list(loader)
    right, losses = _functional_sgd(model, batches, 0.5, accumulate=False)
    summed, _ = _functional_sgd(model, batches, 0.5, accumulate=True)
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    model.eval()  # as after a validation pass: the loop must switch training mode on itself
    probe = model[2]
    optimiser = torch.optim.SGD(model.parameters(), lr=0.5)
    with warnings.catch_warnings():  # e.g. float(loss): a correct answer must not print one
        warnings.simplefilter("ignore")
        got = train_one_epoch(model, loader, optimiser, nn.CrossEntropyLoss())
    what = "train_one_epoch(model, 4 batches, SGD, cross-entropy)"
    expect(
        len(probe.modes) > 0,
        f"{what} never ran the model forward.",
        "Each batch must go through the model to give its logits.",
    )
    if not any(probe.modes):
        fail(
            f"{what}: the model stayed in evaluation mode while it trained (the check hands it "
            "over in eval mode, as it is after a validation pass).",
            "A model remembers its mode, and batch norm and dropout behave differently in it: "
            "switch the model to training mode at the start of the epoch.",
        )
    expect(
        len(probe.modes) >= len(batches),
        f"{what} ran the model on {len(probe.modes)} of the loader's {len(batches)} batches.",
        "An epoch is one pass over every batch the loader delivers.",
    )
    if _same_weights(model, start):
        fail(
            f"{what} left the weights as they were.",
            "The optimiser moves the weights only by the gradients that backward computed and "
            "that are still there when it steps: check that both happen, and in which order.",
        )
    if _same_weights(model, summed):
        fail(
            f"{what}: each step used the gradients of every batch so far: they were never reset.",
            "backward adds to the gradients already stored in each weight; clear them once per "
            "batch, before the new backward.",
        )
    expect(
        _same_weights(model, right),
        f"{what}: after one epoch the weights differ from one plain SGD step per batch.",
        "For every batch: clear the gradients, forward, loss, backward, one optimiser step. "
        "Nothing else changes the weights.",
    )
    value = _as_number(got, what)
    mean = float(np.mean(losses))
    if np.isclose(value, mean, rtol=1e-4):
        return
    for wrong, problem, hint in (
        (
            float(np.sum(losses)),
            "that is the sum of the batch losses, not their mean",
            "A sum grows with the number of batches, so epochs of different lengths could not "
            "be compared: divide by the number of batches.",
        ),
        (
            float(np.sum(losses)) / len(x),
            "the sum of the batch losses divided by the number of images",
            "Each batch's loss is already a mean over its images: average over the batches "
            "(or weight each batch's loss by its size first).",
        ),
        (
            losses[-1],
            "that is the loss of the last batch only",
            "Keep a running total over the epoch, not only the latest value.",
        ),
        (
            losses[0],
            "that is the loss of the first batch only",
            "Keep a running total over the epoch, not only the first value.",
        ),
    ):
        if np.isclose(value, wrong, rtol=1e-4):
            fail(f"{what} returned {value:.4f}: {problem}.", hint)
    fail(
        f"{what} returned {value:.4f}, which is not the mean of the four batch losses.",
        "Add up each batch's loss (as a number) as it comes, and divide by the number of "
        "batches at the end.",
    )


# --------------------------------------------------------------------------- Lightning


@contextlib.contextmanager
def _silent_lightning() -> Iterator[None]:
    """No banner, no warning, no progress output while the check's tiny Trainer runs."""
    names = ("pytorch_lightning", "lightning.pytorch", "lightning.fabric")
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _the_optimiser(returned, what: str) -> torch.optim.Optimizer:
    """The optimiser in what configure_optimizers returned (an optimiser, a dict or a list)."""
    if returned is None:
        fail(f"{what} returned None.", "Did you forget to `return` the optimiser?")
    if isinstance(returned, type):
        fail(
            f"{what} returned the class {returned.__name__}, not an optimiser.",
            "Make an optimiser: the class needs the parameters to train and the learning rate.",
        )
    if isinstance(returned, dict):
        returned = returned.get("optimizer")
    elif isinstance(returned, list | tuple) and returned:
        returned = returned[0]
        if isinstance(returned, list | tuple) and returned:
            returned = returned[0]
    if not isinstance(returned, torch.optim.Optimizer):
        fail(
            f"{what} returned a {type(returned).__name__}, not a torch optimiser.",
            "Return an optimiser from torch.optim, built on the module's parameters.",
        )
    return returned


@check(
    "LitClassifier",
    hint="training_step says what one step computes and returns; configure_optimizers says "
    "how the weights move. The Trainer does the rest.",
)
@_keeps_random_state
def check_lit_classifier(LitClassifier) -> None:  # noqa: N803 (a class)
    """Check a LightningModule's ``training_step`` and ``configure_optimizers`` on a tiny net."""
    import pytorch_lightning as pl  # lazy: the other checks need no Lightning

    manual = _uses(LitClassifier.training_step, "backward", "zero_grad", "step", "manual_backward")
    expect(
        not manual,
        f"training_step calls {manual[0] if manual else ''} itself.",
        "With a LightningModule the Trainer clears the gradients, calls backward and steps the "
        "optimiser for you: training_step only computes and returns the loss of its batch.",
    )
    module = LitClassifier(_tiny_classifier(), lr=0.25)
    optimiser = _the_optimiser(module.configure_optimizers(), "configure_optimizers()")
    rates = {group["lr"] for group in optimiser.param_groups}
    expect(
        rates == {0.25},
        f"configure_optimizers() gives learning rate {sorted(rates)} for a module made with "
        "lr=0.25.",
        "Use the learning rate the module was given (__init__ saved it with the other "
        "hyperparameters), not a number of your own.",
    )
    trained = {id(p) for group in optimiser.param_groups for p in group["params"]}
    weights = list(module.parameters())
    missing = sum(id(p) not in trained for p in weights)
    expect(
        missing == 0,
        f"configure_optimizers()'s optimiser trains {len(weights) - missing} of the module's "
        f"{len(weights)} parameter tensors.",
        "Give the optimiser all of the module's parameters.",
    )

    x, y = _tiny_data()
    module.train()
    with _silent_lightning():
        returned = module.training_step((x[:4], y[:4]), 0)
    what = "training_step(batch, 0)"
    if returned is None:
        fail(
            f"{what} returned None: Lightning then skips the batch, and nothing trains.",
            "Return the batch's loss.",
        )
    if isinstance(returned, dict):
        returned = returned.get("loss")
    if not torch.is_tensor(returned):
        fail(
            f"{what} returned a {type(returned).__name__}, not a tensor.",
            "Lightning calls backward on what training_step returns: return the loss tensor "
            "itself, not a number made from it.",
        )
    if returned.grad_fn is None:
        fail(
            f"{what} returned a tensor without a gradient graph (detached, or computed without "
            "gradients).",
            "Return the loss as the loss function gave it.",
        )
    if returned.numel() != 1:
        fail(
            f"{what} returned a tensor of shape {tuple(returned.shape)}.",
            "Return one number: the mean loss of the batch.",
        )
    with torch.no_grad():
        expected = float(F.cross_entropy(module(x[:4]), y[:4]))
    value = float(returned.detach())
    expect(
        np.isclose(value, expected, rtol=1e-4),
        f"{what} returned {value:.4f}, not the batch's cross-entropy.",
        "Forward the batch's images, then the loss function on the logits and the labels.",
    )

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    start = [p.detach().clone() for p in module.parameters()]
    with _silent_lightning(), tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            max_steps=4,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            limit_val_batches=0,
            default_root_dir=root,
        )
        trainer.fit(module, train_dataloaders=loader)
    expect(
        trainer.global_step == 4,
        f"the Trainer took {trainer.global_step} of 4 optimiser steps.",
        "Every batch must give a loss for the Trainer to step on.",
    )
    expect(
        any(
            not torch.equal(a, b.detach()) for a, b in zip(start, module.parameters(), strict=True)
        ),
        "after four training steps the weights are unchanged.",
        "Return the loss from training_step and give the optimiser the module's parameters.",
    )
    logged = [key for key in trainer.callback_metrics if key.startswith("train/loss")]
    expect(
        bool(logged),
        "nothing was logged as 'train/loss' (logged: "
        f"{sorted(trainer.callback_metrics) or 'nothing'}).",
        "Log the batch's loss under the name 'train/loss': the learning curves read it.",
    )


# --------------------------------------------------------------------------- the LR finder


def _finder_curve(centre: float, *, bounce: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A smooth learning-rate finder curve: 10 rates per decade from 1e-6 to 10.

    The loss falls fastest at ``10 ** centre``, bottoms out about two decades later and then
    explodes. With ``bounce``, the exploding part swings down once, steeply, as a diverging loss
    can, but stays above the minimum.
    """
    lrs = 10.0 ** (np.arange(71) / 10 - 6)
    u = np.log10(lrs)
    losses = 1.4 - 1.0 / (1.0 + np.exp(-(u - centre) / 0.35)) + np.exp(3.0 * (u - centre - 2.6))
    if bounce:
        after = int(np.argmin(losses)) + 6
        losses[after] = losses[after - 1] + 2.0
        losses[after + 1] = losses[after - 1] + 0.2
    return lrs, losses


def _steepest(lrs: np.ndarray, losses: np.ndarray) -> int:
    """Index of the steepest fall per step, up to the lowest loss."""
    lowest = int(np.argmin(losses))
    return int(np.argmin(np.gradient(losses[: lowest + 1])))


@check(
    "choose_lr",
    hint="Where does the loss fall fastest per step of the sweep? Only the part of the curve "
    "before it turns upward counts.",
)
def check_choose_lr(choose_lr) -> None:
    """Check ``choose_lr(lrs, losses) -> float``: the steepest descent, up to the lowest loss."""
    library = _uses(choose_lr, "suggestion", "lr_find")
    expect(
        not library,
        f"choose_lr calls Lightning's {library[0] if library else ''}.",
        "The exercise is to read the curve yourself; the notebook compares with Lightning's pick.",
    )
    cases = (
        ("a finder curve", -3.0, False),
        ("a curve whose loss swings after its low", -2.0, True),
    )
    for label, centre, bounce in cases:
        lrs, losses = _finder_curve(centre, bounce=bounce)
        lrs_in, losses_in = list(lrs), list(losses)  # as the finder's results give them: lists
        got = choose_lr(lrs_in, losses_in)
        expect(
            np.allclose(lrs_in, lrs) and np.allclose(losses_in, losses),
            "choose_lr changed the lists it was given.",
            "Read the curve; make new arrays for anything you compute.",
        )
        what = f"choose_lr on {label}"
        if got is None:
            fail(f"{what} returned None.", "Did you forget to `return` the learning rate?")
        best = _steepest(lrs, losses)
        if isinstance(got, int | np.integer) and not isinstance(got, bool):
            if abs(int(got) - best) <= 1:
                fail(
                    f"{what} returned {int(got)}: a position in the arrays, not a learning rate.",
                    "Look up the learning rate at that position.",
                )
        try:
            value = float(got)
        except (TypeError, ValueError):
            fail(f"{what} returned a {type(got).__name__}, not a number.", "Return one rate.")
        if not np.isfinite(value) or value <= 0:
            fail(f"{what} returned {value!r}, which is no learning rate.", "Return one rate.")
        steps = abs(np.log10(value) - np.log10(lrs[best])) * 10  # 10 rates per decade
        if steps <= 1 + 1e-6:
            continue
        lowest = int(np.argmin(losses))
        per_unit = int(np.argmin(np.gradient(losses[: lowest + 1], lrs[: lowest + 1])))
        known = (
            (
                lowest,
                "that is the rate of the lowest loss, right at the edge of the cliff",
                "The lowest loss is where training is about to become unstable. The steepest "
                "descent lies well to its left, where the loss improves fastest.",
            ),
            (
                int(np.argmax(np.gradient(losses))),
                "that is where the loss rises fastest: the explosion, not the descent",
                "Look for the most negative slope, not the largest.",
            ),
            (
                per_unit,
                "the slope was measured per unit of learning rate",
                "The rates are spaced evenly on a log scale (each one a fixed factor above the "
                "last): measure the fall per step of the sweep, or per unit of log(lr).",
            ),
            (
                int(np.argmin(np.gradient(losses))),
                "that drop comes after the lowest loss, where the loss is already blowing up",
                "Only the curve up to its lowest loss says anything about a good rate: cut the "
                "arrays there before you look for the steepest fall.",
            ),
        )
        for index, problem, hint in known:
            if abs(np.log10(value) - np.log10(lrs[index])) * 10 <= 1 + 1e-6:
                fail(f"{what} returned {value:.2e}: {problem}.", hint)
        fail(
            f"{what} returned {value:.2e}, which is {steps:.0f} steps of the sweep away from the "
            "steepest descent.",
            "Compute the slope between neighbouring points, find where it is most negative "
            "before the lowest loss, and return the learning rate there.",
        )
