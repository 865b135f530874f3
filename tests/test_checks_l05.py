"""Lesson 05 checks: pass on reference answers, stub "not answered yet", mistakes get a hint."""

import pytest

from course_lib.checks import CheckFailed, l05


def stub(*args, **kwargs):
    raise NotImplementedError("sum over the colours")


def rgb_to_grey_weight(weight):
    return weight.sum(dim=1, keepdim=True)


def freeze_all_but_head(model):
    for p in model.parameters():
        p.requires_grad = False
    for p in model.fc.parameters():
        p.requires_grad = True
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def make_param_groups(model, head_lr, backbone_lr):
    head = {id(p) for p in model.fc.parameters()}
    return [
        {"params": model.fc.parameters(), "lr": head_lr},  # a generator: the check copes
        {"params": [p for p in model.parameters() if id(p) not in head], "lr": backbone_lr},
    ]


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (l05.check_rgb_to_grey_weight, rgb_to_grey_weight),
        (l05.check_freeze_all_but_head, freeze_all_but_head),
        (l05.check_make_param_groups, make_param_groups),
    ],
)
def test_l05_checks_pass_on_solution_and_say_not_answered_on_stub(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="(?s)not answered yet.*Hint: sum over the colours"):
        checker(stub)


def grey_mean(weight):
    return weight.mean(dim=1, keepdim=True)


def grey_red_only(weight):
    return weight[:, :1]


def grey_no_keepdim(weight):
    return weight.sum(dim=1)


def grey_numpy(weight):
    return weight.sum(dim=1, keepdim=True).numpy()


def grey_no_return(weight):
    weight.sum(dim=1, keepdim=True)


def freeze_everything(model):
    for p in model.parameters():
        p.requires_grad = False
    return 0


def freeze_only_weights(model):
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("fc") or name.endswith("bias")
    return sum(p.numel() for p in model.fc.parameters())


def freeze_counting_tensors(model):
    freeze_all_but_head(model)
    return sum(1 for p in model.parameters() if p.requires_grad)


def groups_swapped(model, head_lr, backbone_lr):
    return make_param_groups(model, backbone_lr, head_lr)


def groups_forgetting_backbone_biases(model, head_lr, backbone_lr):
    rest = [p for n, p in model.named_parameters() if not n.startswith("fc") and "weight" in n]
    return [
        {"params": list(model.fc.parameters()), "lr": head_lr},
        {"params": rest, "lr": backbone_lr},
    ]


def groups_one(model, head_lr, backbone_lr):
    return [{"params": list(model.parameters()), "lr": head_lr}]


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l05.check_rgb_to_grey_weight, grey_mean, "averages"),
        (l05.check_rgb_to_grey_weight, grey_red_only, "all three channels"),
        (l05.check_rgb_to_grey_weight, grey_no_keepdim, "keepdim=True"),
        (l05.check_rgb_to_grey_weight, grey_numpy, "not a torch.Tensor"),
        (l05.check_rgb_to_grey_weight, grey_no_return, "returned None"),
        (l05.check_freeze_all_but_head, freeze_everything, "head is frozen too"),
        (l05.check_freeze_all_but_head, freeze_only_weights, "still train: conv1.bias"),
        (l05.check_freeze_all_but_head, freeze_counting_tensors, "numel"),
        (l05.check_make_param_groups, groups_swapped, "Swapped"),
        (l05.check_make_param_groups, groups_forgetting_backbone_biases, "exactly one group"),
        (l05.check_make_param_groups, groups_one, "list of two dicts"),
    ],
)
def test_l05_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}") as error:
        checker(wrong)
    assert "Hint:" in str(error.value)
