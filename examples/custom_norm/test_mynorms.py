"""Asserting a custom layer's invariances in its own test suite, with invcheck's Python API.

    cd examples/custom_norm && pytest     # these tests and the spec beside them (see pyproject.toml)

ScaleNorm is given by import path (a module-level class works too: `invcheck.assert_invariant(
ScaleNorm, ...)`); invcheck builds it with `kwargs`, "{channels}" becoming the layer's number of
units or channels.
"""

from __future__ import annotations

import pytest
from mynorms import ScaleNorm

import invcheck

# "rms_norm" labels the check: ScaleNorm's statistics are RMSNorm's (mu = 0, spread over all of a case).
# invcheck needs no such hint: it measures the layer's rounding noise and eps itself.
SCALE_NORM = dict(module="mynorms:ScaleNorm", kwargs={"features": "{channels}", "eps": 1e-6})


@pytest.mark.parametrize("layer", ["dense", "conv"])
@pytest.mark.parametrize("transform", ["weight_matrix_rescale", "dataset_rescale", "case_rescale"])
def test_scale_norm_ignores_scale(transform: str, layer: str) -> None:
    invcheck.assert_invariant("rms_norm", transform, layer, **SCALE_NORM)


@pytest.mark.parametrize("transform", ["weight_matrix_recenter", "weight_vector_rescale", "dataset_recenter"])
def test_scale_norm_sees_shifts_and_per_neuron_scale(transform: str) -> None:
    invcheck.assert_not_invariant("rms_norm", transform, "dense", **SCALE_NORM)


def test_scale_norm_in_float32_with_numbers() -> None:
    # invariance_error returns the numbers, for a test that wants more than a verdict.
    result = invcheck.invariance_error("rms_norm", "dataset_rescale", dtype="float32", **SCALE_NORM)
    assert result.verdict == "invariant", result
    assert result.deviation <= result.tolerance < 1e-4


def test_scale_norm_by_class() -> None:
    # The class itself works too (found by its import path); the bound then covers every statistic.
    invcheck.assert_invariant(ScaleNorm, "case_rescale", kwargs={"features": "{channels}"})
