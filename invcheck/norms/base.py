"""What every norm shares: y = g * (a - mu) / sqrt(var + eps) + b, with the norm's own mu and var.

A norm only says which statistics it uses (DESIGN.md §2). Everything else, the affine step, the
eps, the tolerance's view of the statistics, is written once here.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from invcheck.settings import LayerConfig, NormConfig

Tensor = torch.Tensor


def positions(a: Tensor) -> tuple[int, ...]:
    """Axes of the spatial positions of a: [T, N, C, *positions]."""
    return tuple(range(3, a.dim()))


class Norm:
    """A normalization by mean and spread over a set of entries of a: [T, N, C, *positions]."""

    id: ClassVar[str]
    centered: ClassVar[bool] = True  # False: mu = 0 (weight_norm, rms_norm)
    from_data: ClassVar[bool] = True  # False: sigma comes from the weights (weight_norm)

    def undefined_reason(self, layer: LayerConfig, cfg: NormConfig) -> str | None:
        """Why this norm does not apply to the layer, or None."""
        return None

    def dims(self, a: Tensor) -> tuple[int, ...]:
        """Axes of a that one statistic reduces over."""
        raise NotImplementedError

    def grouped(self, t: Tensor, cfg: NormConfig) -> Tensor:
        """View of t in which `dims` are the statistic's axes (group_norm splits channels)."""
        return t

    def ungrouped(self, t: Tensor, like: Tensor) -> Tensor:
        return t.reshape(like.shape) if t.shape != like.shape else t

    def prepare(self, warmup: list[Tensor], cfg: NormConfig) -> Any:
        """State learned from warm-up batches of summed inputs (eval-mode running statistics)."""
        return None

    def statistics(self, a: Tensor, w: Tensor, cfg: NormConfig, state: Any = None) -> tuple[Tensor, Tensor]:
        """mu and var (eps not added) of a, broadcastable against a."""
        v = self.grouped(a, cfg)
        dims = self.dims(v)
        if not self.centered:
            return torch.zeros((), dtype=a.dtype, device=a.device), self.ungroup_stat(
                (v * v).mean(dims, keepdim=True), v, a)
        mu = v.mean(dims, keepdim=True)
        var = ((v - mu) ** 2).mean(dims, keepdim=True)  # two-pass: no cancellation in E[a^2] - mu^2
        return self.ungroup_stat(mu, v, a), self.ungroup_stat(var, v, a)

    def ungroup_stat(self, s: Tensor, v: Tensor, a: Tensor) -> Tensor:
        """Broadcast a statistic of the grouped view back against a."""
        return self.ungrouped(s.expand(v.shape), a)

    def group_amax(self, t: Tensor, cfg: NormConfig) -> Tensor:
        """Largest |t| over each statistic's set, broadcast against t (tolerance: cancellation in mu)."""
        v = self.grouped(t.abs(), cfg)
        return self.ungroup_stat(v.amax(self.dims(v), keepdim=True), v, t)

    def group_size(self, a: Tensor, cfg: NormConfig) -> int:
        """How many entries one statistic reduces over."""
        v = self.grouped(a, cfg)
        return math.prod(v.shape[d] for d in self.dims(v))


def opmath(dtype: torch.dtype) -> torch.dtype:
    """The dtype PyTorch's norm kernels compute in: float32 for half types, else the dtype itself."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def normalize(norm: Norm, a: Tensor, w: Tensor, g: Tensor, b: Tensor, cfg: NormConfig,
              state: Any = None) -> Tensor:
    """y = g * (a - mu) / sqrt(var + eps) + b; g, b broadcast against a.

    Like PyTorch's kernels, half-precision inputs are normalized in float32 and the output is
    stored back in a's dtype, so the reference rounds where a real layer rounds.
    """
    op = opmath(a.dtype)
    a_op, w_op = a.to(op), w.to(op)
    state = tuple(s.to(op) for s in state) if isinstance(state, tuple) else state
    mu, var = norm.statistics(a_op, w_op, cfg, state)
    y = g.to(op) * ((a_op - mu) / torch.sqrt(var + cfg.eps)) + b.to(op)
    return y.to(a.dtype)
