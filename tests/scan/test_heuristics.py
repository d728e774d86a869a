"""The rules of thumb, each against its own source's behaviour, and their agreement counts."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from invcheck.scan import heuristics as h  # noqa: E402
from tests.scan.handmade import report  # noqa: E402

INV, NOT = "invariant", "not_invariant"


# timm and nanoGPT ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ndim", "no_decay"),
    [
        ("layer1.0.conv1.weight", 4, False),
        ("layer1.0.bn1.weight", 1, True),
        ("head.bias", 1, True),
        ("odd.bias", 2, True),  # a 2-D tensor named .bias is spared by name
        ("biased.weight", 2, False),  # `.bias` is a suffix, not a substring
        ("pos_embed", 3, False),
    ],
)
def test_timm_rule(name: str, ndim: int, no_decay: bool) -> None:
    assert h.timm_no_decay(name, ndim) is no_decay


def test_timm_honours_the_models_no_weight_decay_list_by_fnmatch() -> None:
    assert h.timm_no_decay("pos_embed", 3, {"pos_embed"})
    assert h.timm_no_decay("blocks.3.attn.rel_pos", 2, {"blocks.*.attn.rel_pos"})
    assert not h.timm_no_decay("pos_embedding", 3, {"pos_embed"})


def test_nanogpt_rule() -> None:
    assert h.nanogpt_no_decay(1) and h.nanogpt_no_decay(0)
    assert not h.nanogpt_no_decay(2) and not h.nanogpt_no_decay(4)


# Hugging Face Trainer ---------------------------------------------------------------------------


class RMSNorm(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return self.weight * x / x.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt()


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln_f = nn.LayerNorm(4)  # spared by class, though its name matches no pattern
        self.input_layernorm = RMSNorm(4)  # spared by name
        self.scale = RMSNorm(4)  # a custom norm under another name: decayed
        self.bn1 = nn.BatchNorm1d(4)  # decayed (gain), bias spared by name
        self.fc = nn.Linear(4, 4)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 4))


def test_hf_rule_by_class_and_by_name() -> None:
    decayed = set(h.hf_decay_names(Block()))
    assert decayed == {"scale.weight", "bn1.weight", "fc.weight", "cls_token"}


def test_hf_rule_matches_transformers_own_function() -> None:
    pytest.importorskip("transformers")
    from transformers.trainer_pt_utils import get_parameter_names

    patterns = list(h.HF_FORBIDDEN_NAME_PATTERNS)
    for model in (Block(), nn.Sequential(Block(), nn.Sequential(Block(), nn.LayerNorm(3)))):
        assert h.hf_decay_names(model) == get_parameter_names(model, [nn.LayerNorm], patterns)


# AdamP's projection test ----------------------------------------------------------------------


def test_adamp_fires_on_a_gradient_orthogonal_to_every_row() -> None:
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    g = torch.tensor([[0.0, 3.0], [2.0, 0.0]])
    assert h.adamp_projects(p, g) == "channel"


def test_adamp_layer_view_fires_where_the_channel_view_does_not() -> None:
    p = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    g = torch.tensor([[1.0, 10.0], [1.0, 10.0]])  # each row's |cos| 0.0995 >= 0.1/sqrt(2); overall 0
    assert h.adamp_projects(p, g) == "layer"


def test_adamp_does_not_fire_on_a_gradient_along_the_tensor_nor_look_at_vectors() -> None:
    p = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    assert h.adamp_projects(p, 0.5 * p) is None
    assert h.adamp_projects(torch.ones(4), torch.zeros(4)) is None  # 1-D: AdamP never projects


def test_adamp_threshold_is_delta_over_sqrt_of_the_row_length() -> None:
    # row length 4: threshold 0.05; a cosine of 0.049 fires, 0.051 does not
    for cos, fires in ((0.049, True), (0.051, False)):
        p = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
        g = torch.tensor([[cos, (1 - cos**2) ** 0.5, 0.0, 0.0]])
        assert (h.adamp_projects(p, g) is not None) is fires


def _bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def test_adamp_counts_on_a_model_in_train_mode() -> None:
    model = _bn_net()
    before = model[1].running_mean.clone()
    counts = h.adamp_counts(model, torch.randn(16, 6), mode="train", batches=5)
    assert counts["0.weight"].fired == 5 and counts["0.weight"].projected  # before a train-mode BN
    assert counts["3.weight"].fired == 0 and not counts["3.weight"].projected
    assert counts["1.weight"].views == ("",) * 5  # 1-D: never looked at
    assert torch.equal(model[1].running_mean, before)  # the model itself is left untouched


def test_adamp_counts_frozen_tensors_too() -> None:
    model = _bn_net()
    for p in model.parameters():
        p.requires_grad_(False)
    counts = h.adamp_counts(model, torch.randn(16, 6), mode="train", batches=3)
    assert counts["0.weight"].fired == 3 and not any(p.requires_grad for p in model.parameters())


def test_adamp_in_eval_mode_sees_no_batch_norm_invariance() -> None:
    counts = h.adamp_counts(_bn_net(), torch.randn(16, 6), mode="eval", batches=3)
    assert counts["0.weight"].fired == 0


def test_majority_decides() -> None:
    assert h.AdampCount(3, 5, ("channel",) * 3 + ("",) * 2).projected
    assert not h.AdampCount(2, 5, ("channel",) * 2 + ("",) * 3).projected
    assert not h.AdampCount(2, 4, ("layer",) * 2 + ("",) * 2).projected  # a tie is not a majority


# The exact answer and the counts ---------------------------------------------------------------


def test_exact_answer_is_generic_matrix_rescale_invariance() -> None:
    r = report(
        {
            "a": ((2, 2), "", "", (INV, INV, NOT)),
            "b": ((2,), "", "", (NOT, NOT, NOT)),
            "c": ((2,), "", "", ("inconclusive", NOT, NOT)),
        }
    )
    assert h.exact_scale_invariant(r, "a") is True
    assert h.exact_scale_invariant(r, "b") is False
    assert h.exact_scale_invariant(r, "c") is None
    assert h.exact_scale_invariant(r, "missing") is None


def test_at_these_values_only_is_not_scale_invariant() -> None:
    from dataclasses import replace

    r = report({"a": ((2, 2), "", "", (INV, INV, NOT))})
    r = replace(r, parameters=tuple(replace(p, at_these_values_only=True) for p in r.parameters))
    assert h.exact_scale_invariant(r, "a") is False


def test_compare_counts_agreement_per_rule_and_on_matrices() -> None:
    model = _bn_net()
    exact = report(
        {
            "0.weight": ((8, 6), "0", "Linear", (INV, INV, NOT)),
            "1.weight": ((8,), "1", "BatchNorm1d", (NOT, NOT, NOT)),
            "1.bias": ((8,), "1", "BatchNorm1d", (NOT, NOT, NOT)),
            "3.weight": ((3, 8), "3", "Linear", (NOT, NOT, NOT)),
            "3.bias": ((3,), "3", "Linear", ("inconclusive", NOT, NOT)),  # no exact answer: not counted
        }
    )
    got = h.compare(model, exact, torch.randn(16, 6), batches=3)
    calls = {t.name: t.calls for t in got.tensors}
    assert calls["0.weight"] == {"adamp": True, "timm": False, "hf_trainer": False, "nanogpt": False}
    assert calls["1.weight"] == {"adamp": False, "timm": True, "hf_trainer": False, "nanogpt": True}
    # AdamP: right on all four counted tensors; on matrices 2 of 2
    assert got.agreement("adamp") == h.Agreement("adamp", "all", 4, 4, 0, 0)
    assert got.agreement("adamp", "matrices") == h.Agreement("adamp", "matrices", 2, 2, 0, 0)
    # timm: 0.weight (missed), 1.weight and 1.bias (called invariant, are not) wrong; 3.weight right
    assert got.agreement("timm") == h.Agreement("timm", "all", 1, 4, 2, 1)
    # HF: BatchNorm gain decayed (right here), 1.bias spared by name (wrong), 0.weight missed
    assert got.agreement("hf_trainer") == h.Agreement("hf_trainer", "all", 2, 4, 1, 1)
    assert got.agreement("nanogpt", "matrices").rate == 0.5
    assert got.calls_of("0.weight").disagrees("timm") and not got.calls_of("0.weight").disagrees("adamp")
    assert got.to_json()["agreement"][0]["rate"] == 1.0
    by_name = {t["name"]: t for t in got.to_json()["tensors"]}
    assert (by_name["0.weight"]["adamp_fired"], by_name["0.weight"]["adamp_batches"]) == (3, 3)
    assert by_name["1.weight"]["adamp_fired"] is None  # AdamP never looks at a vector


def test_compare_refuses_an_unknown_rule() -> None:
    with pytest.raises(ValueError, match="unknown heuristic 'lamb'"):
        h.compare(_bn_net(), report({}), torch.randn(4, 6), heuristics=["lamb"])
