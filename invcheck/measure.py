"""Measure a check: draw, transform, run both sides, and measure the rounding noise. Numbers only.

What a model of a layer cannot see (a user layer that computes in float32 inside, statistics
invcheck has no name for, a fused kernel), a measurement can. So nothing here models the layer:
- **noise**: each side is also run at inputs dithered by a few units in the last place of the
  checked dtype (`stencil`); the fourth difference of those outputs cancels the smooth change
  and leaves only rounding, so its size is the layer's own rounding noise at that input;
- **the float64 run**: the same layer in float64 sees violations that the checked dtype's
  rounding hides, and shows whether the layer really computes in float64;
- **eps**: the float64 run again with eps switched off (`eps_off`) says what eps alone moves,
  on each side and, what matters, between the two sides.
Everything random is drawn in float64 on the CPU from one seeded generator, so a check is
reproducible across devices and dtypes. The judge (`verdict.py`) turns the numbers into a verdict.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from invcheck import eps_model, sample
from invcheck import tolerance as tol
from invcheck.draws import CACHE_ENTRIES, draw
from invcheck.evidence import Measurement, RunNumbers
from invcheck.impls import Draw, Forward, build_forward
from invcheck.norms import NORMS, get_norm
from invcheck.placements import get_placement
from invcheck.rules import refuse_impossible
from invcheck.runtime import DTYPES, device_name, numerics, resolve_device
from invcheck.settings import CheckConfig
from invcheck.transforms import get_transform

Tensor = torch.Tensor
Sides = tuple[Tensor, Tensor]  # y and y' of every trial: [T, N, C, *positions] each, float64


@dataclass(frozen=True)
class Probe:
    """How a run's rounding noise is measured: the output at inputs moved by k * e (relative,
    random signs) for each k of `points`, combined with `weights` into a difference that cancels
    the layer's smooth response and leaves rounding, `gain` times its size."""

    points: tuple[int, ...]
    weights: tuple[float, ...]

    @property
    def gain(self) -> float:
        return math.sqrt(sum(c * c for c in self.weights))


# Inputs moved by several units in the last place of float32 at least (2^-20), so that every rounding
# inside the layer happens afresh, also where a layer computes in float32 inside a float64 run; the
# fourth difference sum_k c_k y(x + k e) cancels the smooth response up to e^4 times the fourth
# derivative (far below rounding) and leaves rounding, sqrt(70) times its size. (Moving the inputs
# by about one ulp, or a second difference, keeps part of the rounding of long sums: the noise came
# out 1.5-3x too small at a fan-in of 2048.)
STENCIL = Probe((0, 1, -1, 2, -2), (6.0, -4.0, -4.0, 1.0, 1.0))


def measure(check: CheckConfig) -> Measurement:
    """Run one check. Bad input raises InvcheckError (before anything is allocated); the math never does."""
    start = time.perf_counter()
    refuse_impossible(check)
    m = Measurement(check)
    m.undefined = _undefined_reason(check)
    if m.undefined:
        return m
    device = resolve_device(check.device)
    m.device, m.tf32 = device_name(device), check.tf32 and device.type == "cuda"
    d = draw(check)
    with numerics(device, check.tf32), torch.no_grad():
        _measure(m, d, device)
    m.seconds = time.perf_counter() - start
    return m


def _undefined_reason(check: CheckConfig) -> str | None:
    kind = check.layer.kind_spec
    if check.norm.module is None and check.norm.id in NORMS:
        norm = get_norm(check.norm.id)
        reason = norm.undefined_reason(kind, check.layer, check.norm) or \
            get_placement(check.layer.placement).undefined_reason(norm)
        if reason:
            return reason
    return get_transform(check.transform.id).undefined_reason(kind)


def _measure(m: Measurement, d: Draw, device: torch.device) -> None:
    check = m.check
    fwd = build_forward(check, d, DTYPES[check.dtype], device)
    m.eps = fwd.eps_info
    small = sample.smaller(check, d) if check.tolerance is None else None
    m.checked, sides = _run(check, fwd, d, check.dtype, device, probe=small is None)
    if small is not None:  # a large layer: the probe and the float64 runs look at a sample
        m.notes.append(sample.describe(check, small[0]))
        _probe_sample(m, *small, device)
        check, d = small
        sides = None
    stored = _storage_problem(d, check.dtype)  # the draws alone decide it: computed once
    m.range_problem = stored or _not_finite(check.dtype, m.checked)
    if check.tolerance is not None:
        return  # the user's own tolerance: the checked run alone is judged
    wide, sides = (m.checked, sides) if check.dtype == "float64" and sides else _float64_run(m, check, d, device)
    if wide is None:
        return
    if m.eps.value and m.eps.switchable:
        exact = build_forward(check, d, torch.float64, device, eps_off=True, eps_dtype=DTYPES[check.dtype])
        m.exact, off = _run(check, exact, d, "float64", device, noise_from=wide)
        m.eps_effect = _eps_effect(sides, off, wide.scale)
    else:
        m.exact = wide
        if m.eps.value and not m.eps.switchable:  # stated, kept in no attribute: estimated instead
            m.eps_allowance = eps_model.allowance(check, d, m.eps.value)
    m.degenerate = _degenerate(m.exact, wide.moves)
    # A degenerate trial's 0/0 is no overflow: the range is judged on the trials that count.
    m.range_problem = stored or _not_finite(check.dtype, m.checked, m.degenerate)
    if m.check.norm.module is not None and wide.noise and max(wide.noise) > tol.FLOAT64_NOISE_LIMIT:
        m.notes.append(f"its float64 run has rounding noise {max(wide.noise):.2g}, far above float64's: "
                       "it computes in lower precision (float32?) internally")


