"""Judge a measurement: each deviation against its tolerance, into one of the four verdicts.

A check compares up to three things per trial (`measure.py` says how each is measured):
- the checked dtype's deviation, against SAFETY x its measured rounding noise plus what eps
  moves between the sides;
- the float64 run's deviation with eps switched off (the layer's exact math), against SAFETY x its
  own noise: it sees violations the checked dtype's rounding hides;
- eps's own effect between the sides: reported with the verdict ("invariant up to eps: eps moves
  the sides apart by 2.3%"), and held against a bound only where the check sets one
  (`max_eps_effect`). With no fixed cap, a cell whose eps effect lies near some threshold cannot flip
  between verdicts with the seed (1.02% against a 1% cap did): the exact math decides invariance,
  eps's effect is a measured qualifier of it.
Verdicts: not_invariant when the float64 run deviates beyond MARGIN x its tolerance, or eps moves
the sides apart by more than MARGIN x a bound the check set; invariant when every comparison is
within its tolerance and the tolerance is tight enough to mean something; undefined when the
checked dtype under- or overflows, or no trial can count; inconclusive otherwise, with the
comparison that made it so.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from invcheck import tolerance as tol
from invcheck.evidence import Measurement, Result


@dataclass(frozen=True)
class Comparison:
    """One deviation held against one tolerance, in one trial."""

    run: str  # "float32", "float64", "float64, eps off", "eps"
    trial: int
    deviation: float
    tolerance: float
    bound: str  # "rounding", "eps", "override"
    # why, in words: written only for the comparisons a result shows (formatting every trial's
    # numbers cost more than judging them: a fifth of a 1,000-trial check)
    words: Callable[[], str] = field(repr=False, compare=False)
    eps_part: float = field(default=0.0, compare=False)  # what of the tolerance eps's effect makes

    @property
    def why(self) -> str:
        return self.words()

    @property
    def ratio(self) -> float:
        if self.tolerance > 0:
            return self.deviation / self.tolerance
        return float("inf") if self.deviation > 0 else 0.0


def judge(m: Measurement) -> Result:
    """The verdict of a measurement, with the comparison that decided it and why."""
    if m.undefined is not None:
        return _result(m, "undefined", None, m.undefined)
    if m.check.tolerance is not None:
        return _override(m)
    assert m.checked is not None  # every defined measurement has its checked run
    live = [t for t, reason in enumerate(m.degenerate or [None] * len(m.checked.deviation)) if reason is None]
    if not live:
        return _result(m, "undefined", None, f"every trial is degenerate: {m.degenerate[0]}")
    exact = [_exact(m, t) for t in live] if m.exact is not None else []
    eps = [_eps(m, t) for t in live] if m.eps_effect or m.eps_effect_whole else []
    checked = [_checked(m, t) for t in live] if m.exact is not m.checked else []
    verdict, decisive, reason = _decide(m, exact, eps, checked)
    return _result(m, verdict, decisive, reason, (exact, eps, checked))


def _decide(
    m: Measurement, exact: list[Comparison], eps: list[Comparison], checked: list[Comparison]
) -> tuple[str, Comparison | None, str]:
    alone = checked or exact  # what stands for the checked dtype (float64: the exact run itself)
    violations = [c for c in exact + eps if c.ratio > tol.MARGIN]
    if not exact:  # no float64 run: the checked dtype is all the evidence there is
        violations += [c for c in checked if c.ratio > tol.MARGIN]
    if violations:
        return "not_invariant", _worst(violations), ""
    if m.range_problem:
        return "undefined", _worst(alone), m.range_problem
    if any(math.isnan(c.ratio) for c in exact + eps + checked):  # inf - inf: nothing to compare
        return (
            "undefined",
            None,
            "the output is not finite (NaN or inf) on both sides: overflow, or underflow to 0/0, inside the layer?",
        )
    beyond = [c for c in checked if c.ratio > tol.MARGIN]
    if beyond:
        if m.check.dtype == "float64":  # sampled: the whole float64 run against the sample's eps-off run
            return (
                "inconclusive",
                _worst(beyond),
                (
                    f"the float64 run over every entry deviates {_worst(beyond).ratio:.3g}x its tolerance, but the "
                    "float64 run with eps off, on the sample, does not"
                ),
            )
        return (
            "inconclusive",
            _worst(beyond),
            (
                f"the {m.check.dtype} run deviates {_worst(beyond).ratio:.3g}x its tolerance, but the float64 run of "
                f"the same layer does not: something {m.check.dtype}-specific (rounding inside the layer beyond what "
                "dithering shows, or overflow)"
            ),
        )
    everything = exact + eps + checked
    if all(c.ratio <= 1 for c in everything):
        # the power to see a violation: the float64 run's where there is one (it decides them)
        typical = statistics.median(c.tolerance - c.eps_part for c in exact or alone)
        if typical <= tol.MAX_TOLERANCE:
            return "invariant", _worst(alone), ""
        return (
            "inconclusive",
            _worst(alone),
            (
                f"a median tolerance of {typical:.2g} (above {tol.MAX_TOLERANCE:g}) is too loose to tell invariance from "
                "a violation: the layer's output is that noisy"
            ),
        )
    return "inconclusive", _worst([c for c in everything if c.ratio > 1]), ""


def _worst(comparisons: list[Comparison]) -> Comparison:
    return max(comparisons, key=lambda c: c.ratio)


# The comparisons ----------------------------------------------------------------------------------


def _exact(m: Measurement, t: int) -> Comparison:
    run = m.exact
    assert run is not None  # compared only where the float64 run was made
    off = bool(m.eps_effect)  # measured only where an eps-off run was made
    label = "float64, eps off" if off else "float64"
    tolerance = tol.rounding(run.noise[t], "float64")
    rounding = lambda: f"{label} run: {tol.SAFETY:g} x its measured rounding noise {run.noise[t]:.2g}"  # noqa: E731
    if m.eps.value and not m.eps.switchable:
        if m.eps_allowance is None:
            return Comparison(
                label,
                t,
                run.deviation[t],
                tolerance,
                "rounding",
                lambda: (
                    rounding()
                    + (f" (eps {m.eps.value:g} could not be switched off: its effect counts as deviation)")
                ),
            )
        # an estimate of what the stated eps can move the sides apart by (eps_model.py)
        allowance = min(m.eps_allowance[t], tol.EPS_CAP)
        return Comparison(
            label,
            t,
            run.deviation[t],
            tolerance + allowance,
            "eps" if allowance > tolerance else "rounding",
            lambda: (
                rounding()
                + (
                    f" + what eps {m.eps.value:g} (stated, not switched off) can move the sides apart "
                    f"by, estimated over the common statistics: {allowance:.2g}"
                )
            ),
        )
    return Comparison(label, t, run.deviation[t], tolerance, "rounding", rounding)


def _eps(m: Measurement, t: int) -> Comparison:
    effect = m.eps_effect[t] if m.eps_effect else 0.0
    how = "measured: the float64 run with eps and with eps off"
    if m.eps_effect_whole:  # over the whole output in the checked dtype, less what its rounding can make
        assert m.checked is not None
        whole = m.eps_effect_whole[t] - tol.rounding(m.checked.noise[t], m.check.dtype, m.tf32)
        if whole > effect:
            effect, how = (
                whole,
                f"measured in {m.check.dtype} over the whole output with eps and with eps off",
            )
    bound = m.check.max_eps_effect
    if m.eps_blind:  # eps cannot move these sides apart: what it seems to move is no eps's (rounding aside)
        rounding = _eps_rounding(m, t)
        return Comparison(
            "eps",
            t,
            effect,
            rounding if bound is None else min(bound, rounding),
            "rounding",
            lambda: (
                f"eps {m.eps.value:g} ({m.eps.source}) moves the two sides apart by {effect:.2g} of the output ({how}), "
                f"beyond rounding ({rounding:.2g}); an eps cannot move apart the sides of {m.check.transform.id}, "
                "which leaves the norm the same a - mu and sigma: what it keeps is no eps"
            ),
        )
    return Comparison(
        "eps",
        t,
        effect,
        math.inf if bound is None else bound,
        "eps",
        lambda: (
            f"eps {m.eps.value:g} ({m.eps.source}) moves the two sides apart by {effect:.2g} of the output ({how}); "
            f"above max_eps_effect {bound:g}, eps does not blur the invariance, it breaks it"
        ),
    )


def _eps_rounding(m: Measurement, t: int) -> float:
    """What rounding alone can make of a measured eps effect, a difference of four outputs: the
    tolerances of the float64 runs with eps and with eps off, in the output's units (a near tie of a
    two-entry set rounds far more with eps than its ±1 without: 8.9e-14 against 1.5e-15); or twice
    the checked dtype's where it was measured there."""
    assert m.checked is not None
    if m.eps_effect_whole:
        return 2 * tol.rounding(m.checked.noise[t], m.check.dtype, m.tf32)
    assert m.exact is not None
    on = tol.rounding(m.eps_on_noise[t], "float64") if t < len(m.eps_on_noise) else 0.0
    return on + tol.rounding(m.exact.noise[t], "float64") * max(_larger(m, t), 1.0)


