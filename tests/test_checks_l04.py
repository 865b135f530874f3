"""Lesson 04 checks: pass on reference answers, stub "not answered yet", mistakes get a hint."""

import itertools
import math

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from scipy.special import logsumexp
from torch import nn
from torch.nn import functional as F

from course_lib.checks import CheckFailed, l04
from course_lib.lessons.inspection import correlate2d


def stub(*args, **kwargs):
    raise NotImplementedError("use the formula")


# --------------------------------------------------------------------------- reference answers


def conv_output_size(size, kernel_size, stride, padding):
    return (size + 2 * padding - kernel_size) // stride + 1


def conv_output_size_floor(size, kernel_size, stride, padding):
    """A correct alternative: true division, then math.floor (an int)."""
    return math.floor((size + 2 * padding - kernel_size) / stride) + 1


def conv2d_by_hand(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1), np.float32)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


def conv2d_windows(image, kernel):
    """A correct alternative: every window at once, then one einsum, cast to float32."""
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel).astype(np.float32)


def conv_parameters(in_channels, out_channels, kernel_size, bias):
    return out_channels * in_channels * kernel_size**2 + (out_channels if bias else 0)


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def softmax_logsumexp(logits):
    """A correct alternative the old check rejected: exp(x - logsumexp(x)) in float32."""
    return np.exp(logits - logsumexp(logits, axis=1, keepdims=True))


def softmax_logsumexp_by_hand(logits):
    """A correct alternative: the log-sum-exp written out, all in float32."""
    top = logits.max(axis=1, keepdims=True)
    lse = top + np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
    return np.exp(logits - lse)


def train_one_epoch(model, loader, optimiser, loss_fn):
    model.train()
    total = 0.0
    for x, y in loader:
        optimiser.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()
        total += loss.item()
    return total / len(loader)


def train_one_epoch_weighted(model, loader, optimiser, loss_fn):
    """A correct alternative: zero_grad after the step, the mean weighted by batch size."""
    model.train()
    total, seen = 0.0, 0
    for x, y in loader:
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()
        model.zero_grad()
        total += float(loss) * len(x)
        seen += len(x)
    return total / seen


class LitClassifier(pl.LightningModule):
    def __init__(self, model, lr=1e-3):
        super().__init__()
        self.save_hyperparameters(ignore=["model"])
        self.model = model
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.model(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.log("train/loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr)


class LitClassifierDict(LitClassifier):
    """A correct alternative: F.cross_entropy, a dict with the loss, and a dict of optimiser."""

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train/loss", loss)
        return {"loss": loss}

    def configure_optimizers(self):
        return {"optimizer": torch.optim.SGD(self.parameters(), lr=self.hparams.lr)}


class LitStub(LitClassifier):
    def training_step(self, batch, batch_idx):
        raise NotImplementedError("use the formula")

    def configure_optimizers(self):
        raise NotImplementedError("use the formula")


def choose_lr(lrs, losses):
    lrs, losses = np.asarray(lrs), np.asarray(losses)
    lowest = int(np.argmin(losses))
    return float(lrs[np.argmin(np.gradient(losses[: lowest + 1]))])


def choose_lr_diff(lrs, losses):
    """A correct alternative: forward differences against log(lr), on plain lists."""
    lowest = losses.index(min(losses))
    slopes = [
        (losses[i + 1] - losses[i]) / (math.log(lrs[i + 1]) - math.log(lrs[i]))
        for i in range(lowest)
    ]
    return lrs[slopes.index(min(slopes)) + 1]


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (l04.check_conv_output_size, conv_output_size),
        (l04.check_conv_output_size, conv_output_size_floor),
        (l04.check_conv2d_by_hand, conv2d_by_hand),
        (l04.check_conv2d_by_hand, conv2d_windows),
        (l04.check_conv2d_by_hand_more, conv2d_by_hand),
        (l04.check_conv2d_by_hand_more, conv2d_windows),
        (l04.check_conv_parameters, conv_parameters),
        (l04.check_softmax, softmax),
        (l04.check_softmax, softmax_logsumexp),
        (l04.check_softmax, softmax_logsumexp_by_hand),
        (l04.check_train_one_epoch, train_one_epoch),
        (l04.check_train_one_epoch, train_one_epoch_weighted),
        (l04.check_lit_classifier, LitClassifier),
        (l04.check_lit_classifier, LitClassifierDict),
        (l04.check_choose_lr, choose_lr),
        (l04.check_choose_lr, choose_lr_diff),
    ],
)
def test_l04_checks_pass_on_solution_and_say_not_answered_on_stub(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="(?s)not answered yet.*Hint: "):
        checker(LitStub if checker is l04.check_lit_classifier else stub)


