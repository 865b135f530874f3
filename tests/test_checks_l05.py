"""Lesson 05 checks: pass on reference answers, stub "not answered yet", mistakes get a hint."""

import copy

import pytest
import torch
from torch import nn

from course_lib.checks import CheckFailed, l05
from course_lib.lessons.inspection import count_parameters
from course_lib.models import adapt_first_conv


def stub(*args, **kwargs):
    raise NotImplementedError("sum over the colours")


def rgb_to_grey_weight(weight):
    return weight.sum(dim=1, keepdim=True)


def rgb_to_grey_weight_by_hand(weight):
    """A correct alternative: the three kernels added one by one."""
    return weight[:, 0:1] + weight[:, 1:2] + weight[:, 2:3]


def replace_head(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def freeze_all_but_head(model):
    for p in model.parameters():
        p.requires_grad = False
    for p in model.fc.parameters():
        p.requires_grad = True
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def freeze_all_but_head_with_module_methods(model):
    """A correct alternative: the modules' requires_grad_ and names to find the head."""
    model.requires_grad_(False)
    model.fc.requires_grad_(True)
    return sum(p.numel() for n, p in model.named_parameters() if n.startswith("fc."))


def make_param_groups(model, head_lr, backbone_lr):
    head = {id(p) for p in model.fc.parameters()}
    return [
        {"params": model.fc.parameters(), "lr": head_lr},  # a generator: the check copes
        {"params": [p for p in model.parameters() if id(p) not in head], "lr": backbone_lr},
    ]


def make_param_groups_by_name(model, head_lr, backbone_lr):
    """A correct alternative: the backbone group first, found by the parameters' names."""
    rest = [p for n, p in model.named_parameters() if not n.startswith("fc.")]
    return ({"params": rest, "lr": backbone_lr}, {"params": model.fc.parameters(), "lr": head_lr})


def build_contenders(make_model, pretrained_state, seed):
    backbone_state = {k: v for k, v in pretrained_state.items() if not k.startswith("fc.")}
    models = {}
    for name in ("from scratch", "frozen", "fine-tuned"):
        torch.manual_seed(seed)
        model = make_model()
        if name != "from scratch":
            model.load_state_dict(backbone_state, strict=False)
        if name == "frozen":
            freeze_all_but_head(model)
        models[name] = model
    return models


def build_contenders_by_copying(make_model, pretrained_state, seed):
    """A correct alternative: one seeded model, copied; weights copied in without a state dict."""
    torch.manual_seed(seed)
    base = make_model()
    scratch, frozen, tuned = base, copy.deepcopy(base), copy.deepcopy(base)
    for model in (frozen, tuned):
        with torch.no_grad():
            for key, value in model.state_dict().items():
                if not key.startswith("fc."):
                    value.copy_(pretrained_state[key])
    frozen.requires_grad_(False)
    frozen.fc.requires_grad_(True)
    return {"from scratch": scratch, "frozen": frozen, "fine-tuned": tuned}


@pytest.mark.parametrize(
    ("checker", "answer"),
    [
        (l05.check_rgb_to_grey_weight, rgb_to_grey_weight),
        (l05.check_rgb_to_grey_weight, rgb_to_grey_weight_by_hand),
        (l05.check_replace_head, replace_head),
        (l05.check_freeze_all_but_head, freeze_all_but_head),
        (l05.check_freeze_all_but_head, freeze_all_but_head_with_module_methods),
        (l05.check_make_param_groups, make_param_groups),
        (l05.check_make_param_groups, make_param_groups_by_name),
        (l05.check_build_contenders, build_contenders),
        (l05.check_build_contenders, build_contenders_by_copying),
    ],
)
def test_l05_checks_pass_on_solution_and_say_not_answered_on_stub(checker, answer, capsys):
    checker(answer)
    assert "[PASS]" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="(?s)not answered yet.*Hint: "):
        checker(stub)


def test_the_reference_grey_weight_is_the_librarys():
    conv = nn.Conv2d(3, 4, 3)
    ours = rgb_to_grey_weight(conv.weight.detach())
    assert torch.equal(ours, adapt_first_conv(conv, 1).weight.detach())


def test_the_stand_in_pretrained_weights_differ_from_a_fresh_network_everywhere():
    state, fresh = l05._pretrained_state(), l05._TinyNet().state_dict()
    floats = [k for k, v in fresh.items() if v.is_floating_point()]
    assert all(not torch.allclose(state[k], fresh[k]) for k in floats)


def grey_mean(weight):
    return weight.mean(dim=1, keepdim=True)


def grey_red_only(weight):
    return weight[:, :1]


def grey_blue_only(weight):
    return weight[:, 2:3]


def grey_no_keepdim(weight):
    return weight.sum(dim=1)


def grey_over_filters(weight):
    return weight.sum(dim=0, keepdim=True)


def grey_numpy(weight):
    return weight.sum(dim=1, keepdim=True).numpy()


def grey_no_return(weight):
    weight.sum(dim=1, keepdim=True)


