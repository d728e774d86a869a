"""Edges of the verdict rule, each found by an outsider.

An output that is inf on both sides (a layer that overflows whatever it is given) compares inf
with inf: nothing to compare, so the verdict is undefined, in every dtype, whether or not the layer
has an eps invcheck can switch off (with one, the eps-off run made the same inf; it raised)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from invcheck import api  # noqa: E402


def _overflows(a, eps=1e-6):
    return a * float("inf") + eps


def _overflows_no_eps(a):
    return a * float("inf")


@pytest.mark.parametrize("layer", [_overflows, _overflows_no_eps])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_output_that_is_inf_on_both_sides_is_undefined(layer, dtype) -> None:
    result = api.invariance_error(layer, "dataset_rescale", dtype=dtype, trials=2)
    assert result.verdict == "undefined"
    if layer is _overflows:  # without an eps, its zero-spread reading says undefined first
        assert "not finite" in result.why


@pytest.mark.parametrize("seed", [2, 3, 6, 8])
def test_a_large_eps_is_allowed_in_the_units_of_the_run_with_eps(seed: int) -> None:
    """weight_standardization x weight_matrix_rescale with eps 100: the deviation is eps's effect;
    the eps-off run's rounding, relative to its own (40x larger) outputs, was added unconverted and
    fell 1e-15 short (inconclusive at these seeds)."""
    result = api.invariance_error(
        "weight_standardization", "weight_matrix_rescale", eps=100.0, seed=seed, trials=8
    )
    assert result.verdict == "invariant", result.why
