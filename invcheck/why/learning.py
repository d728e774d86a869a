"""The consequence of weight re-scaling invariance for learning, measured with autograd.

If y(delta W) = y(W) for every delta > 0, then d/d(delta) L(delta W) = <grad_W L, W> = 0: the
gradient is orthogonal to W, and grad L(delta W) = grad L(W) / delta. Both are measured here on
the reference layer in float64 (a random loss sum(R * y)), not asserted.
"""

from __future__ import annotations

from typing import Any

from invcheck.settings import LayerConfig
from invcheck.why.cell import ExactCell

DELTAS = (0.1, 10.0, 100.0)


def learning(s: ExactCell, seed: int = 0) -> dict[str, Any]:
    import torch

    layer = LayerConfig(s.kind_id)  # the kind's default sizes: a realistic layer, not a toy
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, *s.kind.input_shape(layer), generator=gen, dtype=torch.float64)
    w = torch.randn(1, *s.kind.weight_shape(layer), generator=gen, dtype=torch.float64)
    r = torch.randn(1, *s.kind.output_shape(layer), generator=gen, dtype=torch.float64)
    grad = _grad(s, layer, x, w, r)
    cos = float((grad * w).sum() / (grad.norm() * w.norm()))
    rows = (grad * w).flatten(2).sum(-1) / (grad.flatten(2).norm(dim=-1) * w.flatten(2).norm(dim=-1))
    ratios = {str(d): float(_grad(s, layer, x, d * w, r).norm() * d / grad.norm()) for d in DELTAS}
    return {
        "cosine_grad_w": cos,
        "max_abs_cosine_per_neuron": float(rows.abs().max()),
        "grad_norm_times_delta_ratio": ratios,
        "layer_sizes": layer.all_sizes(),
        "loss": "sum(R * y) with a fixed random R; float64, eps 0",
    }


def _grad(s: ExactCell, layer: LayerConfig, x: Any, w: Any, r: Any) -> Any:
    import torch

    from invcheck.norms import normalize, normalized_weight

    w = w.clone().requires_grad_(True)
    c = layer.channels
    unit = (1, 1, c) + (1,) * (len(s.kind.output_shape(layer)) - 2)
    g = torch.ones(unit, dtype=torch.float64)
    b = torch.zeros(unit, dtype=torch.float64)
    if s.norm.acts_on == "weights":  # the layer runs through the normalized weights
        y = s.kind.summed(layer, x, normalized_weight(s.norm, w, s.cfg))
    else:
        y = normalize(s.norm, s.kind.summed(layer, x, w), g, b, s.cfg, s.kind.per_token_statistics)
    (y * r).sum().backward()
    return w.grad
