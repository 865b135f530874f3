"""Lesson 04 checks: pass on reference answers, stub "not answered yet", mistakes get a hint."""

import numpy as np
import pytest

from course_lib.checks import CheckFailed, l04


def stub(*args, **kwargs):
    raise NotImplementedError("use the formula")


def conv_output_size(size, kernel_size, stride, padding):
    return (size + 2 * padding - kernel_size) // stride + 1


def conv2d_by_hand(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1), np.float32)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


def conv_parameters(in_channels, out_channels, kernel_size, bias):
    return out_channels * in_channels * kernel_size**2 + (out_channels if bias else 0)


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (l04.check_conv_output_size, conv_output_size),
        (l04.check_conv2d_by_hand, conv2d_by_hand),
        (l04.check_conv_parameters, conv_parameters),
        (l04.check_softmax, softmax),
    ],
)
def test_l04_checks_pass_on_solution_and_say_not_answered_on_stub(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="(?s)not answered yet.*Hint: use the formula"):
        checker(stub)


def size_one_sided_padding(size, kernel_size, stride, padding):
    return (size + padding - kernel_size) // stride + 1


def size_true_division(size, kernel_size, stride, padding):
    return (size + 2 * padding - kernel_size) / stride + 1


def size_rounded(size, kernel_size, stride, padding):
    return round((size + 2 * padding - kernel_size) / stride) + 1


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


def params_no_in_channels(in_channels, out_channels, kernel_size, bias):
    return out_channels * kernel_size**2 + out_channels


def params_bias_always(in_channels, out_channels, kernel_size, bias):
    return out_channels * in_channels * kernel_size**2 + out_channels


def softmax_whole_array(logits):
    e = np.exp(logits - logits.max())
    return e / e.sum()


def softmax_unstable(logits):
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def softmax_in_place(logits):
    logits -= logits.max(axis=1, keepdims=True)
    return softmax(logits)


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l04.check_conv_output_size, size_one_sided_padding, "both"),
        (l04.check_conv_output_size, size_true_division, "expected an int"),
        (l04.check_conv_output_size, size_rounded, "Round down"),
        (l04.check_conv2d_by_hand, conv_flipped, "flips the kernel"),
        (l04.check_conv2d_by_hand, conv_same_size, r"shape \(5, 6\)"),
        (l04.check_conv2d_by_hand, conv_square_only, "need not be square"),
        (l04.check_conv2d_by_hand, conv_in_place, "changed its input"),
        (l04.check_conv_parameters, params_no_in_channels, "every input channel"),
        (l04.check_conv_parameters, params_bias_always, "Without bias"),
        (l04.check_softmax, softmax_whole_array, "axis=1"),
        (l04.check_softmax, softmax_unstable, "overflows"),
        (l04.check_softmax, softmax_in_place, "changed its input"),
    ],
)
def test_l04_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}") as error:
        checker(wrong)
    assert "Hint:" in str(error.value)
