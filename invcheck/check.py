"""Measure a check: draw, transform, run both sides, return numbers. Never judges, never raises on math.

Everything random is drawn in float64 on the CPU from one seeded generator, so a check is
reproducible across devices and dtypes; only the two forward passes run in the checked dtype.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from invcheck import layers
from invcheck.errors import InvcheckError
from invcheck.impls import Draw, Forward, build_forward
from invcheck.norms import NORMS, Norm, get_norm
from invcheck.runtime import DTYPES, device_name, numerics, resolve_device
from invcheck.settings import CheckConfig, NormConfig
from invcheck.transforms import get_transform

Tensor = torch.Tensor


@dataclass
class Measurement:
    """Per-trial numbers of one check; `verdict.judge` turns them into a verdict."""

    check: CheckConfig
    deviation: list[float] = field(default_factory=list)  # |y' - y|_max / |y|_max, per trial
    kappa: list[float] = field(default_factory=list)  # amplification of stored-value rounding, per trial
    kappa_acc: list[float] = field(default_factory=list)  # amplification of accumulation rounding
    eps_effect: list[float] = field(default_factory=list)  # eps's share of the output, both sides
    fan_in: int = 1  # K: length of the summed input's reduction
    group: int = 1  # M: entries behind one statistic
    eps: float = 0.0  # the eps the layer really adds (user code: read from the module)
    tf32: bool = False  # TF32 really allowed: asked for, and on CUDA (elsewhere it means nothing)
    undefined: str | None = None  # why no verdict can be given
    where: list[dict[str, int]] = field(default_factory=list)  # per trial: where it deviates most
    device: str = "cpu"
    seconds: float = 0.0


def draw(check: CheckConfig) -> Draw:
    """X, W, gains and the transformed X', W' of every trial, from check.seed."""
    gen = torch.Generator().manual_seed(check.seed)
    t, layer = check.trials, check.layer
    x, w = layers.sample_inputs(layer, t, gen), layers.sample_weights(layer, t, gen)
    # Non-trivial affine parameters: |g| in [0.5, 2] with random signs, b ~ N(0, 1).
    g = (0.5 + 1.5 * torch.rand((t, layer.channels), generator=gen, dtype=torch.float64))
    g = g * torch.where(torch.rand(g.shape, generator=gen) < 0.5, -1.0, 1.0).double()
    b = torch.randn((t, layer.channels), generator=gen, dtype=torch.float64)
    x2, w2 = get_transform(check.transform.id).apply(x, w, check.transform, gen)
    # Drawn last, so that train and eval mode see the same X, W and transform for a seed.
    warmup = [layers.sample_inputs(layer, t, gen) for _ in range(check.norm.warmup_batches)] \
        if check.norm.mode == "eval" else []
    return Draw(x, w, x2, w2, g, b, warmup)


def measure(check: CheckConfig) -> Measurement:
    """Run one check. Bad input (an unknown device) raises InvcheckError; the math never does."""
    start = time.perf_counter()
    _refuse_impossible(check)
    m = Measurement(check, fan_in=check.layer.fan_in)
    stats = _statistics_norms(check)
    reason = get_norm(check.norm.id).undefined_reason(check.layer, check.norm) if check.norm.id in NORMS else None
    if reason:
        m.undefined = reason
        return m
    device = resolve_device(check.device)
    m.device = device_name(device)
    m.tf32 = check.tf32 and device.type == "cuda"
    d = draw(check)
    dtype = DTYPES[check.dtype]
    with numerics(device, check.tf32), torch.no_grad():
        fwd = build_forward(check, d, dtype, device)
        m.eps = fwd.eps
        y0 = fwd(d.x.to(device, dtype), d.w.to(device, dtype)).double().cpu()
        y1 = fwd(d.x2.to(device, dtype), d.w2.to(device, dtype)).double().cpu()
    scale = torch.maximum(y0.abs().flatten(1).amax(1), y1.abs().flatten(1).amax(1))  # [T]
    _bounds(m, d, fwd, stats, scale)  # first: a zero variance explains a NaN better than the NaN
    if m.undefined is None:
        _deviation(m, y0, y1, scale)
    m.seconds = time.perf_counter() - start
    return m


def _refuse_impossible(check: CheckConfig) -> None:
    """Settings no layer can have (spec.py refuses them too; this guards configs built in Python)."""
    if check.norm.id == "group_norm" and check.layer.channels % check.norm.groups:
        where = f"{check.location}: " if check.location else ""
        raise InvcheckError(f"{where}group_norm groups {check.norm.groups} do not divide the layer's "
                            f"{check.layer.channels} channels")


def _statistics_norms(check: CheckConfig) -> list[tuple[Norm, NormConfig]]:
    """Statistics that describe the layer, for the tolerance: its own norm's, or, for user code
    that names no built-in norm (`id:`), each common centred statistic (batch, layer, instance,
    and group with the spec's `groups`), so that the bound holds whichever of them it uses."""
    if check.norm.id in NORMS:
        return [(get_norm(check.norm.id), check.norm)]
    ids = ["batch_norm", "layer_norm", "instance_norm"]
    if check.layer.channels % check.norm.groups == 0:
        ids.append("group_norm")
    norms = [get_norm(i) for i in ids]
    return [(n, check.norm) for n in norms if n.undefined_reason(check.layer, check.norm) is None]


def _deviation(m: Measurement, y0: Tensor, y1: Tensor, scale: Tensor) -> None:
    """Per-trial relative deviation, and where the largest one sits."""
    if not (torch.isfinite(y0).all() and torch.isfinite(y1).all()):
        m.undefined = f"non-finite output (NaN or inf) in {m.check.dtype}: overflow?"
        return
    diff = (y1 - y0).abs().flatten(1)  # [T, rest]
    m.deviation = (diff.amax(1) / scale.clamp_min(torch.finfo(torch.float64).tiny)).tolist()
    # numpy's unravel_index: torch's imports sympy (half a second) on first use.
    cases, units = np.unravel_index(diff.argmax(1).numpy(), tuple(y0.shape[1:]))[:2]
    m.where = [{"trial": t, "case": int(n), "unit": int(c)} for t, (n, c) in enumerate(zip(cases, units))]


def _bounds(m: Measurement, d: Draw, fwd: Forward, stats: list[tuple[Norm, NormConfig]], scale: Tensor) -> None:
    """Amplifications and eps effect per trial (max over candidate statistics), or why degenerate."""
    zero = torch.zeros(m.check.trials, dtype=torch.float64)
    kappa, kappa_acc, eps = zero, zero, zero
    summed = [_summed(m.check, x, w) for x, w in ((d.x, d.w), (d.x2, d.w2))]
    for norm, cfg in stats:
        sides = [_side(m.check, norm, cfg, s, w, fwd) for s, w in zip(summed, (d.w, d.w2))]
        if any(s is None for s in sides):
            if len(stats) == 1:
                m.undefined = f"zero variance: {norm.id}'s spread vanishes for some unit or case (degenerate)"
                return
            continue
        (k0, acc0, e0, group), (k1, acc1, e1, _) = sides
        # + 2: each side's output is rounded once more when it is stored (|y| <= scale).
        kappa = torch.maximum(kappa, (k0 + k1) / scale + 2)
        kappa_acc = torch.maximum(kappa_acc, (acc0 + acc1) / scale)
        eps = torch.maximum(eps, (e0 + e1) / scale)
        m.group = max(m.group, group)
    m.kappa, m.kappa_acc, m.eps_effect = kappa.tolist(), kappa_acc.tolist(), eps.tolist()


def _summed(check: CheckConfig, x: Tensor, w: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """a, |X||W|^T (the worst case of a's rounding) and sqrt(X^2 W^2^T) (its typical size, random
    signs), in float64 and in one batched pass: [T, N, C, *pos] each."""
    t = x.shape[0]
    out = layers.forward(check.layer, torch.cat([x, x.abs(), x * x]), torch.cat([w, w.abs(), w * w]))
    a, p, q = out.split(t)
    return a, p, q.sqrt()


def _side(check: CheckConfig, norm: Norm, cfg: NormConfig, summed: tuple[Tensor, Tensor, Tensor],
          w: Tensor, fwd: Forward) -> tuple[Tensor, Tensor, Tensor, int] | None:
    """One side in float64, in output units per trial: how much rounding a stored value and an
    accumulation can move the output, and what eps moves it by; None if the spread vanishes."""
    a, p, q = summed
    mu, var = norm.statistics(a, w, cfg, fwd.state)
    var = var.expand_as(a)
    p_group = norm.group_amax(p, cfg)
    # A spread computed from these very entries that vanishes next to their size: degenerate. (Not
    # so for a spread from the weights or from running statistics: those can be small legitimately.)
    if norm.from_data and fwd.state is None and bool((var.sqrt() <= 1e-8 * p_group).any()):
        return None
    g = fwd.gain.abs().reshape(layers.unit_shape(check.layer, check.trials))
    sigma = (var + fwd.eps).sqrt()
    m = norm.group_size(a, cfg)
    r = a.abs() + q  # a as stored, and the rounding of its inputs
    # A centered norm's mean carries its set's largest error into every entry.
    store = g * (r + norm.group_amax(r, cfg) if norm.centered else r) / sigma
    acc = g * (check.layer.fan_in**0.5 * p + m**0.5 * p_group) / sigma
    eps_effect = g * (a - mu).abs() * (1 / var.sqrt() - 1 / sigma)  # exact: |y(eps) - y(0)|
    return (*(t.flatten(1).amax(1) for t in (store, acc, eps_effect)), m)
