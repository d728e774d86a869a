"""What an eps that cannot be switched off may move the two sides apart by: an estimate.

Where a layer keeps its eps in no attribute (a constant inside forward) and the spec states it
(`eps:`), the float64 run cannot run it with eps off, so eps's effect stays in the deviation. This
bounds it from the definition y = (a - mu) / sqrt(var + eps): for each set of statistics a registered
norm takes (`candidates`: every data norm with an eps; each norm's own `statistics`) it computes, entry by
entry on the float64 summed inputs of both sides, n (1 - sqrt(var / (var + eps))), with
n = (a - mu) / sqrt(var) the normalized entry, and the largest difference between the sides,
relative to the largest output n sqrt(var / (var + eps)) (the deviation's own scale). The largest over those sets is the allowance. It holds for layers whose
statistics are one of these; a layer with statistics of its own should keep its eps in an attribute.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch

from invcheck.norms import NORMS, Norm
from invcheck.norms.arrays import TORCH

if TYPE_CHECKING:
    from invcheck.impls import Draw
    from invcheck.settings import CheckConfig


def candidates() -> list[Norm]:
    """Every registered norm with statistics of the data and an eps inside its root: the sets of
    statistics a layer's eps could be added to (each norm's own `statistics`, nothing listed here)."""
    return [n for n in NORMS.values() if n.acts_on == "data" and n.has_eps]


def allowance(check: CheckConfig, d: Draw, eps: float) -> list[float] | None:
    """Per trial, the largest differential effect of eps over the candidate statistics; None where
    the layer's summed inputs are not known apart from its norm (a recurrent layer, a placement)."""
    kind = check.layer.kind_spec
    if check.layer.placement != "summed" or kind.activation_inside:
        return None
    a0, a1 = kind.summed(check.layer, d.x, d.w), kind.summed(check.layer, d.x2, d.w2)  # float64
    cfg = replace(check.norm, groups=2)  # group_norm's usual two groups (read by no other norm)
    best = torch.zeros(a0.shape[0], dtype=torch.float64)
    for norm in candidates():
        if norm.undefined_reason(kind, check.layer, cfg) or norm.problems(
            replace(cfg, impl="reference"), kind, check.layer
        ):
            continue
        best = torch.maximum(best, _difference(norm, cfg, a0, a1, eps, kind.per_token_statistics))
    return best.tolist()


def _difference(
    norm: Norm, cfg: Any, a0: torch.Tensor, a1: torch.Tensor, eps: float, per_token: bool
) -> torch.Tensor:
    effects, scales = [], []
    for a in (a0, a1):
        stats = norm.statistics(a, TORCH, cfg, per_token)
        assert stats is not None  # candidates() keeps norms with statistics
        mu, var = stats
        var = var.clamp_min(torch.finfo(torch.float64).tiny)
        n = (a - mu) / var.sqrt()
        kept = (var / (var + eps)).sqrt()
        effects.append(n * (1 - kept))
        scales.append((n * kept).abs().flatten(1).amax(1))  # the output's size with eps, as the deviation's
    scale = torch.maximum(*scales).clamp_min(torch.finfo(torch.float64).tiny)
    return (effects[1] - effects[0]).abs().flatten(1).amax(1) / scale