def _probe_sample(m: Measurement, small: CheckConfig, d: Draw, device: torch.device) -> None:
    """The checked dtype's noise, probed on the sample and stretched to the whole output."""
    fwd = build_forward(small, d, DTYPES[small.dtype], device)
    probed, _ = _run(small, fwd, d, small.dtype, device)
    factor = sample.stretch(m.check, small)
    m.checked.noise = [n * factor for n in probed.noise]
    m.checked.moves = probed.moves
    m.checked.finite = [a and b for a, b in zip(m.checked.finite, probed.finite)]


def _float64_run(m: Measurement, check: CheckConfig, d: Draw,
                 device: torch.device) -> tuple[RunNumbers | None, Sides | None]:
    """The same layer in float64, or None (with a note) where it cannot run in float64."""
    from invcheck.errors import InvcheckError

    try:
        fwd = build_forward(check, d, torch.float64, device, eps_dtype=DTYPES[check.dtype])
        return _run(check, fwd, d, "float64", device)
    except InvcheckError as err:
        if m.check.norm.module is None:
            raise
        m.notes.append(f"no float64 run ({err}); judged on {m.check.dtype} alone")
        return None, None


def _run(check: CheckConfig, fwd: Forward, d: Draw, dtype: str, device: torch.device,
         noise_from: RunNumbers | None = None, probe: bool = True) -> tuple[RunNumbers, Sides]:
    """Both sides in `dtype`, with the noise probe (unless `noise_from` lends its noise), in one call:
    the numbers, and the two sides' outputs (float64, CPU)."""
    torch_dtype, t = DTYPES[dtype], check.trials
    probe_on = probe and noise_from is None
    points = STENCIL.points if probe_on else (0,)
    e = tol.dither(dtype, check.tf32 and device.type == "cuda")
    y = fwd(*_stacked(check, d, points, e, torch_dtype, device))
    y = y.double().cpu().reshape(2, len(points), t, *y.shape[1:])  # [side, point, T, N, C, *pos]
    run = RunNumbers(dtype)
    scale = torch.maximum(y[0, 0].abs().flatten(1).amax(1), y[1, 0].abs().flatten(1).amax(1))  # [T], NaN if any is
    run.scale = scale.nan_to_num(nan=math.inf).tolist()
    run.deviation, run.where = _deviation(y[0, 0], y[1, 0], scale)
    if not probe_on:
        run.noise = noise_from.noise if noise_from else []
        run.finite = [math.isfinite(s) for s in run.scale]
    else:
        run.noise, run.moves = _noise(y, scale, STENCIL)
        run.finite = [math.isfinite(s) and math.isfinite(n) for s, n in zip(run.scale, run.noise)]
    return run, (y[0, 0], y[1, 0])


def _stacked(check: CheckConfig, d: Draw, points: tuple[int, ...], e: float, dtype: torch.dtype,
             device: torch.device) -> tuple[Tensor, Tensor]:
    """Both sides' X and W at every probe point, stacked on the trial axis: [2 P T, ...], in the
    checked dtype on the device (kept in the draw's cache while small: the table reuses them)."""
    key = ("stacked", points, e, dtype, str(device))
    if key in d.cache:
        return d.cache[key]
    signs = _signs(check, d) if points != (0,) else (None, None)  # no dither: no signs to draw
    # each piece cast before it is stacked: no float64 copy of everything at once
    xs = [_dithered(side_x, k * e, signs[0]).to(device, dtype) for side_x in (d.x, d.x2) for k in points]
    ws = [_dithered(side_w, k * e, signs[1]).to(device, dtype) for side_w in (d.w, d.w2) for k in points]
    stacked = torch.cat(xs), torch.cat(ws)
    if stacked[0].numel() + stacked[1].numel() <= CACHE_ENTRIES:
        d.cache[key] = stacked
    return stacked


