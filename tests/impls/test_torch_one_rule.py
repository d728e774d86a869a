"""impl torch follows the reference's rules where torch itself refuses: statistics of one entry are
0/0 (undefined, not a SpecError), and `torch_eps: false` makes eps 0 really 0 (BatchNorm too)."""

from __future__ import annotations

from typing import Any

import pytest

from invcheck.api import invariance_error

ONE_ENTRY = [
    {"norm": "instance_norm", "transform": "dataset_rescale", "layer": "conv", "kernel": 3, "size": 3},
    {"norm": "batch_norm", "transform": "weight_matrix_recenter", "layer": "dense", "cases": 1},
]


@pytest.mark.parametrize("cell", ONE_ENTRY, ids=lambda c: c["norm"])
def test_sets_of_one_entry_are_undefined_in_both_impls(cell: dict[str, Any]) -> None:
    reference = invariance_error(**cell)
    torch_impl = invariance_error(impl="torch", **cell)  # raised SpecError: torch refused ...
    assert reference.verdict == torch_impl.verdict == "undefined", torch_impl.why
    assert "0/0" in torch_impl.why


@pytest.mark.parametrize("transform", ["dataset_rescale", "dataset_recenter"])
def test_torch_eps_false_makes_batch_norms_eps_really_zero(transform: str) -> None:
    r = invariance_error("batch_norm", transform, "dense", impl="torch", eps=0.0, torch_eps=False)
    assert r.verdict == "invariant", r.why  # raised SpecError: batch_norm eps must be positive
    assert r.eps == 0.0
