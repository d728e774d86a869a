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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from time import perf_counter  # bound here: user code may rebind time.perf_counter

import numpy as np
import torch

from invcheck import eps_model, informative, sample, two_entry_sets, zero_sets
from invcheck import tolerance as tol
from invcheck.draws import CACHE_ENTRIES, draw
from invcheck.evidence import Measurement, Positions, RunNumbers
from invcheck.impls import Draw, Forward, build_forward
from invcheck.norms import NORMS, get_norm
from invcheck.placements import get_placement
from invcheck.runtime import DTYPES, device_name, numerics, resolve_device
from invcheck.settings import CheckConfig
from invcheck.transforms import transform_of

Tensor = torch.Tensor
Sides = tuple[Tensor, Tensor]  # y and y' of every trial: [T, N, C, *positions] each, float64 on the device


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
# A trial's noise is the largest of its output's rounding errors; where the output has few entries
# (instance_norm over 2 tokens: 16 entries), the largest of so few is a poor estimate of the largest
# the deviation can show (7 of 40 seeds fell short): the probe is repeated with fresh dither signs
# until about this many errors of each trial are seen.
MIN_SAMPLES = 256
# Both the noise and the deviation are read where the output is most sensitive. Where a few entries
# dominate (a conv position left with two small nonzero channels after a ReLU, their summed inputs
# cancelling 100-fold), one probe sees one draw of those entries' rounding, which can be near zero
# by chance: with one draw, 2% of such trials read a deviation above MARGIN x its tolerance (a false
# not_invariant, measured at conv post_activation layer_norm_2d x dataset_rescale, seed 1003). So where
# a trial's deviation exceeds its rounding tolerance, the probe is repeated with fresh dither signs
# until about MIN_EFFECTIVE draws of the dominant entries are seen (at most MAX_REPEATS probes: the
# chance of such a false reading falls below 1e-5). Dominant entries are counted as sum x^2 / max x^2
# over the trial's residuals and deviation, whichever is fewest. More draws only raise the noise, so
# trials within their tolerance (no verdict to change) and far beyond it (REPEAT_BELOW: a violation
# no draw explains) are probed once.
MIN_EFFECTIVE = 16
MAX_REPEATS = 8
REPEAT_BELOW = 1e3


def measure(check: CheckConfig) -> Measurement:
    """Run one check, held to the rules already (`runner.run_check`); the math never raises."""
    start = perf_counter()
    m = Measurement(check)
    m.undefined = _undefined_reason(check)
    if m.undefined:
        return m
    m.check, note = two_entry_sets.enough(check)  # a ±1 output: enough sets to show a swap
    if note:
        m.notes.append(note)
    device = resolve_device(check.device)
    m.device, m.tf32 = device_name(device), check.tf32 and device.type == "cuda"
    d = draw(m.check)
    more, note = informative.enough(m.check, d)  # small sets: enough trials whose output responds
    if note:
        m.check, d = more, draw(more)
        m.notes.append(note)
    with numerics(device, check.tf32), torch.no_grad():
        _measure(m, d, device)
    m.seconds = perf_counter() - start
    return m


def _undefined_reason(check: CheckConfig) -> str | None:
    kind = check.layer.kind_spec
    if check.norm.module is None and check.norm.id in NORMS:
        norm = get_norm(check.norm.id)
        reason = norm.undefined_reason(kind, check.layer, check.norm) or get_placement(
            check.layer.placement
        ).undefined_reason(norm)
        if reason:
            return reason
    return transform_of(check.transform, check).undefined_reason(kind)


@dataclass
class Plan:
    """Where the float64 runs look once the checked dtype has run: the whole check, or a built-in
    norm's exact sample; the sample their noise probe looks at (None: they probe themselves); and
    the checked run's whole outputs where a float64 check can use them as its own."""

    check: CheckConfig
    draw: Draw
    probe: tuple[CheckConfig, Draw] | None = None
    sides: Sides | None = None


