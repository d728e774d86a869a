"""The reference implementation: the math of DESIGN.md §2, written with plain tensor ops."""

from __future__ import annotations

import torch

from invcheck import layers
from invcheck.impls.base import Draw, Forward, Tensor
from invcheck.norms import get_norm, normalize
from invcheck.settings import CheckConfig


def warmup_state(check: CheckConfig, draw: Draw) -> object:
    """Float64 running statistics from the warm-up batches (None unless the norm keeps any)."""
    norm = get_norm(check.norm.id)
    warm = [layers.forward(check.layer, x, draw.w) for x in draw.warmup]  # through the original W
    return norm.prepare(warm, check.norm)


def cast_state(state: object, dtype: torch.dtype, device: torch.device) -> object:
    if isinstance(state, tuple):
        return tuple(s.to(dtype=dtype, device=device) for s in state)
    return state


def build(check: CheckConfig, draw: Draw, dtype: torch.dtype, device: torch.device) -> Forward:
    norm = get_norm(check.norm.id)
    shape = layers.unit_shape(check.layer, check.trials)
    g = draw.g.reshape(shape).to(dtype=dtype, device=device)
    b = draw.b.reshape(shape).to(dtype=dtype, device=device)
    state64 = warmup_state(check, draw)
    state = cast_state(state64, dtype, device)

    def fn(x: Tensor, w: Tensor) -> Tensor:
        a = layers.forward(check.layer, x, w)  # [T, N, C, *positions]
        return normalize(norm, a, w, g, b, check.norm, state)

    return Forward(fn, eps=check.norm.eps, gain=draw.g, state=state64)