def _larger(m: Measurement, t: int) -> float:
    """The eps-off run's output scale over the checked run's (its noise is relative to its own outputs,
    larger than these where eps is large: LayerNorm with eps 100, 40x)."""
    run, exact = m.checked, m.exact
    assert run is not None and exact is not None
    return exact.scale[t] / run.scale[t] if t < len(exact.scale) and run.scale[t] > 0 else 1.0


def _checked(m: Measurement, t: int) -> Comparison:
    run, dtype = m.checked, m.check.dtype
    assert run is not None
    rounding = tol.rounding(run.noise[t], dtype, m.tf32)
    allowance = 0.0
    if m.eps_effect and not m.eps_blind:  # eps's effect, and the float64 rounding of measuring it
        assert m.exact is not None  # eps's effect is measured in the float64 run
        # the eps-off run's noise is relative to its own outputs, larger than these where eps is
        # large (LayerNorm with eps 100: 40x): in this run's units, or the allowance falls short
        allowance = m.eps_effect[t] + tol.rounding(m.exact.noise[t], "float64") * max(_larger(m, t), 1.0)
    if m.eps_blind:  # eps cannot move these sides apart: it excuses no deviation
        pass
    elif m.eps_effect_whole:  # measured in this dtype over the whole output: its own rounding allowed too
        allowance = max(allowance, m.eps_effect_whole[t] + rounding)
    elif m.eps_allowance is not None and m.eps.value and not m.eps.switchable:  # stated: estimated
        allowance = min(m.eps_allowance[t], tol.EPS_CAP)
    bound = "eps" if allowance > rounding else "rounding"
    return Comparison(
        dtype + (", tf32" if m.tf32 else ""),
        t,
        run.deviation[t],
        rounding + allowance,
        bound,
        lambda: (
            f"{dtype} run: {tol.SAFETY:g} x its measured rounding noise {run.noise[t]:.2g}"
            + (f" + eps's effect between the sides {allowance:.2g}" if allowance else "")
        ),
        eps_part=allowance,
    )


