"""What a check of user code says it measured, where the verdict is right but the reason was
another's: NaN everywhere is not a zero spread; a step function does not compute in bfloat16; a
random output is neither a precision nor eps's effect."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from invcheck.api import invariance_error  # noqa: E402


def test_nan_everywhere_is_said_as_not_finite_not_as_a_zero_spread() -> None:
    result = invariance_error(lambda a: a / 0 * 0, "dataset_rescale", trials=2)
    assert result.verdict == "undefined"
    assert "not finite (NaN or inf)" in result.why and "zero spread" not in result.why


def test_a_step_function_is_said_to_jump_not_to_compute_in_bfloat16() -> None:
    result = invariance_error(torch.sign, "dataset_rescale", trials=2)
    assert result.verdict == "inconclusive"
    assert "only in jumps" in result.why and "bfloat16 (or coarser) inside" not in result.why


@pytest.mark.parametrize("with_eps", [False, True])
def test_a_random_output_is_said_to_be_random_not_rounding_nor_eps(with_eps: bool) -> None:
    layer = nn.Sequential(nn.LayerNorm(16), nn.Dropout(0.5)) if with_eps else nn.Dropout(0.5)
    result = invariance_error(layer.train(), "dataset_rescale", trials=2)
    assert result.verdict == "inconclusive"
    assert "not a deterministic function of its input: two calls on the same input differ by" in result.why
    assert "lower precision" not in result.why and "eps's effect" not in result.why