def _measure(m: Measurement, d: Draw, device: torch.device) -> None:
    fwd = build_forward(m.check, d, DTYPES[m.check.dtype], device)
    m.eps = fwd.eps_info
    m.eps_blind = _eps_blind(m)
    if m.eps_blind:
        m.notes.append(
            f"eps {m.eps.value:g} counts as no excuse here: {m.check.transform.id} leaves a norm that removes it "
            "the same a - mu and sigma on both sides, so eps cannot move them apart"
        )
    plan = _checked_run(m, fwd, d, device)
    check, d, checked = plan.check, plan.draw, m.checked
    assert checked is not None  # _checked_run made it
    stored = _storage_problem(d, check.dtype)  # the draws alone decide it: computed once
    m.range_problem = stored or _not_finite(check.dtype, checked)
    if check.tolerance is not None:
        return  # the user's own tolerance: the checked run alone is judged
    wide, sides = (
        (m.checked, plan.sides)
        if check.dtype == "float64" and plan.sides
        else _float64_run(m, check, d, plan.probe, device, plan.sides)
    )
    if wide is None:
        return
    assert sides is not None  # the float64 run's outputs come with it
    if m.eps.value and m.eps.switchable:
        exact = build_forward(check, d, torch.float64, device, eps_off=True, eps_dtype=DTYPES[check.dtype])
        # probed itself, where the whole layer is probed: with eps off a set of small spread (a conv
        # position left with two small channels after a ReLU) is far more sensitive than with eps
        # (1e-5 above its variance), so the run with eps has less noise than this one (measured: 3.3e-15
        # against a deviation of 2.5e-14, a false not_invariant of torch's layers at seed 1003)
        m.exact, off = _run(check, exact, d, "float64", device, noise_from=wide if plan.probe else None)
        m.eps_effect = _eps_effect(sides, off, wide.scale)
        # what rounding alone makes of eps's effect there: both runs' noise (a near tie's, with eps)
        if m.eps_blind:
            m.eps_on_noise = list(wide.noise)
    else:
        m.exact = wide
        if m.eps.value and not m.eps.switchable and not m.eps_blind:  # stated, kept in no attribute
            m.eps_allowance = eps_model.allowance(check, d, m.eps.value)  # user code: d is every case
    zero = zero_sets.mask(check, d, device)
    m.left_out = zero_sets.left_out(zero, d.trials)
    m.entries = sides[0][0].numel()
    m.degenerate = _degenerate(m.exact, wide, m.check.norm.module is not None, m.left_out, m.entries)
    for t, inside in enumerate(zero_sets.zero_inside(check, d)):
        if inside and t < len(m.degenerate):  # the checked dtype's 0/0 inside a recurrent layer
            m.degenerate[t] = (
                f"zero variance in {check.dtype}: a set's entries round to one value, so with eps "
                f"{check.norm.eps:g} the norm divides 0 by 0 (and a recurrent layer carries it to every later step)"
            )
    # A degenerate trial's 0/0 is no overflow: the range is judged on the trials that count.
    m.range_problem = stored or _not_finite(check.dtype, checked, m.degenerate)
    _precision_notes(m, checked, wide, lambda: _call_to_call(check, d, device))


def _call_to_call(check: CheckConfig, d: Draw, device: torch.device) -> float:
    """How far two float64 calls of the layer on the same inputs differ, relative to its output: 0
    for a function of its inputs; dropout in train mode, say, differs."""
    fwd = build_forward(check, d, torch.float64, device)
    x, w = d.x.to(device, torch.float64), d.w.to(device, torch.float64)
    first, second = fwd(x, w).double(), fwd(x, w).double()
    scale = float(torch.maximum(first.abs(), second.abs()).nan_to_num(0.0, 0.0, 0.0).max())
    differ = float((first - second).abs().nan_to_num(0.0, 0.0, 0.0).max())
    return differ / scale if scale > 0 else 0.0


# Noise, relative to the output, that no precision's rounding makes: 64 units of bfloat16's, the
# coarsest probed (torch.sign measures 1, dropout ~0.9; a layer in bfloat16 inside ~0.01)
_BEYOND_ROUNDING = 0.25


def _precision_notes(
    m: Measurement, checked: RunNumbers, wide: RunNumbers, call_to_call: Callable[[], float]
) -> None:
    """What the probe learned of the precision the layer computes in, from the trials that count: a
    trial that is 0/0 (groups of one entry) has a rounding remainder over a spread of 0 for its noise,
    no sign of a lower precision (GroupNorm(16, 16): "rounding noise 1.8 ... float32 inside"). Noise
    no precision's rounding makes is said for what it is: user code whose output differs from call
    to call on the same inputs (dropout), or that moves only in jumps (torch.sign)."""
    live = [t for t, reason in enumerate(m.degenerate) if reason is None]
    if not live:
        return
    coarse = max((r.step, r.dtype) for r in (checked, wide))
    noise = [wide.noise[t] for t in live if t < len(wide.noise)]
    beyond_rounding = bool(noise) and max(noise) > _BEYOND_ROUNDING
    user = m.check.norm.module is not None
    # user code whose float64 run is noisier than float64's rounding: randomness (noise added in
    # forward, dropout), a step function, or a lower precision inside, told apart by two calls
    if user and noise and max(noise) > tol.FLOAT64_NOISE_LIMIT and (differ := call_to_call()) > 0:
        m.eps_effect, m.eps_effect_whole = [], []  # the eps-off run differs by that randomness too
        m.notes.append(
            "its output is not a deterministic function of its input: two calls on the same input "
            f"differ by {differ:.2g} of the output (randomness, as dropout in train mode), not rounding"
        )
        return
    if user and beyond_rounding:
        if tol.precision_of(coarse[0]) and coarse[0] > tol.dither(coarse[1]):
            m.notes.append(
                f"its output moves with its inputs only in jumps ({max(noise):.2g} of the output at a probe step "
                f"of {coarse[0]:.2g}): a step function of its inputs (as torch.sign), no rounding of a precision"
            )
        else:
            m.notes.append(
                f"its float64 run moves {max(noise):.2g} of the output where its inputs move by rounding: "
                "beyond any precision's rounding, its output jumps with its inputs"
            )
        return
    if tol.precision_of(coarse[0]) and coarse[0] > tol.dither(coarse[1]):
        m.notes.append(
            f"its output moves with its inputs only at steps of {coarse[0]:.2g} ({tol.precision_of(coarse[0])}'s): "
            f"it computes in {tol.precision_of(coarse[0])} (or coarser) inside; its rounding noise was probed at that step"
        )
    elif m.check.norm.module is not None and noise and max(noise) > tol.FLOAT64_NOISE_LIMIT:
        m.notes.append(
            f"its float64 run has rounding noise {max(noise):.2g}, far above float64's: "
            "it computes in lower precision (float32?) internally"
        )