def _override(m: Measurement) -> Result:
    """A spec's own tolerance: the checked run against it, no floor (the user's judgement)."""
    value, run = m.check.tolerance, m.checked
    assert value is not None and run is not None
    why = lambda: f"tolerance {value:.3g} set by the spec"  # noqa: E731
    comparisons = [
        Comparison(m.check.dtype, t, d, value, "override", why) for t, d in enumerate(run.deviation)
    ]
    worst = _worst(comparisons)
    verdict = (
        "not_invariant" if worst.ratio > tol.MARGIN else "invariant" if worst.ratio <= 1 else "inconclusive"
    )
    return _result(m, verdict, worst, "", ([], [], comparisons))


# The result ----------------------------------------------------------------------------------------


def _result(
    m: Measurement,
    verdict: str,
    decisive: Comparison | None,
    reason: str,
    comparisons: tuple[list[Comparison], ...] = (),
) -> Result:
    why = _why(m, verdict, decisive, reason, comparisons)
    runs = {group[0].run: _summary(_worst(group)) for group in comparisons if group}
    r = Result(
        m.check,
        verdict,
        None,
        None,
        None,
        why,
        device=m.device,
        seconds=m.seconds,
        tf32=m.tf32,
        runs=runs,
        eps=m.eps.value,
        eps_source=m.eps.source,
        notes=list(m.notes),
        eps_effect=_largest_eps_effect(m),
        degenerate=sum(reason is not None for reason in m.degenerate),
        left_out=_left_out(m),
    )
    if decisive is not None and verdict != "undefined":
        run = m.exact if decisive.run.startswith("float64") else m.checked
        r.deviation, r.tolerance, r.bound = decisive.deviation, decisive.tolerance, decisive.bound
        r.trial, r.run = decisive.trial, decisive.run
        r.where = run.where[decisive.trial] if run and run.where else {}
    return r