def test_the_softmax_check_accepts_logsumexp_in_float32_where_1e_6_was_too_tight():
    """The hole: exp(x - logsumexp(x)) in float32 is off by more than 1e-6 for logits near 1000."""
    batch = np.array([[1000.0, 999.0, 0.0, -5.0]], dtype=np.float32)
    exact = torch.softmax(torch.from_numpy(batch).double(), dim=1).numpy()
    assert np.abs(softmax_logsumexp(batch) - exact).max() > 1e-6
    l04.check_softmax(softmax_logsumexp)


def test_the_checks_leave_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    l04.check_train_one_epoch(train_one_epoch)
    l04.check_lit_classifier(LitClassifier)
    l04.check_conv_output_size(conv_output_size)
    l04.check_conv_parameters(conv_parameters)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_each_wrong_output_size_formula_is_told_apart_from_the_right_one_and_the_others():
    right = [conv_output_size(*case) for case in l04._SIZE_CASES]
    rows = [right] + [[f(*case) for case in l04._SIZE_CASES] for f, _, _ in l04._SIZE_MISTAKES]
    for a, b in itertools.combinations(rows, 2):
        assert a != b


def test_the_finder_curves_put_each_typical_wrong_rate_far_from_the_steepest_descent():
    for centre, bounce in ((-3.0, False), (-2.0, True)):
        lrs, losses = l04._finder_curve(centre, bounce=bounce)
        best = l04._steepest(lrs, losses)
        assert abs(np.log10(lrs[best]) - centre) < 0.15
        lowest = int(np.argmin(losses))
        assert lowest - best >= 10
        assert losses[lowest + 1 :].min() > losses[lowest]


# --------------------------------------------------------------------------- output size


def size_one_sided_padding(size, kernel_size, stride, padding):
    return (size + padding - kernel_size) // stride + 1


def size_without_plus_one(size, kernel_size, stride, padding):
    return (size + 2 * padding - kernel_size) // stride


def size_plus_one_inside(size, kernel_size, stride, padding):
    return (size + 2 * padding - kernel_size + 1) // stride


def size_no_padding(size, kernel_size, stride, padding):
    return (size - kernel_size) // stride + 1


def size_no_stride(size, kernel_size, stride, padding):
    return size + 2 * padding - kernel_size + 1


def size_true_division(size, kernel_size, stride, padding):
    return (size + 2 * padding - kernel_size) / stride + 1


def size_rounded(size, kernel_size, stride, padding):
    return round((size + 2 * padding - kernel_size) / stride) + 1


def size_from_library(size, kernel_size, stride, padding):
    from course_lib.lessons import inspection

    return inspection.conv_output_size(size, kernel_size, stride=stride, padding=padding)


# --------------------------------------------------------------------------- convolution


def conv_flipped(image, kernel):
    return conv2d_by_hand(image, kernel[::-1, ::-1])


def conv_same_size(image, kernel):
    padded = np.pad(image, 1)
    return conv2d_by_hand(padded, kernel)


def conv_square_only(image, kernel):
    k = kernel.shape[0]
    out = np.zeros((image.shape[0] - k + 1, image.shape[1] - k + 1), np.float32)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + k, j : j + k] * kernel)
    return out


def conv_in_place(image, kernel):
    result = conv2d_by_hand(image, kernel)
    image[:] = 0
    return result


def conv_float64(image, kernel):
    """The hole: np.zeros' default dtype; the values are right, the dtype is float64."""
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


def conv_shifts_input_in_place(image, kernel):
    """The hole: 'normalises' the input in place (the old check's image had minimum 0)."""
    image -= image.min()
    return conv2d_by_hand(image, kernel)


def conv_flips_kernel_in_place(image, kernel):
    """The hole: flips the caller's kernel in place, then computes the textbook convolution."""
    kernel[:] = kernel[::-1, ::-1].copy()
    return conv2d_by_hand(image, kernel[::-1, ::-1])


def conv_like_input_dtype(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1), dtype=image.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


def conv_from_library(image, kernel):
    return correlate2d(image, kernel)


def conv_with_torch(image, kernel):
    image, kernel = torch.from_numpy(np.asarray(image, np.float32)), torch.from_numpy(kernel)
    return F.conv2d(image[None, None], kernel[None, None])[0, 0].numpy()


# --------------------------------------------------------------------------- parameters


def params_no_in_channels(in_channels, out_channels, kernel_size, bias):
    return out_channels * kernel_size**2 + out_channels


def params_bias_always(in_channels, out_channels, kernel_size, bias):
    return out_channels * in_channels * kernel_size**2 + out_channels


def params_bias_never(in_channels, out_channels, kernel_size, bias):
    return out_channels * in_channels * kernel_size**2


