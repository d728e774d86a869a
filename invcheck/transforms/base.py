"""What every transform shares: how scale factors and shifts are drawn (float64, CPU, seeded)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from invcheck.settings import TransformConfig

Tensor = torch.Tensor
# (X, W, config, generator) -> (X', W'); all float64, trials on axis 0.
Apply = Callable[[Tensor, Tensor, TransformConfig, torch.Generator], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class Transform:
    id: str
    target: str  # "weights" | "data"
    apply: Apply
    doc: str


def scale_factors(shape: tuple[int, ...], cfg: TransformConfig, gen: torch.Generator) -> Tensor:
    """Factors log-uniform on cfg.scale, so 0.1..10 is as likely to shrink as to grow."""
    lo, hi = (math.log(s) for s in cfg.scale)
    u = torch.rand(shape, generator=gen, dtype=torch.float64)
    factors = torch.exp(lo + (hi - lo) * u)
    return -factors if cfg.negative else factors


def shift(shape: tuple[int, ...], spread: Tensor, cfg: TransformConfig, gen: torch.Generator) -> Tensor:
    """gamma ~ N(0, (cfg.shift * spread)^2); spread: [T], the std of the entries being shifted."""
    gamma = torch.randn(shape, generator=gen, dtype=torch.float64)
    return cfg.shift * trailing(spread, len(shape)) * gamma


def trailing(t: Tensor, ndim: int) -> Tensor:
    """Append singleton axes to t until it has ndim axes (broadcast a factor over trailing axes)."""
    return t.reshape(*t.shape, *([1] * (ndim - t.dim())))