def _signs(check: CheckConfig, d: Draw) -> tuple[Tensor, Tensor]:
    """Fixed random signs of the dither, from a generator of its own: the draw is unchanged."""
    gen = torch.Generator().manual_seed(check.seed ^ 0x5EED)
    sign = lambda t: torch.randint(0, 2, t.shape, generator=gen, dtype=torch.float64).mul_(2).sub_(1)  # noqa: E731
    return sign(d.x), sign(d.w)


def _dithered(t: Tensor, step: float, signs: Tensor) -> Tensor:
    """t with each entry moved by step * |entry| in its own random direction (k e of the stencil):
    t (1 + step s), s random signs, one pass over t."""
    return t if step == 0 else t * (1 + step * signs)


def _deviation(y0: Tensor, y1: Tensor, scale: Tensor) -> tuple[list[float], list[dict[str, int]]]:
    """Per-trial relative deviation max|y1 - y0| / scale, and where the largest one sits."""
    diff = (y1 - y0).abs().nan_to_num(nan=math.inf).flatten(1)  # [T, rest]
    deviation = diff.amax(1) / scale.clamp_min(torch.finfo(torch.float64).tiny)
    # numpy's unravel_index: torch's imports sympy (half a second) on first use.
    cases, units = np.unravel_index(diff.argmax(1).numpy(), tuple(y0.shape[1:]))[:2]
    where = [{"trial": t, "case": int(n), "unit": int(c)} for t, (n, c) in enumerate(zip(cases, units))]
    return deviation.tolist(), where


def _noise(y: Tensor, scale: Tensor, probe: Probe) -> tuple[list[float], list[bool]]:
    """Per trial: the rounding noise of the deviation, from each side's probe, and whether the
    output moved at all when the inputs were moved."""
    r = sum(c * y[:, i] for i, c in enumerate(probe.weights))  # [side, T, N, C, *pos]
    per_side = r.abs().nan_to_num(nan=math.inf).flatten(2).amax(2) / probe.gain  # [side, T]
    noise = per_side.square().sum(0).sqrt() / scale.clamp_min(torch.finfo(torch.float64).tiny)
    moves = (y[:, 1] != y[:, 0]).flatten(2).any(2).all(0)  # [T]: both sides respond to their inputs
    return noise.tolist(), moves.tolist()


def _eps_effect(with_eps: Sides, off: Sides, scale: list[float]) -> list[float]:
    """What eps moves between the sides, per trial, relative to the output: what can hide or make
    a deviation (its effect on one side alone, shared by both, cannot)."""
    scale = torch.tensor(scale, dtype=torch.float64).clamp_min(torch.finfo(torch.float64).tiny)
    e0, e1 = with_eps[0] - off[0], with_eps[1] - off[1]  # eps's effect on each side, entry by entry
    between = (e1 - e0).abs().nan_to_num(nan=0.0).flatten(1).amax(1) / scale
    return between.tolist()


def _degenerate(exact: RunNumbers, moves: list[bool]) -> list[str | None]:
    """Per trial, why it cannot count: the layer's math divides by zero, or its output is constant."""
    reasons: list[str | None] = []
    for t in range(len(exact.scale)):
        if not exact.finite[t]:
            reasons.append("zero variance: its output is not finite with eps off (a statistic's spread is 0)")
        elif exact.scale[t] == 0.0:
            reasons.append("its output is zero")
        elif moves and not moves[t]:
            reasons.append("its output does not move when its inputs do: constant")
        else:
            reasons.append(None)
    return reasons


def _storage_problem(d: Draw, dtype: str) -> str | None:
    """Inputs the checked dtype cannot hold: overflow, or underflow that loses more of a tensor
    than rounding would (a few tiny entries of a random matrix lose nothing that counts)."""
    if dtype == "float64":
        return None
    info = torch.finfo(DTYPES[dtype])
    for name, t in (("X", d.x), ("W", d.w), ("X'", d.x2), ("W'", d.w2)):
        stored = t.to(DTYPES[dtype]).double()
        if not bool(torch.isfinite(stored).all()):
            return f"{name} overflows {dtype} (entries above {info.max:.3g})"
        lost = float((stored - t).norm() / t.norm().clamp_min(info.tiny))
        if tol.storage_error(lost, dtype):
            return (f"{name} underflows {dtype}: storing it loses {lost:.2g} of it, far more than rounding "
                    f"(entries below {dtype}'s smallest normal {info.tiny:.3g}; scale factors too small?)")
    return None


def _not_finite(dtype: str, run: RunNumbers, degenerate: list[str | None] | None = None) -> str | None:
    """Outputs the checked dtype cannot hold, on the trials that count."""
    if dtype == "float64":
        return None
    if not all(f or reason for f, reason in zip(run.finite, degenerate or [None] * len(run.finite))):
        return f"the {dtype} output is not finite (NaN or inf): overflow inside the layer?"
    return None