def grey_in_place(weight):
    weight[:, :1] += weight[:, 1:2] + weight[:, 2:3]
    return weight[:, :1].clone()


def grey_from_the_library(weight):
    conv = nn.Conv2d(3, weight.shape[0], weight.shape[2:])
    conv.weight.data = weight
    return adapt_first_conv(conv, 1).weight.detach()


def head_not_assigned(model, num_classes):
    return nn.Linear(model.fc.in_features, num_classes)


def head_returns_none(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)


def head_hard_coded_inputs(model, num_classes):
    model.fc = nn.Linear(512, num_classes)
    return model


def head_swapped(model, num_classes):
    model.fc = nn.Linear(num_classes, model.fc.in_features)
    return model


def head_stacked(model, num_classes):
    model.fc = nn.Sequential(model.fc, nn.Linear(model.fc.out_features, num_classes))
    return model


def head_four_classes(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, 4)
    return model


def head_without_bias(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes, bias=False)
    return model


def head_copying_old_rows(model, num_classes):
    new = nn.Linear(model.fc.in_features, num_classes)
    with torch.no_grad():
        new.weight.copy_(model.fc.weight[:num_classes])
        new.bias.copy_(model.fc.bias[:num_classes])
    model.fc = new
    return model


def freeze_everything(model):
    for p in model.parameters():
        p.requires_grad = False
    return 0


def freeze_head_attribute(model):
    for p in model.parameters():
        p.requires_grad = False
    model.fc.requires_grad = True
    return 68


def freeze_only_weights(model):
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("fc") or name.endswith("bias")
    return sum(p.numel() for p in model.fc.parameters())


def freeze_counting_tensors(model):
    freeze_all_but_head(model)
    return sum(1 for p in model.parameters() if p.requires_grad)


def freeze_counting_everything(model):
    freeze_all_but_head(model)
    return sum(p.numel() for p in model.parameters())


def freeze_with_the_library(model):
    freeze_all_but_head(model)
    return count_parameters(model, trainable_only=True)


def groups_swapped(model, head_lr, backbone_lr):
    return make_param_groups(model, backbone_lr, head_lr)


def groups_forgetting_backbone_biases(model, head_lr, backbone_lr):
    rest = [p for n, p in model.named_parameters() if not n.startswith("fc") and "weight" in n]
    return [
        {"params": list(model.fc.parameters()), "lr": head_lr},
        {"params": rest, "lr": backbone_lr},
    ]


def groups_head_twice(model, head_lr, backbone_lr):
    return [
        {"params": list(model.fc.parameters()), "lr": head_lr},
        {"params": list(model.parameters()), "lr": backbone_lr},
    ]


def groups_by_value(model, head_lr, backbone_lr):
    head = list(model.fc.parameters())
    return [
        {"params": head, "lr": head_lr},
        {"params": [p for p in model.parameters() if p not in head], "lr": backbone_lr},
    ]


def groups_one(model, head_lr, backbone_lr):
    return [{"params": list(model.parameters()), "lr": head_lr}]


def contenders_seeded_once(make_model, pretrained_state, seed):
    torch.manual_seed(seed)
    backbone_state = {k: v for k, v in pretrained_state.items() if not k.startswith("fc.")}
    models = {name: make_model() for name in ("from scratch", "frozen", "fine-tuned")}
    for name in ("frozen", "fine-tuned"):
        models[name].load_state_dict(backbone_state, strict=False)
    freeze_all_but_head(models["frozen"])
    return models


def contenders_unseeded(make_model, pretrained_state, seed):
    backbone_state = {k: v for k, v in pretrained_state.items() if not k.startswith("fc.")}
    models = {name: make_model() for name in ("from scratch", "frozen", "fine-tuned")}
    for name in ("frozen", "fine-tuned"):
        models[name].load_state_dict(backbone_state, strict=False)
    freeze_all_but_head(models["frozen"])
    return models


def contenders_with_the_pretrained_head(make_model, pretrained_state, seed):
    models = build_contenders(make_model, pretrained_state, seed)
    for name in ("frozen", "fine-tuned"):
        models[name].load_state_dict(pretrained_state)
    return models


def contenders_all_pretrained(make_model, pretrained_state, seed):
    models = build_contenders(make_model, pretrained_state, seed)
    backbone_state = {k: v for k, v in pretrained_state.items() if not k.startswith("fc.")}
    models["from scratch"].load_state_dict(backbone_state, strict=False)
    return models


def contenders_nothing_loaded(make_model, pretrained_state, seed):
    models = {}
    for name in ("from scratch", "frozen", "fine-tuned"):
        torch.manual_seed(seed)
        models[name] = make_model()
    freeze_all_but_head(models["frozen"])
    return models


def contenders_parameters_only(make_model, pretrained_state, seed):
    models = {}
    for name in ("from scratch", "frozen", "fine-tuned"):
        torch.manual_seed(seed)
        model = make_model()
        if name != "from scratch":
            with torch.no_grad():
                for key, param in model.named_parameters():
                    if not key.startswith("fc."):
                        param.copy_(pretrained_state[key])
        models[name] = model
    freeze_all_but_head(models["frozen"])
    return models


