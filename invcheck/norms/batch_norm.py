"""BatchNorm: one unit (channel), over all cases and positions.

Train mode uses the batch's own statistics. Eval mode uses running statistics learned from
warm-up batches (through the untransformed layer), so it loses the invariances that come from
re-estimating the statistics on the transformed batch.
"""

from __future__ import annotations

from typing import Any

from invcheck.norms.base import Norm, Tensor, positions
from invcheck.settings import NormConfig


class BatchNorm(Norm):
    id = "batch_norm"

    def dims(self, a: Tensor) -> tuple[int, ...]:
        return (1, *positions(a))

    def prepare(self, warmup: list[Tensor], cfg: NormConfig) -> Any:
        """Running mean/var updated as torch.nn.BatchNorm does: from 0 and 1, unbiased var."""
        if cfg.mode != "eval":
            return None
        mean, var, m = 0.0, 1.0, cfg.momentum
        for a in warmup:  # [T, N, C, *positions]
            dims = self.dims(a)
            mu = a.mean(dims, keepdim=True)  # [T, 1, C, *1]
            n = a.numel() // mu.numel()
            v = ((a - mu) ** 2).sum(dims, keepdim=True) / max(n - 1, 1)
            mean, var = (1 - m) * mean + m * mu, (1 - m) * var + m * v
        return mean, var

    def statistics(self, a: Tensor, w: Tensor, cfg: NormConfig, state: Any = None) -> tuple[Tensor, Tensor]:
        if state is not None:
            mean, var = state
            return mean.to(a), var.to(a)
        return super().statistics(a, w, cfg)