def _eps_blind(m: Measurement) -> bool:
    """Whether eps's effect between the sides excuses nothing: a transform a norm removes whole
    (`eps_blind`, a recentering) leaves the norm the same a - mu and sigma on both sides, so eps
    cannot move them apart (a mean leak kept in an attribute named `eps` moved them 0.016 apart, and
    read "invariant up to eps"). Not behind a ReLU, where the norm does not see the transform itself
    (a centered norm of two entries keeps only their order with eps 0, and with eps their distance
    too: eps's own effect there)."""
    check = m.check
    return (
        bool(m.eps.value)
        and transform_of(check.transform, check).eps_blind
        and not get_placement(check.layer.placement).zeroes_sets
    )


def _checked_run(m: Measurement, fwd: Forward, d: Draw, device: torch.device) -> Plan:
    """The checked dtype's run over everything, its noise probed on a sample where the layer is large
    or the trials many, and where the float64 runs will look."""
    check, user = m.check, m.check.norm.module is not None
    # a ±1 output's noise is heavy-tailed over its sets (a near tie's rounding, relative to its tiny
    # spread): no sample of cases or trials stands for the rest, every trial is probed
    sampled = check.tolerance is None and not two_entry_sets.sets_per_trial(check)
    small = sample.smaller(check, d) if sampled else None
    few = sample.fewer_trials(check, d) if sampled and small is None else None
    sides: Sides | None
    m.checked, sides = _run(check, fwd, d, check.dtype, device, probe=small is None and few is None)
    if small is not None:
        whole, sides = sides, None  # the whole outputs: not kept while the sample runs
        part = _probe(m.checked, check, small, check.dtype, device)
        if not user:  # a built-in norm's sample is exact: its float64 runs look there
            m.notes.append(sample.describe(check, small[0]))
            if m.eps.value and m.eps.switchable:  # but eps's effect is wanted over the whole output
                m.eps_effect_whole = _eps_effect_whole(check, d, whole, m.checked.scale, device)
            return Plan(*small)
        if _is_part(part, whole, small[0]):  # user code: its sample stands for its noise alone
            m.notes.append(sample.describe(check, small[0]))
            return Plan(check, d, probe=small, sides=whole)  # its float64 runs see every case
        # its first cases alone do not give the whole run's outputs bit for bit: its cases are not
        # independent, so no sample stands for it; probed whole instead
        m.notes.append("its first cases alone did not give the whole run's outputs bit for bit: probed whole")
        few = sample.fewer_trials(check, d)
        m.checked, sides = _run(check, fwd, d, check.dtype, device, probe=few is None)
    if few is not None:  # many trials: the probes look at the first few
        _probe(m.checked, check, few, check.dtype, device)
    return Plan(check, d, probe=few, sides=sides)


def _eps_effect_whole(
    check: CheckConfig, d: Draw, with_eps: Sides, scale: list[float], device: torch.device
) -> list[float]:
    """eps's effect between the sides over the whole output, in the checked dtype (two more forward
    passes with eps off): where the float64 runs see only a sample or cannot run."""
    off = build_forward(check, d, DTYPES[check.dtype], device, eps_off=True)
    _, off_sides = _run(check, off, d, check.dtype, device, probe=False)
    return _eps_effect(with_eps, off_sides, scale)


def _probe(
    run: RunNumbers,
    check: CheckConfig,
    small: tuple[CheckConfig, Draw],
    dtype: str,
    device: torch.device,
    eps_dtype: torch.dtype | None = None,
) -> Sides:
    """`run`'s noise from a probe of a sample: of cases or units, stretched to the whole output; or
    of the first trials, whose largest noise stands for the trials not probed (all drawn alike).
    Returns the sample's outputs at the drawn inputs."""
    s_check, s_draw = small
    fwd = build_forward(s_check, s_draw, DTYPES[dtype], device, eps_dtype=eps_dtype)
    probed, part = _run(s_check, fwd, s_draw, dtype, device)
    run.step = probed.step
    if s_check.trials == check.trials:
        factor = sample.stretch(check, s_check)
        run.noise, run.moves = [n * factor for n in probed.noise], probed.moves
    else:
        rest = check.trials - s_check.trials
        run.noise = probed.noise + [max(probed.noise)] * rest
        run.moves = probed.moves + [all(probed.moves)] * rest
    run.finite = [f and math.isfinite(n) for f, n in zip(run.finite, run.noise)]
    return part


def _is_part(part: Sides, whole: Sides, small: CheckConfig) -> bool:
    """Whether a sample of the first cases gave exactly the whole run's outputs for those cases."""
    k = small.layer.cases
    return all(torch.equal(p, w[:, :k]) for p, w in zip(part, whole))