def _left_out(m: Measurement) -> int:
    """Entries left out of the trials that count: their set's spread is zero (0/0, zero_sets.py)."""
    return sum(n for n, reason in zip(m.left_out, m.degenerate or [None] * len(m.left_out)) if reason is None)


def _largest_eps_effect(m: Measurement) -> float | None:
    """eps's largest effect between the sides over the trials that count (a degenerate trial's 0/0
    is no effect of eps)."""
    effects = m.eps_effect or m.eps_effect_whole
    if not effects:
        return None
    live = [e for e, reason in zip(effects, m.degenerate or [None] * len(effects)) if reason is None]
    return max(live) if live else None


def _summary(c: Comparison) -> dict[str, float | None]:
    return {"deviation": c.deviation, "tolerance": c.tolerance, "trial": c.trial}


def _why(
    m: Measurement,
    verdict: str,
    decisive: Comparison | None,
    reason: str,
    comparisons: tuple[list[Comparison], ...],
) -> str:
    if verdict == "undefined":
        return reason
    parts = [decisive.why] if decisive else []
    if reason:
        parts.append(reason)
    exact, _, checked = comparisons if comparisons else ([], [], [])
    if (
        verdict == "not_invariant"
        and decisive is not None
        and decisive.run.startswith("float64")
        and checked
        and m.check.dtype != "float64"
    ):
        worst = _worst(checked)
        hidden = worst.ratio <= 1
        parts.append(
            f"in {m.check.dtype} the deviation is {worst.deviation:.2g} against a tolerance of "
            f"{worst.tolerance:.2g}"
            + (": only the float64 run of the same layer sees the violation" if hidden else "")
        )
    elif verdict == "invariant" and exact and checked:
        worst = _worst(exact)
        parts.append(f"{worst.run} run: deviation {worst.deviation:.2g} <= {worst.tolerance:.2g}")
    effect = _largest_eps_effect(m)
    if verdict == "invariant" and effect is not None and effect > tol.floor(m.check.dtype):
        bound = m.check.max_eps_effect
        parts.append(
            f"invariant up to eps: eps moves the two sides apart by up to {effect:.2g} of the output "
            + (
                f"(within max_eps_effect {bound:g})"
                if bound is not None
                else "(set max_eps_effect to bound it)"
            )
        )
    degenerate = [r for r in m.degenerate if r is not None]
    if degenerate:
        parts.append(
            f"{len(degenerate)} of {len(m.degenerate)} trials degenerate ({degenerate[0]}), "
            "decided from the others"
        )
    left_out, counted = _left_out(m), len(m.left_out) - len(degenerate)
    if left_out and counted:
        parts.append(
            f"{left_out} of {counted * m.entries} entries left out: their set's spread is zero (0/0 with eps off)"
        )
    if m.check.norm.module is not None:
        parts.append(f"eps {m.eps.value:g} ({m.eps.source})")
    parts += m.notes
    return "; ".join(parts)
