"""LayerNorm: one case, over all units (and positions)."""

from __future__ import annotations

from invcheck.norms.base import Norm, Tensor, positions


class LayerNorm(Norm):
    id = "layer_norm"

    def dims(self, a: Tensor) -> tuple[int, ...]:
        return (2, *positions(a))
