"""Optimizer-ready groups: the scale-invariant tensors apart from the rest."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from invcheck.scan.param_groups import groups_from_report, param_groups, split  # noqa: E402
from tests.scan.handmade import group, report  # noqa: E402

INV, NOT = "invariant", "not_invariant"


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def _report():
    return report(
        {
            "0.weight": ((8, 6), "0", "Linear", (INV, INV, NOT)),
            "1.weight": ((8,), "1", "BatchNorm1d", (NOT, NOT, NOT)),
            "1.bias": ((8,), "1", "BatchNorm1d", ("inconclusive", NOT, NOT)),
            "3.weight": ((3, 8), "3", "Linear", (NOT, NOT, NOT)),
            "3.bias": ((3,), "3", "Linear", (NOT, NOT, NOT)),
        }
    )


def test_groups_hold_the_same_tensor_objects_split_by_the_exact_answer() -> None:
    model = _net()
    groups = groups_from_report(model, _report(), weight_decay=0.05)
    assert [g["name"] for g in groups] == ["scale_invariant", "rest"]
    assert groups[0]["params"] == [model[0].weight] and groups[0]["weight_decay"] == 0.0
    assert groups[1]["weight_decay"] == 0.05
    assert [id(p) for p in groups[1]["params"]] == [
        id(p) for p in (model[1].weight, model[1].bias, model[3].weight, model[3].bias)
    ]


def test_invariant_decay_of_its_own_and_an_empty_group_left_out() -> None:
    model = _net()
    groups = groups_from_report(model, _report(), invariant_weight_decay=0.1)
    assert groups[0]["weight_decay"] == 0.1
    none_invariant = report(
        {n: (s, m, k, (NOT, NOT, NOT)) for n, (s, m, k) in {"0.weight": ((8, 6), "0", "Linear")}.items()}
    )
    assert [g["name"] for g in groups_from_report(model, none_invariant)] == ["rest"]


def test_frozen_tensors_are_left_out() -> None:
    model = _net()
    model[0].weight.requires_grad_(False)
    invariant, rest = split(model, _report())
    assert invariant == [] and "0.weight" not in [n for n, _ in rest]


def test_groups_feed_an_optimizer() -> None:
    model = _net()
    optimizer = torch.optim.AdamW(groups_from_report(model, _report()), lr=1e-3)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.0, 0.01]


def test_param_groups_scans_in_train_mode() -> None:
    pytest.importorskip("invcheck.scan.engine")
    model = _net()
    groups = param_groups(model, torch.randn(16, 6), weight_decay=0.05)
    assert groups[0]["name"] == "scale_invariant"
    assert any(p is model[0].weight for p in groups[0]["params"])  # before a train-mode BatchNorm
    assert all(p is not model[3].weight for p in groups[0]["params"])


def test_the_api_offers_it() -> None:
    import invcheck.api

    assert invcheck.api.param_groups is param_groups


def test_a_jointly_invariant_pair_goes_with_the_invariant_tensors() -> None:
    from dataclasses import replace

    model = _net()
    joint = replace(_report(), groups=(group(("3.weight", "3.bias")),))
    invariant, _ = split(model, joint)
    assert [n for n, _ in invariant] == ["0.weight", "3.weight", "3.bias"]
    for g in (
        group(("3.weight", "3.bias"), verdict="not_invariant"),
        group(("3.weight", "3.bias"), "weight_matrix_recenter"),
    ):
        assert [n for n, _ in split(model, replace(_report(), groups=(g,)))[0]] == ["0.weight"]
    here_only = replace(group(("3.weight", "3.bias")), at_these_values_only=True)
    assert [n for n, _ in split(model, replace(_report(), groups=(here_only,)))[0]] == ["0.weight"]