def params_by_building(in_channels, out_channels, kernel_size, bias):
    return sum(p.numel() for p in nn.Conv2d(in_channels, out_channels, kernel_size).parameters())


# --------------------------------------------------------------------------- softmax


def softmax_whole_array(logits):
    e = np.exp(logits - logits.max())
    return e / e.sum()


def softmax_columns(logits):
    e = np.exp(logits - logits.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def softmax_unstable(logits):
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def softmax_in_place(logits):
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def softmax_global_max(logits):
    """The hole: shifted by the batch's largest logit, normalised per row."""
    e = np.exp(logits - logits.max())
    return e / e.sum(axis=1, keepdims=True)


def softmax_global_max_guarded(logits):
    """The same mistake with a guard against 0 / 0: the small rows come out as zeros."""
    e = np.exp(logits - logits.max())
    return e / (e.sum(axis=1, keepdims=True) + 1e-12)


def softmax_torch(logits):
    return torch.softmax(torch.from_numpy(logits), dim=1).numpy()


# --------------------------------------------------------------------------- the training loop


def loop_without_zero_grad(model, loader, optimiser, loss_fn):
    """The hole: gradients pile up over the epoch."""
    model.train()
    total = 0.0
    for x, y in loader:
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()
        total += loss.item()
    return total / len(loader)


def loop_without_train_mode(model, loader, optimiser, loss_fn):
    """The hole: the model stays in whatever mode it was in (eval after a validation pass)."""
    total = 0.0
    for x, y in loader:
        optimiser.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()
        total += loss.item()
    return total / len(loader)


def loop_summing(model, loader, optimiser, loss_fn):
    """The hole: the sum of the batch losses, not their mean."""
    model.train()
    total = 0.0
    for x, y in loader:
        optimiser.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()
        total += loss.item()
    return total


def loop_last_loss(model, loader, optimiser, loss_fn):
    model.train()
    for x, y in loader:
        optimiser.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()
    return loss.item()


def loop_per_image(model, loader, optimiser, loss_fn):
    model.train()
    total = 0.0
    for x, y in loader:
        optimiser.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()
        total += loss.item()
    return total / len(loader.dataset)


def loop_keeps_graph(model, loader, optimiser, loss_fn):
    model.train()
    total = 0.0
    for x, y in loader:
        optimiser.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()
        total = total + loss
    return total / len(loader)


def loop_zero_grad_before_step(model, loader, optimiser, loss_fn):
    model.train()
    total = 0.0
    for x, y in loader:
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.zero_grad()
        optimiser.step()
        total += loss.item()
    return total / len(loader)


def loop_one_batch(model, loader, optimiser, loss_fn):
    model.train()
    for x, y in loader:
        optimiser.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()
        return loss.item()


# --------------------------------------------------------------------------- Lightning


class LitManualBackward(LitClassifier):
    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        loss.backward()
        self.log("train/loss", loss)
        return loss


class LitFixedLr(LitClassifier):
    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


class LitReturnsNumber(LitClassifier):
    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.log("train/loss", loss)
        return loss.item()


class LitReturnsNothing(LitClassifier):
    def training_step(self, batch, batch_idx):
        x, y = batch
        self.log("train/loss", self.loss_fn(self(x), y))


class LitLogsNothing(LitClassifier):
    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.loss_fn(self(x), y)


class LitHeadOnly(LitClassifier):
    def configure_optimizers(self):
        return torch.optim.AdamW(self.model[-1].parameters(), lr=self.hparams.lr)


class LitReturnsClass(LitClassifier):
    def configure_optimizers(self):
        return torch.optim.AdamW


class LitAccuracy(LitClassifier):
    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("train/loss", self.loss_fn(logits, y))
        return (logits.argmax(dim=1) == y).float().mean() + 0 * logits.sum()


# --------------------------------------------------------------------------- the LR finder


def lr_of_lowest_loss(lrs, losses):
    return lrs[int(np.argmin(losses))]


def lr_index(lrs, losses):
    lowest = int(np.argmin(losses))
    return int(np.argmin(np.gradient(np.asarray(losses[: lowest + 1]))))


def lr_slope_per_unit(lrs, losses):
    lrs, losses = np.asarray(lrs), np.asarray(losses)
    lowest = int(np.argmin(losses))
    return lrs[np.argmin(np.gradient(losses[: lowest + 1], lrs[: lowest + 1]))]


def lr_whole_curve(lrs, losses):
    return lrs[int(np.argmin(np.gradient(np.asarray(losses))))]


def lr_steepest_ascent(lrs, losses):
    return lrs[int(np.argmax(np.gradient(np.asarray(losses))))]


def lr_from_lightning(lrs, losses):
    from pytorch_lightning.tuner.lr_finder import _LRFinder

    finder = _LRFinder("exponential", lrs[0], lrs[-1], len(lrs))
    finder.results = {"lr": lrs, "loss": losses}
    return finder.suggestion()


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l04.check_conv_output_size, size_without_plus_one, r"\+1 is missing"),
        (l04.check_conv_output_size, size_one_sided_padding, "one side only"),
        (l04.check_conv_output_size, size_plus_one_inside, r"\+1 sits inside the division"),
        (l04.check_conv_output_size, size_no_padding, "padding is ignored"),
        (l04.check_conv_output_size, size_no_stride, "stride is ignored"),
        (l04.check_conv_output_size, size_true_division, "expected an int"),
        (l04.check_conv_output_size, size_rounded, "rounds up"),
        (l04.check_conv_output_size, size_from_library, "calls conv_output_size from course_lib"),
        (l04.check_conv2d_by_hand, conv_flipped, "flipped"),
        (l04.check_conv2d_by_hand, conv_same_size, r"shape \(5, 6\)"),
        (l04.check_conv2d_by_hand, conv_square_only, "need not be square"),
        (l04.check_conv2d_by_hand, conv_in_place, "changed its input image"),
        (l04.check_conv2d_by_hand, conv_float64, "dtype float64; expected float32"),
        (l04.check_conv2d_by_hand, conv_shifts_input_in_place, "changed its input image"),
        (l04.check_conv2d_by_hand, conv_flips_kernel_in_place, "changed the kernel"),
        (l04.check_conv2d_by_hand, conv_from_library, "calls correlate2d from course_lib"),
        (l04.check_conv2d_by_hand, conv_with_torch, "calls a library's conv2d"),
        (l04.check_conv2d_by_hand_more, conv_like_input_dtype, "returned uint8"),
        (l04.check_conv2d_by_hand_more, conv_float64, "dtype float64; expected float32"),
        (l04.check_conv_parameters, params_no_in_channels, "every input channel"),
        (l04.check_conv_parameters, params_bias_always, "weights only"),
        (l04.check_conv_parameters, params_bias_never, "one bias"),
        (l04.check_conv_parameters, params_by_building, "builds a layer"),
        (l04.check_softmax, softmax_whole_array, "whole array sums to 1, not each row"),
        (l04.check_softmax, softmax_columns, "each column sums to 1"),
        (l04.check_softmax, softmax_unstable, "overflows"),
        (l04.check_softmax, softmax_in_place, "changed its input"),
        (l04.check_softmax, softmax_global_max, "maximum of the whole batch instead of each row"),
        (l04.check_softmax, softmax_global_max_guarded, "instead of each row's maximum"),
        (l04.check_softmax, softmax_torch, "calls a library's softmax"),
        (l04.check_train_one_epoch, loop_without_zero_grad, "never reset"),
        (l04.check_train_one_epoch, loop_without_train_mode, "stayed in evaluation mode"),
        (l04.check_train_one_epoch, loop_summing, "sum of the batch losses, not their mean"),
        (l04.check_train_one_epoch, loop_last_loss, "last batch only"),
        (l04.check_train_one_epoch, loop_per_image, "divided by the number of images"),
        (l04.check_train_one_epoch, loop_keeps_graph, "gradient graph"),
        (l04.check_train_one_epoch, loop_zero_grad_before_step, "left the weights as they were"),
        (l04.check_train_one_epoch, loop_one_batch, "on 1 of the loader's 4 batches"),
        (l04.check_lit_classifier, LitManualBackward, "calls backward itself"),
        (l04.check_lit_classifier, LitFixedLr, "learning rate"),
        (l04.check_lit_classifier, LitReturnsNumber, "not a tensor"),
        (l04.check_lit_classifier, LitReturnsNothing, "returned None"),
        (l04.check_lit_classifier, LitLogsNothing, "train/loss"),
        (l04.check_lit_classifier, LitHeadOnly, "trains 2 of the module's"),
        (l04.check_lit_classifier, LitReturnsClass, "the class AdamW"),
        (l04.check_lit_classifier, LitAccuracy, "not the batch's cross-entropy"),
        (l04.check_choose_lr, lr_of_lowest_loss, "lowest loss"),
        (l04.check_choose_lr, lr_index, "a position in the arrays"),
        (l04.check_choose_lr, lr_slope_per_unit, "per unit of learning rate"),
        (l04.check_choose_lr, lr_whole_curve, "after the lowest loss"),
        (l04.check_choose_lr, lr_steepest_ascent, "rises fastest"),
        (l04.check_choose_lr, lr_from_lightning, "calls Lightning's suggestion"),
    ],
)
def test_l04_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}") as error:
        checker(wrong)
    assert "Hint:" in str(error.value)
    assert "np.float" not in str(error.value) and "np.int" not in str(error.value)