def _float64_run(
    m: Measurement,
    check: CheckConfig,
    d: Draw,
    probe_sample: tuple[CheckConfig, Draw] | None,
    device: torch.device,
    checked: Sides | None,
) -> tuple[RunNumbers | None, Sides | None]:
    """The same layer in float64 (its noise probed on `probe_sample` where one is given), or None
    (with a note, and eps's effect measured in the checked dtype) where it cannot run in float64."""
    from invcheck.errors import InvcheckError

    try:
        fwd = build_forward(check, d, torch.float64, device, eps_dtype=DTYPES[check.dtype])
        wide, sides = _run(check, fwd, d, "float64", device, probe=probe_sample is None)
        if probe_sample is not None:
            _probe(wide, check, probe_sample, "float64", device, eps_dtype=DTYPES[check.dtype])
        return wide, sides
    except InvcheckError as err:
        if m.check.norm.module is None:
            raise
        m.notes.append(f"no float64 run ({err}); judged on {m.check.dtype} alone")
        if m.eps.value and m.eps.switchable and checked is not None and m.checked is not None:
            m.eps_effect_whole = _eps_effect_whole(check, d, checked, m.checked.scale, device)
        return None, None


def _run(
    check: CheckConfig,
    fwd: Forward,
    d: Draw,
    dtype: str,
    device: torch.device,
    noise_from: RunNumbers | None = None,
    probe: bool = True,
) -> tuple[RunNumbers, Sides]:
    """Both sides in `dtype`, with the noise probe (unless `noise_from` lends its noise or `probe`
    is off: a sample is probed instead): the numbers, and the two sides' outputs (float64, on the
    device: only per-trial numbers cross to the CPU)."""
    probe_on = probe and noise_from is None
    points = STENCIL.points if probe_on else (0,)
    tf32 = check.tf32 and device.type == "cuda"
    y0, residual, moved = _outputs(check, fwd, d, points, tol.dither(dtype, tf32), DTYPES[dtype], device)
    run = RunNumbers(dtype)
    scale = torch.maximum(_abs_max(y0[0]), _abs_max(y0[1]))  # [T], inf if any is NaN
    run.scale = scale.tolist()
    run.deviation, run.where = _deviation(y0[0], y0[1], scale)
    if not probe_on:
        run.noise = noise_from.noise if noise_from else []
        run.finite = [math.isfinite(s) for s in run.scale]
        return run, y0
    assert residual is not None and moved is not None  # made wherever the probe's points run
    run.noise, run.moves, run.step = _probe_noise(check, fwd, d, dtype, device, y0, residual, moved, scale)
    run.finite = [math.isfinite(s) and math.isfinite(n) for s, n in zip(run.scale, run.noise)]
    return run, y0


def _probed(
    check: CheckConfig, fwd: Forward, d: Draw, step: float, dtype: str, device: torch.device, again: int = 0
) -> tuple[Sides, tuple[Tensor, float]]:
    """The probe's residuals and movement at one dither step (the stencil has several points: both made)."""
    _, res, moved = _outputs(check, fwd, d, STENCIL.points, step, DTYPES[dtype], device, again)
    assert res is not None and moved is not None
    return res, moved


def _probe_noise(
    check: CheckConfig,
    fwd: Forward,
    d: Draw,
    dtype: str,
    device: torch.device,
    y0: Sides,
    residual: Sides,
    moved: tuple[Tensor, float],
    scale: Tensor,
) -> tuple[list[float], list[bool], float]:
    """Per trial, the rounding noise and whether the output moves; and the probe step that measured
    them. The step is the precision the layer really computes in, found by measuring: the checked
    dtype's step first, then each coarser precision's (tolerance.dithers) while most outputs do not
    move at it. Small outputs are probed again with fresh dither signs until about MIN_SAMPLES
    rounding errors of each trial are seen: the largest of a few errors is a poor estimate of the
    largest the deviation can show; and so is an output whose noise or deviation a few entries
    dominate, until about MIN_EFFECTIVE draws of those are seen (`_repeats`)."""
    steps = tol.dithers(dtype, check.tf32 and device.type == "cuda")
    piecewise = bool(two_entry_sets.sets_per_trial(check))
    if piecewise:  # a ±1 output jumps at a coarse step: no sign of precision
        steps = steps[:1]
    noise = torch.tensor(_noise(residual, scale, STENCIL), dtype=torch.float64)
    step, (moves, fraction) = steps[0], moved
    if fraction < tol.ALL_MOVE and len(steps) > 1:  # some outputs stay: does a coarser step move them?
        coarse = {steps[-1]: _probed(check, fwd, d, steps[-1], dtype, device)}
        if (
            fraction < tol.RESOLVED * coarse[steps[-1]][1][1]
        ):  # coarser inside: the largest noise of its steps
            for e in steps[1:]:
                res, (moves, _) = coarse.get(e) or _probed(check, fwd, d, e, dtype, device)
                noise = torch.maximum(noise, torch.tensor(_noise(res, scale, STENCIL), dtype=torch.float64))
                step = e
    entries = y0[0][0].numel()
    rounding = tol.SAFETY * noise.clamp_min(
        tol.floor(dtype, check.tf32 and device.type == "cuda") / tol.SAFETY
    )
    repeats = max(
        math.ceil(MIN_SAMPLES / max(entries, 1)),
        _repeats(y0, residual, rounding.to(scale.device) * scale, piecewise),
    )
    for again in range(1, repeats):
        res, (more, _) = _probed(check, fwd, d, step, dtype, device, again)
        noise = torch.maximum(noise, torch.tensor(_noise(res, scale, STENCIL), dtype=torch.float64))
        moves = moves | more
    if piecewise:  # ±1 per set stays at small steps by its math, yet is no constant: its trials count
        moves = torch.ones_like(moves)
    return noise.tolist(), moves.tolist(), step


