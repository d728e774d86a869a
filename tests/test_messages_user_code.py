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


class _LayerNormPlusNoise(nn.Module):
    """A LayerNorm and a little randomness (1e-3 of the output): within the tolerance its own
    spread sets, so invariant, but no lower precision inside (outside tester G)."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(16)

    def forward(self, a):
        return self.norm(a) + 1e-3 * torch.randn_like(a)


def test_a_little_randomness_is_said_to_be_random_not_a_lower_precision() -> None:
    result = invariance_error(_LayerNormPlusNoise, "dataset_rescale", trials=2)
    assert "not a deterministic function of its input" in result.why
    assert "lower precision" not in result.why


def test_a_lower_precision_inside_is_still_said_so() -> None:
    def in_float32(a):
        return nn.functional.layer_norm(a.float(), a.shape[-1:], eps=0.0).to(a.dtype)

    result = invariance_error(in_float32, "dataset_rescale", trials=2)
    assert result.verdict == "invariant"
    assert "lower precision (float32?) internally" in result.why
    assert "not a deterministic function" not in result.why
