"""What every transform shares: how scale factors and shifts are drawn (float64, CPU, seeded).

Imports no torch at module level: the registry is read by the spec validator and `--help`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from invcheck.layer_kinds import LayerKind
    from invcheck.settings import TransformConfig

# (X, W, config, generator, layer kind) -> (X', W'); all float64, trials on axis 0.
Apply = Callable[
    ["Tensor", "Tensor", "TransformConfig", "torch.Generator", "LayerKind"], "tuple[Tensor, Tensor]"
]


@dataclass(frozen=True)
class Transform:
    id: str
    target: str  # "weights" | "data"
    apply: Apply
    doc: str
    label: str  # short column header
    params: tuple[str, ...]  # the TransformConfig fields it reads ("scale", "negative" or "shift")
    needs_tokens: bool = False  # only for layer kinds with tokens (token_rescale)
    # a recentering: a norm that removes it sees the same a - mu and sigma on both sides, so an eps in
    # its denominator cannot move them apart; a deviation that switching eps off removes is not eps's
    # (measure.py judges such a check with eps on)
    eps_blind: bool = False

    def undefined_reason(self, kind: LayerKind) -> str | None:
        if self.needs_tokens and kind.token_axis is None:
            return f"{self.id} needs tokens or steps; a {kind.id} layer has none"
        return None


SCALING = ("scale", "negative")
SHIFTING = ("shift",)


def scale_factors(shape: tuple[int, ...], cfg: TransformConfig, gen: torch.Generator) -> Tensor:
    """Factors log-uniform on cfg.scale, so 0.1..10 is as likely to shrink as to grow."""
    import torch

    lo, hi = (math.log(s) for s in cfg.scale)
    u = torch.rand(shape, generator=gen, dtype=torch.float64)
    factors = torch.exp(lo + (hi - lo) * u)
    return -factors if cfg.negative else factors


def shift(shape: tuple[int, ...], spread: Tensor, cfg: TransformConfig, gen: torch.Generator) -> Tensor:
    """gamma ~ N(0, (cfg.shift * spread)^2); spread: [T], the size of the entries being shifted."""
    import torch

    gamma = torch.randn(shape, generator=gen, dtype=torch.float64)
    return cfg.shift * trailing(spread, len(shape)) * gamma


def rms(t: Tensor) -> Tensor:
    """Root mean square of each trial's entries: [T]. Never NaN, even for a single entry."""
    return t.flatten(1).square().mean(1).sqrt()


def trailing(t: Tensor, ndim: int) -> Tensor:
    """Append singleton axes to t until it has ndim axes (broadcast a factor over trailing axes)."""
    return t.reshape(*t.shape, *([1] * (ndim - t.dim())))
