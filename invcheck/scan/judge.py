"""A scanned (tensor, transform)'s numbers into a verdict, as every other check is judged:
the float64 run with eps off against SAFETY x its measured rounding noise (at least the floor),
eps's effect between the two sides against EPS_CAP, inconclusive between 1x and MARGIN x the
tolerance, a tolerance too loose to mean anything inconclusive. Imports no torch."""

from __future__ import annotations

import math
from dataclasses import dataclass

from invcheck import tolerance as tol

# The verdict of an invariance that holds at the model's own values but not at re-drawn generic ones
# (a zero bias rescaled, unit gains): it holds for this model as it is, so "invariant", flagged
# at_these_values_only; a project that wants the architecture's answer sets "not_invariant".
ONLY_HERE_VERDICT = "invariant"


@dataclass
class Numbers:
    """What the passes measured for one (tensor or group, transform)."""

    deviation: float  # model values, eps off
    tolerance: float
    noise: float
    finite: bool = True  # the transformed output, eps off, is finite
    error: str | None = None  # the transformed forward raised
    unreached: bool = False  # no gradient reaches it: not used in computing the output
    eps_effect: float | None = None  # between the sides, model values (None: not measured / no eps)
    generic_deviation: float | None = None
    generic_tolerance: float | None = None
    via: str | None = None
    specials: tuple[str, ...] = ()
    unchanged: bool = False  # the transform left the tensor as it was (all zero, rescaled)
    implied_by: str | None = None  # a special case of this transform that was violated, which decides it


@dataclass(frozen=True)
class Judged:
    verdict: str
    why: str
    via: str | None
    at_these_values_only: bool = False
    # the numbers that decided it where another run than the model's values with eps off did
    # (eps's effect against EPS_CAP): a row never reads "not invariant, deviation 0"
    deviation: float | None = None
    tolerance: float | None = None


def judge(n: Numbers) -> Judged:
    if n.error is not None:
        return Judged("undefined", f"the transformed forward pass raised {n.error}", None)
    if not n.finite:
        return Judged(
            "undefined",
            "with eps off the transformed output is not finite: a statistic's spread is 0 (0/0)",
            None,
        )
    exact = f"float64 run, eps off: deviation {_g(n.deviation)}"
    bound = f"tolerance {_g(n.tolerance)} ({tol.SAFETY:g} x measured rounding noise {_g(n.noise)}, at least {tol.FLOOR_ULPS:g} ulps)"
    if n.deviation > tol.MARGIN * n.tolerance:
        if n.implied_by is not None:
            return Judged(
                "not_invariant",
                f"not invariant even with one factor for every unit ({n.implied_by}, a case of this "
                f"transform): {exact} > {tol.MARGIN:g} x {bound}",
                None,
            )
        return Judged("not_invariant", f"{exact} > {tol.MARGIN:g} x {bound}", None)
    if n.deviation > n.tolerance:
        return Judged(
            "inconclusive", f"{exact} is between 1x and {tol.MARGIN:g}x its {bound}: too close to call", None
        )
    if n.tolerance > tol.MAX_TOLERANCE:
        return Judged(
            "inconclusive",
            f"the tolerance {_g(n.tolerance)} is above {tol.MAX_TOLERANCE:g}: the output is too noisy to tell",
            None,
        )
    if n.eps_effect is not None and n.eps_effect > tol.EPS_CAP:
        return Judged(
            "not_invariant",
            f"{exact} <= {bound}, but eps moves the two sides apart by {_g(n.eps_effect)} of the output "
            f"(above {tol.EPS_CAP:g}): eps does not blur the invariance, it breaks it",
            None,
            deviation=n.eps_effect,
            tolerance=tol.EPS_CAP,
        )
    if n.unreached:
        return Judged(
            "invariant",
            "does not reach the output: changing it leaves the checked output bit for bit the same, at the "
            "model's values and at generic ones (not used in computing it)",
            None,
        )
    parts = [f"{exact} <= {bound}"]
    if n.unchanged:
        parts.append("the transform leaves it as it is: every entry is 0")
        n.via = None
    if n.eps_effect is not None and n.eps_effect > n.tolerance:
        parts.append(f"invariant up to eps: eps moves the sides apart by {_g(n.eps_effect)} of the output")
    if not n.unchanged:
        parts.append(
            f"removed by {n.via}"
            if n.via
            else "no norm downstream removes it: its effect cancels inside the model"
        )
    only = False
    if n.generic_deviation is not None and n.generic_tolerance is not None:
        if n.generic_deviation > tol.MARGIN * n.generic_tolerance:
            only = True
            where = ", ".join(n.specials[:4]) + (", ..." if len(n.specials) > 4 else "")
            parts.append(
                f"at these values only: at re-drawn generic values the deviation is {_g(n.generic_deviation)} "
                f"(tolerance {_g(n.generic_tolerance)})"
                + (f"; special values here: {where}" if where else "")
            )
        elif n.generic_deviation > n.generic_tolerance:
            parts.append(
                f"at re-drawn generic values the deviation {_g(n.generic_deviation)} is close to its "
                f"tolerance {_g(n.generic_tolerance)}"
            )
        else:
            parts.append(
                f"at re-drawn generic values too (deviation {_g(n.generic_deviation)} <= "
                f"{_g(n.generic_tolerance)})"
            )
    return Judged(ONLY_HERE_VERDICT if only else "invariant", "; ".join(parts), n.via, only)


def _g(x: float) -> str:
    return f"{x:.2g}" if math.isfinite(x) else str(x)