def contenders_sharing_one_model(make_model, pretrained_state, seed):
    models = build_contenders(make_model, pretrained_state, seed)
    models["fine-tuned"] = models["frozen"]
    return models


def contenders_not_frozen(make_model, pretrained_state, seed):
    models = build_contenders(make_model, pretrained_state, seed)
    models["frozen"].requires_grad_(True)
    return models


def contenders_fine_tuned_frozen(make_model, pretrained_state, seed):
    models = build_contenders(make_model, pretrained_state, seed)
    freeze_all_but_head(models["fine-tuned"])
    return models


def contenders_deleting_the_head(make_model, pretrained_state, seed):
    del pretrained_state["fc.weight"], pretrained_state["fc.bias"]
    return build_contenders(make_model, pretrained_state, seed)


def contenders_as_a_list(make_model, pretrained_state, seed):
    return list(build_contenders(make_model, pretrained_state, seed).values())


def contenders_other_names(make_model, pretrained_state, seed):
    models = build_contenders(make_model, pretrained_state, seed)
    return {"scratch": models["from scratch"], "frozen": models["frozen"], "finetuned": None}


@pytest.mark.parametrize(
    ("checker", "wrong", "message"),
    [
        (l05.check_rgb_to_grey_weight, grey_mean, "averages"),
        (l05.check_rgb_to_grey_weight, grey_red_only, "only the red kernel"),
        (l05.check_rgb_to_grey_weight, grey_blue_only, "only the blue kernel"),
        (l05.check_rgb_to_grey_weight, grey_no_keepdim, "dropped the channel axis"),
        (l05.check_rgb_to_grey_weight, grey_over_filters, "combined the filters"),
        (l05.check_rgb_to_grey_weight, grey_numpy, "not a torch.Tensor"),
        (l05.check_rgb_to_grey_weight, grey_no_return, "returned None"),
        (l05.check_rgb_to_grey_weight, grey_in_place, "changed the weight"),
        (l05.check_rgb_to_grey_weight, grey_from_the_library, "calls adapt_first_conv"),
        (l05.check_replace_head, head_not_assigned, "returned the new layer"),
        (l05.check_replace_head, head_returns_none, "returned None"),
        (l05.check_replace_head, head_hard_coded_inputs, "takes 512 inputs"),
        (l05.check_replace_head, head_swapped, "wrong way round"),
        (l05.check_replace_head, head_stacked, "keeps the old 1000-way layer"),
        (l05.check_replace_head, head_four_classes, "4 outputs; asked for 3"),
        (l05.check_replace_head, head_without_bias, "no bias"),
        (l05.check_replace_head, head_copying_old_rows, "copies the first rows"),
        (l05.check_freeze_all_but_head, freeze_everything, "head is frozen too"),
        (l05.check_freeze_all_but_head, freeze_head_attribute, "on a module"),
        (l05.check_freeze_all_but_head, freeze_only_weights, "still train: conv1.bias"),
        (l05.check_freeze_all_but_head, freeze_counting_tensors, "counts parameter tensors"),
        (l05.check_freeze_all_but_head, freeze_counting_everything, "every parameter"),
        (l05.check_freeze_all_but_head, freeze_with_the_library, "calls count_parameters"),
        (l05.check_make_param_groups, groups_swapped, "swapped"),
        (l05.check_make_param_groups, groups_forgetting_backbone_biases, "exactly one group"),
        (l05.check_make_param_groups, groups_head_twice, "in both groups"),
        (l05.check_make_param_groups, groups_by_value, "element by element"),
        (l05.check_make_param_groups, groups_one, "list of two dicts"),
        (l05.check_build_contenders, contenders_seeded_once, "seeding once"),
        (l05.check_build_contenders, contenders_unseeded, "not seeded"),
        (l05.check_build_contenders, contenders_with_the_pretrained_head, "pretrained head"),
        (l05.check_build_contenders, contenders_all_pretrained, "'from scratch' model starts"),
        (l05.check_build_contenders, contenders_nothing_loaded, "does not hold the pretrained"),
        (l05.check_build_contenders, contenders_parameters_only, "batch-norm statistics"),
        (l05.check_build_contenders, contenders_sharing_one_model, "share one model object"),
        (l05.check_build_contenders, contenders_not_frozen, "backbone still trains"),
        (l05.check_build_contenders, contenders_fine_tuned_frozen, "'fine-tuned' model has"),
        (l05.check_build_contenders, contenders_deleting_the_head, "changed the pretrained"),
        (l05.check_build_contenders, contenders_as_a_list, "not a dict"),
        (l05.check_build_contenders, contenders_other_names, "returned the keys"),
    ],
)
def test_l05_checks_catch_typical_mistakes_with_a_hint(checker, wrong, message):
    with pytest.raises(CheckFailed, match=f"(?s){message}") as error:
        checker(wrong)
    text = str(error.value)
    assert "Hint:" in text
    assert "np.int64(" not in text and "np.float" not in text and "tensor(" not in text
