"""Checks for the lesson 05 exercises: adapting and freezing a pretrained network."""

from __future__ import annotations

import torch
from torch import nn

from course_lib.checks import check, expect, fail


def _rgb_weight() -> torch.Tensor:
    """A fresh ``(4, 3, 3, 3)`` first-layer weight whose R, G and B kernels all differ."""
    generator = torch.Generator().manual_seed(0)
    return torch.randn(4, 3, 3, 3, generator=generator)


@check(
    "rgb_to_grey_weight",
    hint="weight.sum(dim=1, keepdim=True): add the R, G and B kernels of each filter.",
)
def check_rgb_to_grey_weight(rgb_to_grey_weight) -> None:
    """Check ``rgb_to_grey_weight(weight (out, 3, kh, kw)) -> (out, 1, kh, kw)`` (the RGB sum)."""
    weight = _rgb_weight()
    got = rgb_to_grey_weight(weight.clone())
    if got is None:
        fail("rgb_to_grey_weight returned None.", "Did you forget to `return` the result?")
    expect(
        isinstance(got, torch.Tensor),
        f"rgb_to_grey_weight returned a {type(got).__name__}, not a torch.Tensor.",
        "Stay in torch: weight.sum(...) returns a tensor.",
    )
    expect(
        tuple(got.shape) == (4, 1, 3, 3),
        f"rgb_to_grey_weight gave shape {tuple(got.shape)}; expected (4, 1, 3, 3).",
        "Keep the channel axis (keepdim=True): a Conv2d weight is (out, in, kh, kw).",
    )
    summed = weight.sum(dim=1, keepdim=True)
    if torch.allclose(got, summed / 3, atol=1e-5):
        fail(
            "rgb_to_grey_weight averages the colour kernels; the outputs come out 3 times "
            "too small.",
            "A grey slice shown to the network is (g, g, g), so the layer computes "
            "W_r*g + W_g*g + W_b*g = (W_r + W_g + W_b)*g: sum, do not average.",
        )
    expect(
        torch.allclose(got, summed, atol=1e-5),
        "rgb_to_grey_weight gives other values than the sum of the three colour kernels.",
        "Use all three channels (dim=1), not one of them.",
    )
    grey = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    rgb_out = nn.functional.conv2d(grey.repeat(1, 3, 1, 1), weight)
    grey_out = nn.functional.conv2d(grey, got.detach())
    expect(
        torch.allclose(rgb_out, grey_out, atol=1e-4),
        "the adapted weight does not reproduce the RGB layer's output on a grey image.",
    )


class _TinyNet(nn.Module):
    """A stand-in for a torchvision network: convolutions, a batch norm and an ``fc`` head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3)
        self.bn1 = nn.BatchNorm2d(8)
        self.layer1 = nn.Sequential(nn.Conv2d(8, 16, 3), nn.ReLU())
        self.fc = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer1(torch.relu(self.bn1(self.conv1(x))))
        return self.fc(x.mean(dim=(2, 3)))


@check(
    "freeze_all_but_head",
    hint="Set p.requires_grad = False for every parameter, then True for model.fc's; "
    "return sum(p.numel() for p in model.parameters() if p.requires_grad).",
)
def check_freeze_all_but_head(freeze_all_but_head) -> None:
    """Check ``freeze_all_but_head(model) -> int`` (trainable parameters; only ``fc`` trains)."""
    model = _TinyNet()
    got = freeze_all_but_head(model)
    head = {id(p) for p in model.fc.parameters()}
    frozen_head = [n for n, p in model.named_parameters() if id(p) in head and not p.requires_grad]
    expect(
        not frozen_head,
        f"the head is frozen too ({', '.join(frozen_head)}): nothing could learn.",
        "After freezing everything, set requires_grad = True on model.fc.parameters().",
    )
    trainable = [n for n, p in model.named_parameters() if id(p) not in head and p.requires_grad]
    expect(
        not trainable,
        f"these backbone parameters still train: {', '.join(trainable)}.",
        "Loop over model.parameters() (all of them, biases and batch norms included).",
    )
    expected = sum(p.numel() for p in model.fc.parameters())
    expect(
        got == expected,
        f"freeze_all_but_head returned {got!r}; the model has {expected} trainable parameters.",
        "Count elements (p.numel()) of parameters with requires_grad, not the tensors.",
    )
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    model(x).sum().backward()
    expect(
        model.conv1.weight.grad is None and model.fc.weight.grad is not None,
        "after a backward pass, gradients reach the wrong parameters.",
    )


@check(
    "make_param_groups",
    hint="Two dicts: {'params': list(model.fc.parameters()), 'lr': head_lr} and one with every "
    "other parameter and backbone_lr.",
)
def check_make_param_groups(make_param_groups) -> None:
    """Check ``make_param_groups(model, head_lr, backbone_lr) -> list of 2 dicts``."""
    model = _TinyNet()
    groups = make_param_groups(model, 1e-3, 1e-5)
    expect(
        isinstance(groups, list | tuple) and len(groups) == 2,
        f"make_param_groups returned {type(groups).__name__} "
        f"{'of length ' + str(len(groups)) if hasattr(groups, '__len__') else ''}; "
        "expected a list of two dicts.",
        "Return [head_group, backbone_group], each a dict with 'params' and 'lr'.",
    )
    expect(
        all(isinstance(g, dict) and {"params", "lr"} <= set(g) for g in groups),
        "each group must be a dict with the keys 'params' and 'lr'.",
    )
    groups = [{"params": list(g["params"]), "lr": g["lr"]} for g in groups]  # generators, too
    by_lr = {float(g["lr"]): [id(p) for p in g["params"]] for g in groups}
    expect(
        set(by_lr) == {1e-3, 1e-5},
        f"the groups have learning rates {sorted(by_lr)}; expected 1e-3 (head) and 1e-5.",
        "Use the two arguments as they are: head_lr for the head, backbone_lr for the rest.",
    )
    head = {id(p) for p in model.fc.parameters()}
    expect(
        set(by_lr[1e-3]) == head,
        "the head_lr group does not hold exactly the head's parameters (model.fc).",
        "Swapped the learning rates? The new head learns fast, the pretrained backbone slowly.",
    )
    everything = [id(p) for p in model.parameters()]
    listed = by_lr[1e-3] + by_lr[1e-5]
    expect(
        sorted(listed) == sorted(everything),
        f"the groups list {len(listed)} parameter tensors; the model has {len(everything)}, "
        "each must be in exactly one group.",
        "Backbone group: every parameter whose id is not among the head's.",
    )
