"""InstanceNorm: one case, one channel, over all positions. A dense layer has no positions."""

from __future__ import annotations

from invcheck.norms.base import Norm, Tensor, positions
from invcheck.settings import LayerConfig, NormConfig


class InstanceNorm(Norm):
    id = "instance_norm"

    def undefined_reason(self, layer: LayerConfig, cfg: NormConfig) -> str | None:
        if layer.kind == "dense":
            return "instance_norm needs spatial positions; a dense layer has one entry per case and unit"
        return None

    def dims(self, a: Tensor) -> tuple[int, ...]:
        return positions(a)