def _repeats(y0: Sides, residual: Sides, tolerance: Tensor, piecewise: bool = False) -> int:
    """How many probes see about MIN_EFFECTIVE draws of the entries that dominate a trial's noise or
    deviation, in the trial where they are fewest, among the trials whose deviation lies between 1x
    and REPEAT_BELOW x `tolerance` (absolute, per trial); at most MAX_REPEATS. A ±1 output
    (`piecewise`: sets of two entries) takes MAX_REPEATS wherever a trial exceeds its tolerance:
    a near tie's rounding there is half an ulp of the mean over the set's spread, unbounded, and
    constant along a probe's line unless the step's last bits change it (instance_norm over 2 tokens,
    float64 eps off, a set 3.4e-4 apart: 4.2e-13 that the first probe missed, a false not_invariant
    at 17x its tolerance; 90% of 2000 repeats with random magnitudes see it, none with signs alone)."""
    difference = y0[1] - y0[0]
    deviation = difference.flatten(1).abs().nan_to_num(nan=0.0).amax(1)
    ratio = deviation / tolerance.to(deviation.device).clamp_min(torch.finfo(torch.float64).tiny)
    if piecewise:
        return MAX_REPEATS if bool((ratio > 1).any()) else 1
    risk = (ratio > 1) & (ratio < REPEAT_BELOW)
    if not bool(risk.any()):
        return 1
    fewest = min(float(_dominant(t)[risk].min()) for t in (residual[0], residual[1], difference))
    return min(MAX_REPEATS, math.ceil(MIN_EFFECTIVE / max(fewest, 1.0)))


def _dominant(t: Tensor) -> Tensor:
    """Per trial, how many entries are about as large as the largest: sum x^2 / max x^2 (inf where
    every entry is 0: nothing to see)."""
    sq = t.flatten(1).nan_to_num(nan=0.0, posinf=0.0, neginf=0.0).square()
    top = sq.amax(1)
    return torch.where(top > 0, sq.sum(1) / top.clamp_min(torch.finfo(torch.float64).tiny), math.inf)


