"""A recentering that a norm removes leaves it the same a - mu and sigma on both sides: eps cannot
move them apart, so what eps seems to move between them is held to rounding and excuses nothing
(outside tester A: a mean leak kept in an attribute named `eps` read invariant up to eps)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from invcheck.api import invariance_error  # noqa: E402
from invcheck.transforms import TRANSFORMS  # noqa: E402


class LeakyLN(nn.Module):
    """A LayerNorm whose mean leaks by a coefficient it keeps as `eps`: not invariant to W recenter."""

    def __init__(self, leak: float = 1e-2) -> None:
        super().__init__()
        self.eps = leak

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        mean = a.mean(-1, keepdim=True)
        var = (a - mean).pow(2).mean(-1, keepdim=True)
        return (a - (1 - self.eps) * mean) / var.sqrt()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_leak_named_eps_is_not_excused_as_eps(dtype: str) -> None:
    r = invariance_error(LeakyLN(), "weight_matrix_recenter", dtype=dtype)
    assert r.verdict == "not_invariant", r.why
    assert "eps cannot move" in r.why


def test_a_real_eps_keeps_the_recenterings_its_norm_removes() -> None:
    for norm in (nn.LayerNorm(16, eps=1e-5), nn.LayerNorm(16, eps=100.0)):
        assert invariance_error(norm, "weight_matrix_recenter").verdict == "invariant"
    assert invariance_error("batch_norm", "dataset_recenter", eps=1e-3).verdict == "invariant"


def test_eps_still_blurs_a_rescaling() -> None:
    r = invariance_error(nn.LayerNorm(16, eps=1e-3), "dataset_rescale")
    assert r.verdict == "invariant" and "up to eps" in r.why


def test_the_recenterings_are_the_transforms_eps_cannot_move() -> None:
    blind = {t.id for t in TRANSFORMS.values() if t.eps_blind}
    assert blind == {"weight_matrix_recenter", "dataset_recenter"}
