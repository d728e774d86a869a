"""What an eps that cannot be switched off may move the two sides apart by: an estimate.

Where a layer keeps its eps in no attribute (a constant inside forward) and the spec states it
(`eps:`), the float64 run cannot run it with eps off, so eps's effect stays in the deviation. This
bounds it from the definition y = (a - mu) / sqrt(var + eps): for each set of statistics a norm
could take (batch, layer, instance, group, per position; centred or not) it computes, entry by
entry on the float64 summed inputs of both sides, n (1 - sqrt(var / (var + eps))), with
n = (a - mu) / sqrt(var) the normalized entry, and the largest difference between the sides,
relative to the largest output n sqrt(var / (var + eps)) (the deviation's own scale). The largest over those sets is the allowance. It holds for layers whose
statistics are one of these; a layer with statistics of its own should keep its eps in an attribute.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from invcheck.norms import NORMS

if TYPE_CHECKING:
    from invcheck.impls import Draw
    from invcheck.settings import CheckConfig

CANDIDATES = (
    "batch_norm",
    "layer_norm",
    "instance_norm",
    "group_norm",
    "rms_norm",
    "layer_norm_2d",
    "rms_norm_2d",
)


def allowance(check: CheckConfig, d: Draw, eps: float) -> list[float] | None:
    """Per trial, the largest differential effect of eps over the candidate statistics; None where
    the layer's summed inputs are not known apart from its norm (a recurrent layer, a placement)."""
    kind = check.layer.kind_spec
    if check.layer.placement != "summed" or kind.id == "recurrent":
        return None
    a0, a1 = kind.summed(check.layer, d.x, d.w), kind.summed(check.layer, d.x2, d.w2)  # float64
    best = torch.zeros(a0.shape[0], dtype=torch.float64)
    for norm_id in CANDIDATES:
        norm = NORMS[norm_id]
        if norm.undefined_reason(kind, check.layer, check.norm) or (
            norm_id == "group_norm" and a0.shape[2] % 2
        ):
            continue
        best = torch.maximum(best, _difference(norm, check, a0, a1, eps, kind.per_token_statistics))
    return best.tolist()


def _difference(norm, check, a0, a1, eps: float, per_token: bool) -> torch.Tensor:
    from dataclasses import replace

    cfg = replace(check.norm, groups=2) if norm.id == "group_norm" else check.norm
    effects, scales = [], []
    for a in (a0, a1):
        mu, var = norm.statistics(a, a, cfg, per_token)
        var = var.clamp_min(torch.finfo(torch.float64).tiny)
        n = (a - mu) / var.sqrt()
        kept = (var / (var + eps)).sqrt()
        effects.append(n * (1 - kept))
        scales.append((n * kept).abs().flatten(1).amax(1))  # the output's size with eps, as the deviation's
    scale = torch.maximum(*scales).clamp_min(torch.finfo(torch.float64).tiny)
    return (effects[1] - effects[0]).abs().flatten(1).amax(1) / scale
