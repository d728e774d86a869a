"""The reference implementation: each norm's definition, written with plain tensor ops."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import torch

from invcheck.evidence import EpsInfo
from invcheck.impls.base import Draw, Forward, Tensor, tile
from invcheck.norms import get_norm, normalize, normalized_weight
from invcheck.settings import CheckConfig


def warmup_state(check: CheckConfig, draw: Draw) -> tuple[Tensor, ...] | None:
    """Float64 running statistics from the warm-up batches (None unless the norm keeps any)."""
    kind, norm = check.layer.kind_spec, get_norm(check.norm.id)
    warm = [kind.norm_input(check.layer, x, draw.w) for x in draw.warmup]  # through the original W
    state = norm.prepare(warm, check.norm, kind.per_token_statistics)
    if state is None:
        return None
    # no warm-up batch: the initial statistics (0, 1), per trial and unit as torch's running buffers are
    ones = torch.ones(unit_shape(check, draw.trials), dtype=torch.float64)
    return tuple(ones * s for s in state)


def unit_shape(check: CheckConfig, trials: int) -> tuple[int, ...]:
    """Shape that broadcasts a per-unit quantity [T, C] against what the norm sees: [T, 1, C, *1]."""
    kind = check.layer.kind_spec
    return (trials, 1, check.layer.channels) + (1,) * len(kind.norm_positions(check.layer))


def build(
    check: CheckConfig,
    draw: Draw,
    dtype: torch.dtype,
    device: torch.device,
    eps_off: bool = False,
    eps_dtype: torch.dtype | None = None,
) -> Forward:
    kind, layer, norm = check.layer.kind_spec, check.layer, get_norm(check.norm.id)
    cfg = replace(check.norm, eps=0.0) if eps_off else check.norm
    shape = unit_shape(check, draw.trials)
    g = draw.g.reshape(shape).to(dtype=dtype, device=device)
    b = draw.b.reshape(shape).to(dtype=dtype, device=device)
    state64 = warmup_state(check, draw)
    state = tuple(s.to(dtype=dtype, device=device) for s in state64) if state64 else None

    def fn(x: Tensor, w: Tensor) -> Tensor:
        n = x.shape[0]
        gg, bb = tile(g, n), tile(b, n)
        if norm.acts_on == "weights":  # each unit's w_i normalized, then the layer runs: y = g a + b
            return kind.run(layer, x, normalized_weight(norm, w, cfg), lambda a: a * gg + bb)
        st = tuple(tile(s, n) for s in state) if state else None
        normed = lambda a: normalize(norm, a, gg, bb, cfg, kind.per_token_statistics, st)  # noqa: E731
        return kind.run(layer, x, w, normed, summed=partial(draw.summed, kind))

    info = EpsInfo(check.norm.eps, "the spec" if check.norm.eps else "none")
    return Forward(fn, info, gain=draw.g, state=state64)