@dataclass(frozen=True)
class _Probe:
    """Where one probe evaluates a check: the draw's inputs at the stencil's `points` (k e along fixed
    random signs, their draw `rep`), in `dtype` on `device`."""

    check: CheckConfig
    d: Draw
    points: tuple[int, ...]
    e: float
    dtype: torch.dtype
    device: torch.device
    rep: int = 0

    def inputs(
        self, side: int, points: tuple[int, ...] | None = None, reuse: bool = False
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """One side's X and W at each point (`_points`): the probe's, or those given."""
        at = self.points if points is None else points
        return _points(
            self.check, self.d, side, at, self.e, self.dtype, self.device, reuse=reuse, rep=self.rep
        )


def _outputs(
    check: CheckConfig,
    fwd: Forward,
    d: Draw,
    points: tuple[int, ...],
    e: float,
    dtype: torch.dtype,
    device: torch.device,
    rep: int = 0,
) -> tuple[Sides, Sides | None, tuple[Tensor, float] | None]:
    """Per side: the output at the drawn inputs, the probe's residual sum_k c_k y(x + k e) (None
    without a probe); and per trial whether both sides' outputs moved with their inputs, with the
    fraction of nonzero output entries that moved (rep: which draw of dither signs)."""
    weights = dict(zip(STENCIL.points, STENCIL.weights))
    probe = _Probe(check, d, points, e, dtype, device, rep)
    zero = zero_sets.mask(check, d, device)  # 0/0 entries: left out, as zeros on both sides
    if (
        2 * len(points) * (d.x.numel() + d.w.numel()) <= CACHE_ENTRIES
    ):  # one call, its inputs kept: small layers
        stacked = _stacked(probe)
        if len(points) > 1:  # a set the probe's dither zeroes is 0/0 there too
            zero = _union(zero, zero_sets.at_points(check, [stacked], d.trials, d))
        out = fwd(*stacked)
        out = out.double().reshape(2, len(points), d.trials, *out.shape[1:])  # [side, point, T, ...]
        per_side = [iter(out[side]) for side in (0, 1)]
    else:  # one call per side and point: memory holds one copy of the inputs at a time
        if len(points) > 1 and zero_sets.applies(check):  # a set the probe's dither zeroes is 0/0 there too
            for side in (0, 1):
                zero = _union(zero, zero_sets.at_points(check, probe.inputs(side), d.trials, d))
        per_side = [(fwd(x, w).double() for x, w in probe.inputs(side, reuse=True)) for side in (0, 1)]
    alone = _x_alone(fwd, probe)
    # a trial whose sets leave the output constant moves at no step by its math: it counts (a changed
    # pattern is a violation), and its stillness says nothing of the precision inside
    constant = informative.constant_trials(check, d)
    base: list[Tensor] = []
    residual: list[Tensor] = []
    moved: list[Tensor] = []
    live = changed = 0
    for side, outputs in enumerate(per_side):
        acc: Tensor | None = None
        for k, y in zip(points, outputs):
            if zero is not None and zero.shape == y.shape:
                y = y.masked_fill(zero, 0.0)
            if k == 0:
                base.append(y)
            elif k == points[1]:
                seen = y if alone is None else alone[side]
                if alone is not None and zero is not None and zero.shape == seen.shape:
                    seen = seen.masked_fill(zero, 0.0)
                step = seen != base[-1]
                nonzero = base[-1] != 0  # exact zeros (a ReLU's) never move: not counted
                if constant is not None:
                    still = constant.to(step.device).reshape(-1, *[1] * (step.dim() - 1))
                    step, nonzero = step | still, nonzero & ~still
                moved.append(step.flatten(1).any(1))
                live += int(nonzero.sum())
                changed += int((step & nonzero).sum())
            if len(points) > 1:
                acc = y * weights[k] if acc is None else acc.add_(y, alpha=weights[k])
        if acc is not None:  # None with no probe: one point
            residual.append(acc)
    base, residual = _rounded_zero_sets(probe, base, residual)
    base, residual = _zero_inside(probe, base, residual)
    if len(points) == 1:
        return (base[0], base[1]), None, None
    fraction = changed / live if live else 1.0
    return (base[0], base[1]), (residual[0], residual[1]), (moved[0] & moved[1], fraction)


def _rounded_zero_sets(
    probe: _Probe, base: list[Tensor], residual: list[Tensor]
) -> tuple[list[Tensor], list[Tensor]]:
    """base and residual with the entries left out (zero on both sides) that a set zeroed by rounding
    made 0/0, where zero_sets' drawn-input mask cannot name them:
    - user code (zero_sets.user_rule): an entry finite at the drawn inputs but not at a dithered point
      (a coarse step rounded a set's two close entries to one value; with eps off, 0/0 there);
    - a built-in norm on the layer's input: an entry not finite at the drawn or dithered inputs, in a
      trial where X, in the run's dtype, has a set of zero spread (bfloat16 rounds two channels to one
      value: its 0/0 reaches the outputs through W; no overflow)."""
    check = probe.check
    user, on_input = zero_sets.user_rule(check), zero_sets.input_rule(check)
    if not (user or on_input):
        return base, residual
    finite = base[0].isfinite() & base[1].isfinite()
    bad = ~finite if on_input else torch.zeros_like(finite)
    if residual:
        bad |= ~(residual[0].isfinite() & residual[1].isfinite()) & finite
    if not bool(bad.any()):
        return base, residual
    if on_input:
        inputs = [xw for side in (0, 1) for xw in probe.inputs(side)]
        has = zero_sets.trials_with_zero_set(check, inputs, probe.d.trials)
        bad &= has.reshape(-1, *[1] * (bad.dim() - 1)).to(bad.device)
    return [y.masked_fill(bad, 0.0) for y in base], [r.masked_fill(bad, 0.0) for r in residual]


def _zero_inside(
    probe: _Probe, base: list[Tensor], residual: list[Tensor]
) -> tuple[list[Tensor], list[Tensor]]:
    """base and residual with the trials left out (zero on both sides, and noted with the draw) where
    a built-in norm inside a recurrent layer met a set of zero spread (zero_sets.inside_rule): not
    finite at some point of the run, but finite when the same inputs run again with the dtype's
    smallest eps (0/0 made x/tiny: no overflow). Its NaN spreads through h to every later step
    (a batch_norm over 2 cases in bfloat16: a third of the trials, at some probe point), where it read
    as "overflow inside the layer?" and made every such cell undefined."""
    check, d = probe.check, probe.d
    if not zero_sets.inside_rule(check):
        return base, residual
    t = base[0].shape[0]
    bad = torch.zeros(t, dtype=torch.bool, device=base[0].device)
    for y in (*base, *residual):
        bad |= ~y.isfinite().flatten(1).all(1)
    if not bool(bad.any()):
        return base, residual
    tiny = replace(check, norm=replace(check.norm, eps=float(torch.finfo(probe.dtype).tiny), torch_eps=False))
    fwd = build_forward(tiny, d, probe.dtype, probe.device)
    finite = torch.ones_like(bad)
    for side in (0, 1):
        for x, w in probe.inputs(side):
            finite &= fwd(x, w).isfinite().flatten(1).all(1)
    zero = bad & finite
    if not bool(zero.any()):
        return base, residual
    zero_sets.note_inside(check, d, zero.cpu())
    mask = zero.reshape(-1, *[1] * (base[0].dim() - 1))
    return [y.masked_fill(mask, 0.0) for y in base], [r.masked_fill(mask, 0.0) for r in residual]


def _x_alone(fwd: Forward, probe: _Probe) -> list[Tensor] | None:
    """Per side, the output at the probe's first step with X moved and W not: where user code is the
    norm on the layer's input, whether the norm's output moves. norm(X) W^T moves with W at any step,
    so the full probe's outputs all move, and a norm that rounds in bfloat16 inside would keep the
    fine step, whose dither it rounds away (measured noise 6e-16 against its own 1e-3). None elsewhere
    (the output is the norm's own)."""
    check, points = probe.check, probe.points
    if len(points) < 2 or check.norm.module is None or check.layer.placement != "input":
        return None
    alone = []
    for side in (0, 1):
        (_, w0), (x1, _) = probe.inputs(side, points=(0, points[1]))
        alone.append(fwd(x1, w0).double())
    return alone


def _union(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    return b if a is None else a if b is None else a | b


def _stacked(probe: _Probe) -> tuple[Tensor, Tensor]:
    """Both sides' X and W at every probe point, stacked on the trial axis: [2 P T, ...], in the
    checked dtype on the device; kept in the draw's cache (only small layers stack: the table's
    other norms reuse them)."""
    p, d = probe, probe.d
    key = ("stacked", p.points, p.e, p.dtype, str(p.device), p.rep, _sized(p.check, p.rep))
    if key in d.cache:
        return d.cache[key]
    pieces = [xw for side in (0, 1) for xw in probe.inputs(side)]
    stacked = torch.cat([x for x, _ in pieces]), torch.cat([w for _, w in pieces])
    d.cache[key] = stacked
    return stacked


def _points(
    check: CheckConfig,
    d: Draw,
    side: int,
    points: tuple[int, ...],
    e: float,
    dtype: torch.dtype,
    device: torch.device,
    reuse: bool = False,
    rep: int = 0,
) -> Iterator[tuple[Tensor, Tensor]]:
    """One side's X and W at each probe point, in the checked dtype on the device: each entry t of X
    and of W moved to t (1 + k e s), s a fixed random sign (a repeat of a ±1 output: times a
    magnitude, `_signs`; the same on both sides). Both move, also
    the input the two sides share: with one factor of each product fixed, a dot product's rounding
    keeps a part common to every probe point, which the fourth difference cancels (measured: a
    summed input cancelling 65-fold in a float64 FMA chain, X alone moved: mean error -4.4e-16 over
    the points, spread 1.9e-16 about it; X and W moved: mean -0.8e-16, spread 2.2e-16). Computed in
    the checked dtype (k e is a power of two: k e (t s) is exact, each point on one line rounds
    once). reuse: each
    moved input is written into one buffer, for a caller that is done with a point before asking
    for the next (a large layer: no fresh memory to fault in at every point)."""
    x, w = (d.x, d.w) if side == 0 else (d.x2, d.w2)
    x, w = x.to(device, dtype), w.to(device, dtype)
    if points == (0,):
        yield x, w
        return
    signs = _signs(check, d, rep)
    xs, ws = x * signs[0].to(device, dtype), w * signs[1].to(device, dtype)
    buffers = (torch.empty_like(x), torch.empty_like(w)) if reuse else (None, None)
    for k in points:
        yield (
            x if k == 0 else torch.add(x, xs, alpha=k * e, out=buffers[0]),
            w if k == 0 else torch.add(w, ws, alpha=k * e, out=buffers[1]),
        )


def _signs(check: CheckConfig, d: Draw, rep: int = 0) -> tuple[Tensor, Tensor]:
    """Fixed random signs of the dither (int8), from a generator of their own: the draw is unchanged.
    Kept with the draw: every probe of a check (its dtype's, float64's) uses the same (rep: a
    further draw of them, for an output probed again; for a ±1 output, signs times random
    magnitudes in [1, 2), float64: `_sized`)."""
    sized = _sized(check, rep)
    key = ("signs", rep, sized)
    if key not in d.cache:
        gen = torch.Generator().manual_seed((check.seed ^ 0x5EED) + 7919 * rep)
        sign = lambda t: torch.randint(0, 2, t.shape, generator=gen, dtype=torch.int8).mul_(2).sub_(1)  # noqa: E731
        if sized:
            size = lambda t: sign(t) * torch.rand(t.shape, generator=gen, dtype=torch.float64).add_(1.0)  # noqa: E731
            d.cache[key] = size(d.x), size(d.w)
        else:
            d.cache[key] = sign(d.x), sign(d.w)
    return d.cache[key]


def _sized(check: CheckConfig, rep: int) -> bool:
    """Whether a probe's steps have random magnitudes as well as signs: the repeats of a ±1 output
    (a centered norm of two-entry sets). Its rounding is a mean's, by half an ulp over the set's
    spread, and the mean's last bit at t (1 + k e s) follows the last bits of round(k e t / ulp),
    which a sign does not change: repeats with fresh signs alone saw the same errors again (a set of
    two tokens 3.4e-4 apart: 4.2e-13 at every point of every repeat, which the fourth difference
    cancels; with magnitudes 90% of repeats see it). Elsewhere the repeats keep the steps they were
    calibrated with (a bfloat16 norm after a ReLU measured up to 2.7x more noise with magnitudes)."""
    return rep > 0 and bool(two_entry_sets.sets_per_trial(check))


def _abs_max(y: Tensor) -> Tensor:
    """Per trial: the largest |entry|, inf where any is NaN. (max and -min: no copy of y, and
    8x faster on the CPU than vector_norm's inf-norm.)"""
    flat = y.flatten(1)
    return torch.maximum(flat.amax(1), flat.amin(1).neg_()).nan_to_num_(nan=math.inf)


def _deviation(y0: Tensor, y1: Tensor, scale: Tensor) -> tuple[list[float], Positions]:
    """Per-trial relative deviation max|y1 - y0| / scale, and where the largest one sits."""
    diff = torch.sub(y1, y0).abs_().nan_to_num_(nan=math.inf).flatten(1)  # [T, rest]
    deviation = diff.amax(1) / scale.clamp_min(torch.finfo(torch.float64).tiny)
    # numpy's unravel_index: torch's imports sympy (half a second) on first use.
    cases, units = np.unravel_index(diff.argmax(1).cpu().numpy(), tuple(y0.shape[1:]))[:2]
    return deviation.tolist(), Positions(cases.tolist(), units.tolist())


def _noise(residual: Sides, scale: Tensor, probe: Probe) -> list[float]:
    """Per trial: the rounding noise of the deviation, from each side's probe residual."""
    per_side = torch.stack([_abs_max(r) for r in residual]) / probe.gain  # [side, T]
    noise = per_side.square().sum(0).sqrt() / scale.clamp_min(torch.finfo(torch.float64).tiny)
    return noise.tolist()


def _eps_effect(with_eps: Sides, off: Sides, scale: list[float]) -> list[float]:
    """What eps moves between the sides, per trial, relative to the output: what can hide or make
    a deviation (its effect on one side alone, shared by both, cannot)."""
    size = torch.tensor(scale, dtype=torch.float64, device=off[0].device).clamp_min(
        torch.finfo(torch.float64).tiny
    )
    e0, e1 = with_eps[0] - off[0], with_eps[1] - off[1]  # eps's effect on each side, entry by entry
    between = (e1 - e0).abs().nan_to_num(nan=0.0).flatten(1).amax(1) / size
    return between.tolist()


def _degenerate(
    exact: RunNumbers, wide: RunNumbers, user: bool, left_out: list[int] | None = None, entries: int = 0
) -> list[str | None]:
    """Per trial, why it cannot count: every entry's set has zero spread (0/0 entries are left out,
    zero_sets.py: a trial counts while one entry is left), the layer's math divides by zero, it
    returns NaN or inf itself, or its output is constant (`wide`, the float64 run with eps, probed
    its inputs)."""
    zero = "zero variance: its output is not finite with eps off (a statistic's spread is 0)"
    if user and wide is exact:  # no eps to tell 0/0 from the layer's own NaN
        zero = "its output is not finite (NaN or inf) in float64: a statistic's spread is 0, or the layer returns NaN"
    reasons: list[str | None] = []
    for t in range(len(exact.scale)):
        if left_out and entries and left_out[t] >= entries:  # user code with no eps: NaN, 0/0 or its own
            reasons.append(
                zero
                if user and wide is exact
                else "zero variance: every entry's set has zero spread (0/0 with eps off)"
            )
        elif not exact.finite[t]:
            itself = wide is not exact and not wide.finite[t]  # with eps on, a zero spread stays finite
            reasons.append(
                "its output is not finite (NaN or inf) even with its eps: the layer returns NaN or inf"
                if itself
                else zero
            )
        elif wide is not exact and exact.scale[t] > tol.ZERO_SPREAD * wide.scale[t]:
            reasons.append(
                f"zero variance: with eps off its output is {exact.scale[t] / wide.scale[t]:.2g}x its output with "
                "eps, beyond any normalized value: a rounding remainder divided by a spread of 0 (0/0)"
            )
        elif exact.scale[t] == 0.0:
            reasons.append("its output is zero")
        elif wide.moves and not wide.moves[t]:
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
        low, high = torch.aminmax(t.abs())
        if info.tiny <= low and high <= info.max:
            continue  # every entry a normal number of the dtype: it loses rounding at most
        stored = t.to(DTYPES[dtype]).double()
        if not bool(torch.isfinite(stored).all()):
            return f"{name} overflows {dtype} (entries above {info.max:.3g})"
        lost = float((stored - t).norm() / t.norm().clamp_min(info.tiny))
        if tol.storage_error(lost, dtype):
            return (
                f"{name} underflows {dtype}: storing it loses {lost:.2g} of it, far more than rounding "
                f"(entries below {dtype}'s smallest normal {info.tiny:.3g}; scale factors too small?)"
            )
    return None


def _not_finite(dtype: str, run: RunNumbers, degenerate: list[str | None] | None = None) -> str | None:
    """Outputs the checked dtype cannot hold, on the trials that count."""
    if dtype == "float64":
        return None
    if not all(f or reason for f, reason in zip(run.finite, degenerate or [None] * len(run.finite))):
        return (
            f"the {dtype} output is not finite (NaN or inf): overflow, or underflow to 0/0, inside the layer?"
        )
    return None
