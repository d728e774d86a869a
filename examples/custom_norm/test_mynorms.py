"""Asserting a custom layer's invariances in its own test suite, with invcheck's Python API.

    cd examples/custom_norm && pytest test_mynorms.py

ScaleNorm is given by class: invcheck builds it from its import path (mynorms:ScaleNorm) and
`kwargs`, "{channels}" becoming the layer's number of units or channels.
"""

from __future__ import annotations

import pytest

import invcheck
from mynorms import ScaleNorm

SCALE_NORM = dict(kwargs={"features": "{channels}", "eps": 1e-6})


@pytest.mark.parametrize("layer", ["dense", "conv"])
@pytest.mark.parametrize("transform", ["weight_matrix_rescale", "dataset_rescale", "case_rescale"])
def test_scale_norm_ignores_scale(transform: str, layer: str) -> None:
    invcheck.assert_invariant(ScaleNorm, transform, layer, **SCALE_NORM)


@pytest.mark.parametrize("transform", ["weight_matrix_recenter", "weight_vector_rescale", "dataset_recenter"])
def test_scale_norm_sees_shifts_and_per_neuron_scale(transform: str) -> None:
    invcheck.assert_not_invariant(ScaleNorm, transform, "dense", **SCALE_NORM)


def test_scale_norm_in_float32_with_numbers() -> None:
    # invariance_error returns the numbers, for a test that wants more than a verdict.
    result = invcheck.invariance_error(ScaleNorm, "dataset_rescale", dtype="float32", **SCALE_NORM)
    assert result.verdict == "invariant", result
    assert result.deviation <= result.tolerance < 1e-4
