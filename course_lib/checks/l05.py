"""Checks for the lesson 05 exercises: adapting, freezing and fairly comparing a pretrained network.

The checks use a tiny stand-in for a torchvision network (:class:`_TinyNet`: convolutions, a batch
norm and an ``fc`` head), so they run in milliseconds; nothing here trains.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.checks import check, expect, expect_own_code, fail


def _rgb_weight() -> torch.Tensor:
    """A fresh ``(4, 3, 3, 3)`` first-layer weight whose R, G and B kernels all differ."""
    generator = torch.Generator().manual_seed(0)
    return torch.randn(4, 3, 3, 3, generator=generator)


# --------------------------------------------------------------------------- rgb_to_grey_weight


@check(
    "rgb_to_grey_weight",
    hint="What does the RGB layer compute when all three channels hold the same grey image?",
)
def check_rgb_to_grey_weight(rgb_to_grey_weight) -> None:
    """Check ``rgb_to_grey_weight(weight (out, 3, kh, kw)) -> (out, 1, kh, kw)`` (the RGB sum)."""
    expect_own_code(rgb_to_grey_weight, "adapt_first_conv", exercise="rgb_to_grey_weight")
    weight, given = _rgb_weight(), _rgb_weight()
    got = rgb_to_grey_weight(given)
    if got is None:
        fail("rgb_to_grey_weight returned None.", "Did you forget to `return` the result?")
    expect(
        isinstance(got, torch.Tensor),
        f"rgb_to_grey_weight returned a {type(got).__name__}, not a torch.Tensor.",
        "Stay in torch: a layer's weight is a tensor, and torch's reductions return tensors.",
    )
    shape = tuple(got.shape)
    if shape == (1, 3, 3, 3):
        fail(
            f"rgb_to_grey_weight combined the filters (axis 0), not the colours: shape {shape}.",
            "A Conv2d weight is (out, in, kh, kw); the colours are the `in` axis.",
        )
    if shape == (4, 3, 3):
        fail(
            f"rgb_to_grey_weight dropped the channel axis: shape {shape}.",
            "A Conv2d weight is (out, in, kh, kw): a one-channel layer still has the `in` axis, "
            "of length 1.",
        )
    expect(
        shape == (4, 1, 3, 3),
        f"rgb_to_grey_weight gave shape {shape}; expected (4, 1, 3, 3) for a (4, 3, 3, 3) weight.",
        "One kernel per filter, for one input channel.",
    )
    summed = weight.sum(dim=1, keepdim=True)
    if torch.allclose(got, summed / 3, atol=1e-5):
        fail(
            "rgb_to_grey_weight averages the colour kernels; the outputs come out 3 times "
            "too small.",
            "A grey slice shown to the network is (g, g, g), so the layer computes "
            "W_r*g + W_g*g + W_b*g. Which single kernel gives that on g alone?",
        )
    for colour, index in (("red", 0), ("green", 1), ("blue", 2)):
        if torch.allclose(got, weight[:, index : index + 1], atol=1e-5):
            fail(
                f"rgb_to_grey_weight keeps only the {colour} kernel; two thirds of what each "
                "filter learned are lost.",
                "A grey image feeds all three colour channels: use all three kernels.",
            )
    expect(
        torch.allclose(got, summed, atol=1e-5),
        "rgb_to_grey_weight gives other values than the layer needs on a grey image.",
        "Write out what the RGB layer computes on (g, g, g), and read the kernel off it.",
    )
    expect(
        torch.equal(given, weight),
        "rgb_to_grey_weight changed the weight it was given.",
        "Compute a new tensor; leave the pretrained layer as it is.",
    )
    grey = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    rgb_out = nn.functional.conv2d(grey.repeat(1, 3, 1, 1), weight)
    grey_out = nn.functional.conv2d(grey, got.detach())
    expect(
        torch.allclose(rgb_out, grey_out, atol=1e-4),
        "the adapted weight does not reproduce the RGB layer's output on a grey image.",
    )


# --------------------------------------------------------------------------- tiny network


class _TinyNet(nn.Module):
    """A stand-in for a torchvision network: convolutions, a batch norm and an ``fc`` head."""

    def __init__(self, features: int = 16, num_classes: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3)
        self.bn1 = nn.BatchNorm2d(8)
        self.layer1 = nn.Sequential(nn.Conv2d(8, features, 3), nn.ReLU())
        self.fc = nn.Linear(features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer1(torch.relu(self.bn1(self.conv1(x))))
        return self.fc(x.mean(dim=(2, 3)))


def _x() -> torch.Tensor:
    return torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))


# --------------------------------------------------------------------------- replace_head


@check(
    "replace_head",
    hint="What must the new last layer have in common with the old one, and what not?",
)
def check_replace_head(replace_head) -> None:
    """Check ``replace_head(model, num_classes) -> model`` whose ``fc`` is a new linear layer."""
    expect_own_code(replace_head, "build_backbone", exercise="replace_head")
    for features, old_classes, new_classes in ((16, 1000, 4), (24, 4, 3)):
        with torch.random.fork_rng(devices=[]):  # the notebook's random state stays as it was
            torch.manual_seed(0)
            model = _TinyNet(features, old_classes)
        old_head, conv = model.fc, model.conv1.weight.detach().clone()
        got = replace_head(model, new_classes)
        if isinstance(got, nn.Linear):
            fail(
                "replace_head returned the new layer, not the model.",
                "Put the new layer where the old head was, then return the model.",
            )
        if got is None:
            fail(
                "replace_head returned None.",
                "Return the model (changed in place), so that it can be used at once.",
            )
        expect(
            got is model,
            f"replace_head returned a {type(got).__name__}, not the model it was given.",
            "Change the model in place and return it.",
        )
        head = model.fc
        if head is old_head:
            fail(
                "model.fc is still the old head.",
                "Assign the new layer to the model's `fc` attribute.",
            )
        if isinstance(head, nn.Sequential) and any(m is old_head for m in head):
            fail(
                f"the new head keeps the old {old_classes}-way layer and stacks a new one on it.",
                f"Replace the old head: its {old_classes} outputs answered another task's "
                "questions.",
            )
        expect(
            isinstance(head, nn.Linear),
            f"model.fc is a {type(head).__name__}, not one linear layer.",
            "The head of a torchvision classifier is one linear layer.",
        )
        if head.in_features == new_classes and head.out_features == features:
            fail(
                "the new head has its inputs and outputs the wrong way round.",
                "A linear layer takes the number of inputs first, then the number of outputs.",
            )
        if head.in_features != features:
            fail(
                f"the new head takes {head.in_features} inputs; the backbone gives {features} "
                "features.",
                "Read the number of inputs off the old head instead of writing a number in "
                "(resnet18 has 512, other networks have others).",
            )
        expect(
            head.out_features == new_classes,
            f"the new head has {head.out_features} outputs; asked for {new_classes}.",
            "Use num_classes, not a fixed number.",
        )
        expect(
            head.bias is not None,
            "the new head has no bias.",
            "Keep the bias, as the old head had one.",
        )
        if old_head.out_features >= new_classes and torch.allclose(
            head.weight.detach(), old_head.weight.detach()[:new_classes]
        ):
            fail(
                "the new head copies the first rows of the old head's weights.",
                "The old rows belong to the old classes; a new task's head starts from new, "
                "random weights.",
            )
        expect(
            torch.equal(model.conv1.weight.detach(), conv),
            "replace_head changed the backbone too.",
            "Only the last layer changes.",
        )
        out = model(_x())
        expect(
            tuple(out.shape) == (2, new_classes),
            f"the model now gives outputs of shape {tuple(out.shape)}; expected "
            f"(2, {new_classes}).",
        )


# --------------------------------------------------------------------------- freeze_all_but_head


@check(
    "freeze_all_but_head",
    hint="Which flag of a parameter decides whether it gets a gradient? Everything off, then the "
    "head back on; count numbers, not tensors.",
)
def check_freeze_all_but_head(freeze_all_but_head) -> None:
    """Check ``freeze_all_but_head(model) -> int`` (trainable parameters; only ``fc`` trains)."""
    expect_own_code(
        freeze_all_but_head, "count_parameters", "freeze_backbone", exercise="freeze_all_but_head"
    )
    model = _TinyNet()
    got = freeze_all_but_head(model)
    head = {id(p) for p in model.fc.parameters()}
    frozen_head = [n for n, p in model.named_parameters() if id(p) in head and not p.requires_grad]
    if frozen_head and "requires_grad" in vars(model.fc):
        fail(
            "the head is frozen too: setting requires_grad on a module (model.fc) changes "
            "nothing, the flag belongs to each parameter.",
            "Set it on each of the head's parameters, or use the module's method that sets it "
            "for all of them.",
        )
    expect(
        not frozen_head,
        f"the head is frozen too ({', '.join(frozen_head)}): nothing could learn.",
        "After freezing everything, switch the head's parameters back on.",
    )
    trainable = [n for n, p in model.named_parameters() if id(p) not in head and p.requires_grad]
    expect(
        not trainable,
        f"these backbone parameters still train: {', '.join(trainable)}.",
        "Go through all the model's parameters: biases and batch norms are parameters too.",
    )
    expected = sum(p.numel() for p in model.fc.parameters())
    total = sum(p.numel() for p in model.parameters())
    if got == total:
        fail(
            f"freeze_all_but_head returned {got}, every parameter of the model; only "
            "those that still train count.",
            "Count the parameters whose flag is on.",
        )
    if got == len(head):
        fail(
            f"freeze_all_but_head returned {got}: it counts parameter tensors, not the numbers "
            "in them.",
            "Each tensor holds many numbers; a tensor can tell you how many.",
        )
    expect(
        got == expected,
        f"freeze_all_but_head returned {got!r}, not the number of parameters that train.",
        "Add up the sizes of the parameters that still train.",
    )
    model(_x()).sum().backward()
    expect(
        model.conv1.weight.grad is None and model.fc.weight.grad is not None,
        "after a backward pass, gradients reach the wrong parameters.",
    )


# --------------------------------------------------------------------------- make_param_groups


@check(
    "make_param_groups",
    hint="A list of two dicts, each with its parameters and its learning rate; every parameter "
    "in exactly one of them.",
)
def check_make_param_groups(make_param_groups) -> None:
    """Check ``make_param_groups(model, head_lr, backbone_lr) -> list of 2 dicts``."""
    model = _TinyNet()
    try:
        groups = make_param_groups(model, 1e-3, 1e-5)
    except RuntimeError as error:
        if "ambiguous" in str(error) or "must match the size" in str(error):
            fail(
                "make_param_groups compares parameters with `in` or `==`, which compares the "
                "values of two tensors element by element.",
                "Tell parameters apart by identity, not by value: Python's id() of an object, "
                "or the parameters' names.",
            )
        raise
    expect(
        isinstance(groups, list | tuple) and len(groups) == 2,
        f"make_param_groups returned {type(groups).__name__} "
        f"{'of length ' + str(len(groups)) if hasattr(groups, '__len__') else ''}; "
        "expected a list of two dicts.",
        "One group for the head, one for the rest, each a dict with 'params' and 'lr'.",
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
    if set(by_lr[1e-5]) == head:
        fail(
            "the head's parameters got backbone_lr and the backbone's head_lr: the learning "
            "rates are swapped.",
            "The new head learns fast; the pretrained backbone slowly, so as not to wipe out "
            "what it knows.",
        )
    expect(
        set(by_lr[1e-3]) == head,
        "the head_lr group does not hold exactly the head's parameters (model.fc).",
        "The first group is the head's parameters and nothing else.",
    )
    both = set(by_lr[1e-3]) & set(by_lr[1e-5])
    expect(
        not both,
        f"{len(both)} parameter tensors are in both groups; torch refuses that.",
        "The backbone group is every parameter that is not in the head.",
    )
    everything = [id(p) for p in model.parameters()]
    listed = by_lr[1e-3] + by_lr[1e-5]
    expect(
        sorted(listed) == sorted(everything),
        f"the groups list {len(listed)} parameter tensors; the model has {len(everything)}, "
        "each must be in exactly one group.",
        "The backbone group is every parameter that is not in the head: biases and batch "
        "norms included.",
    )
    torch.optim.AdamW(groups)  # torch accepts them


# --------------------------------------------------------------------------- build_contenders

#: The three strategies of the lesson, as build_contenders names them.
_STRATEGIES = ("from scratch", "frozen", "fine-tuned")


def _pretrained_state() -> dict[str, torch.Tensor]:
    """Weights of a 'pretrained' _TinyNet: other weights than any fresh one, and its own head.

    Its batch-norm statistics are not the fresh ones (0 and 1), as after real pretraining.
    """
    generator = torch.Generator().manual_seed(123)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        model = _TinyNet()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for key, value in state.items():
        if value.is_floating_point():
            state[key] = value + torch.randn(value.shape, generator=generator)
    state["bn1.running_var"] = state["bn1.running_var"].abs() + 0.5
    return state


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.detach().float(), b.detach().float())


def _models(got, what: str) -> dict:
    if got is None:
        fail(f"{what} returned None.", "Return a dict: strategy name -> model.")
    expect(
        isinstance(got, dict),
        f"{what} returned a {type(got).__name__}, not a dict of models.",
        "Return a dict: strategy name -> model.",
    )
    expect(
        set(got) == set(_STRATEGIES),
        f"{what} returned the keys {sorted(got)}; expected {list(_STRATEGIES)}.",
        "One model per strategy, named as in the lesson.",
    )
    expect(
        all(isinstance(m, nn.Module) for m in got.values()),
        f"{what} must map each strategy to a model (an nn.Module).",
    )
    return got


@check(
    "build_contenders",
    hint="Fair means: the same start wherever the strategies do not differ. What must every "
    "model share, and what does each strategy change?",
)
def check_build_contenders(build_contenders) -> None:
    """Check ``build_contenders(make_model, pretrained_state, seed) -> {strategy: model}``.

    The check seeds torch's generator itself; it runs in a fork of it, so that the notebook's
    random state is the same afterwards.
    """
    with torch.random.fork_rng(devices=[]):
        _check_build_contenders(build_contenders)


def _check_build_contenders(build_contenders) -> None:
    expect_own_code(
        build_contenders,
        "load_backbone_weights",
        "compare_transfer",
        "_build_classifier",
        exercise="build_contenders",
    )
    state = _pretrained_state()
    keys = sorted(state)
    torch.manual_seed(999)  # whatever the global state was before, the answer must not depend on it
    got = _models(build_contenders(_TinyNet, state, 7), "build_contenders")
    expect(
        sorted(state) == keys and all(_same(state[k], _pretrained_state()[k]) for k in keys),
        "build_contenders changed the pretrained_state it was given.",
        "Make a new dict with the entries you want; leave the caller's weights alone.",
    )
    ids = {id(m) for m in got.values()}
    expect(
        len(ids) == 3,
        "two strategies share one model object: training one would train the other.",
        "Build a new model for each strategy.",
    )
    scratch, frozen, tuned = (got[name] for name in _STRATEGIES)
    torch.manual_seed(7)
    fresh = _TinyNet()
    backbone = [k for k in keys if not k.startswith("fc.")]

    # the new head: the same, fresh, seeded one for every strategy
    for name, model in got.items():
        if _same(model.fc.weight, state["fc.weight"]):
            fail(
                f"the {name!r} model starts from the pretrained head.",
                "The pretraining head answered the pretraining task: every strategy gets a "
                "new head, so leave the head's entries out when you load the weights.",
            )
    heads = [m.fc.weight for m in (scratch, frozen, tuned)]
    if not (_same(heads[0], heads[1]) and _same(heads[1], heads[2])):
        torch.manual_seed(1000)  # another global state: an unseeded answer draws other heads
        again = _models(build_contenders(_TinyNet, state, 7), "build_contenders")
        if _same(again["from scratch"].fc.weight, scratch.fc.weight):
            fail(
                "the three models start from different random heads: seeding once, before "
                "building all three, gives each model a different draw.",
                "Seed the random generator right before building each model, with the same seed.",
            )
        fail(
            "the three models start from different random heads, and another call gives "
            "others again: the random generator is not seeded.",
            "Seed torch's generator with `seed` before building each model, so that the new "
            "heads are the same for every strategy.",
        )
    expect(
        _same(scratch.fc.weight, fresh.fc.weight),
        "the new heads are not the ones a model built right after seeding with `seed` has.",
        "Seed with the `seed` argument just before each model is built.",
    )

    # the backbones
    if all(_same(scratch.state_dict()[k], state[k]) for k in backbone):
        fail(
            "the 'from scratch' model starts from the pretrained weights.",
            "From scratch is the baseline: random weights everywhere, as the model is built.",
        )
    expect(
        all(_same(scratch.state_dict()[k], fresh.state_dict()[k]) for k in backbone),
        "the 'from scratch' model's backbone is not the one a freshly built, seeded model has.",
        "Build it after seeding, and load nothing into it.",
    )
    for name, model in (("frozen", frozen), ("fine-tuned", tuned)):
        mine = model.state_dict()
        params = {n for n, _ in model.named_parameters()}
        wrong = [k for k in backbone if not _same(mine[k], state[k])]
        if wrong and all(k not in params for k in wrong):
            fail(
                f"the {name!r} model has the pretrained weights but not the pretrained "
                f"batch-norm statistics ({', '.join(wrong)}).",
                "The running statistics are buffers, not parameters: load from the state dict, "
                "which holds both.",
            )
        expect(
            not wrong,
            f"the {name!r} model's backbone does not hold the pretrained weights "
            f"({', '.join(wrong[:3])}{', ...' if len(wrong) > 3 else ''}).",
            "Load every pretrained entry except the head's.",
        )

    # what trains
    def trains(model) -> dict[str, bool]:
        return {n: p.requires_grad for n, p in model.named_parameters()}

    for name, model in (("from scratch", scratch), ("fine-tuned", tuned)):
        stuck = [n for n, on in trains(model).items() if not on]
        expect(
            not stuck,
            f"the {name!r} model has frozen parameters ({', '.join(stuck)}).",
            "Only the frozen strategy freezes anything; the others train every weight.",
        )
    flags = trains(frozen)
    if all(flags.values()):
        fail(
            "the 'frozen' model's backbone still trains.",
            "Freeze every parameter of the backbone (exercise 3 did this).",
        )
    expect(
        all(on for n, on in flags.items() if n.startswith("fc.")),
        "the 'frozen' model's head is frozen too: nothing could learn.",
        "Freeze all but the head.",
    )
    expect(
        not any(on for n, on in flags.items() if not n.startswith("fc.")),
        "some of the 'frozen' model's backbone parameters still train: "
        f"{', '.join(n for n, on in flags.items() if on and not n.startswith('fc.'))}.",
        "Freeze every parameter outside the head, biases and batch norms included.",
    )
