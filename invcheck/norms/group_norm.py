"""GroupNorm: one case, one group of channels (and positions).

groups = 1 is LayerNorm; groups = channels is InstanceNorm (degenerate for a dense layer).
"""

from __future__ import annotations

from invcheck.norms.base import Norm, Tensor
from invcheck.settings import NormConfig


class GroupNorm(Norm):
    id = "group_norm"

    def grouped(self, t: Tensor, cfg: NormConfig) -> Tensor:
        # [T, N, C, *pos] -> [T, N, G, C/G, *pos]
        return t.reshape(*t.shape[:2], cfg.groups, t.shape[2] // cfg.groups, *t.shape[3:])

    def dims(self, a: Tensor) -> tuple[int, ...]:
        return tuple(range(3, a.dim()))  # within a group: its channels and positions
