"""WeightNorm (Salimans & Kingma 2016): mu = 0, sigma = ||w_i||, from the weights, not the data."""

from __future__ import annotations

from typing import Any

import torch

from invcheck.norms.base import Norm, Tensor
from invcheck.settings import NormConfig


class WeightNorm(Norm):
    id = "weight_norm"
    centered = False
    from_data = False

    def statistics(self, a: Tensor, w: Tensor, cfg: NormConfig, state: Any = None) -> tuple[Tensor, Tensor]:
        sq = (w * w).flatten(2).sum(-1)  # [T, C]: ||w_i||^2
        shape = (a.shape[0], 1, a.shape[2]) + (1,) * (a.dim() - 3)
        return torch.zeros((), dtype=a.dtype, device=a.device), sq.to(a).reshape(shape)

    def dims(self, a: Tensor) -> tuple[int, ...]:
        return ()  # no statistic over a: each entry stands alone

    def group_amax(self, t: Tensor, cfg: NormConfig) -> Tensor:
        return t.abs()

    def group_size(self, a: Tensor, cfg: NormConfig) -> int:
        return 1
