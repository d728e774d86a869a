"""Deviation against the scale factor, over decades, judged by the tool's own checks.

Each point is `run_check` on the check with its transform's factor pinned to one value
(scale = (s, s)), so the verdicts are exactly what `invcheck run` would say at that factor.
The crossover is where eps stops being negligible: the scale below which the verdict is
not_invariant, interpolated (log-log) where the deviation crosses that point's tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from invcheck.errors import InvcheckError
from invcheck.settings import CheckConfig


@dataclass
class Point:
    scale: float
    deviation: float | None
    tolerance: float | None
    verdict: str
    eps: float
    dtype: str
    why: str


@dataclass
class Sweep:
    check: CheckConfig
    points: list[Point] = field(default_factory=list)

    @property
    def crossover(self) -> float | None:
        return crossover(self.points)

    def to_dict(self) -> dict[str, Any]:
        return {
            "eps": self.check.norm.eps,
            "dtype": self.check.dtype,
            "crossover": self.crossover,
            "points": [asdict(p) for p in self.points],
        }


MAX_DECADES = 100  # a few seconds a point: more would run for hours


def scales(low: float, high: float, per_decade: int) -> list[float]:
    """Log-spaced factors from low to high, per_decade per decade; 1 (the identity) left out."""
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high) or per_decade < 1:
        raise InvcheckError(
            f"sweep needs finite 0 < --low < --high and --per-decade >= 1, got {low}, {high}, {per_decade}"
        )
    decades = math.log10(high) - math.log10(low)  # high / low itself may overflow
    if decades > MAX_DECADES:
        raise InvcheckError(
            f"--low {low:g} to --high {high:g} spans {decades:.0f} decades, above the limit of "
            f"{MAX_DECADES} (float64 itself spans about 600)"
        )
    n = math.floor(decades * per_decade + 1e-9)  # the points of the grid from low that do not pass high
    values = [low * 10 ** (i / per_decade) for i in range(n + 1)]
    if values[-1] < high * (1 - 1e-9):  # the range asked for ends where it was asked to:
        # at high itself, in place of a grid point within half a step of it (1.995 beside 2)
        values = values[:-1] if len(values) > 1 and values[-1] > high / 10 ** (0.5 / per_decade) else values
        values.append(high)
    # each once, to 12 digits: the grid's 0.99999999999 is the identity 1, and 123456.7 stays itself
    factors = [v for v in dict.fromkeys(float(f"{v:.12g}") for v in values) if v != 1.0]
    if not factors:
        raise InvcheckError(
            f"--low {low:.15g} to --high {high:.15g} holds no scale factor but 1 (the identity)"
        )
    return factors


def sweep(check: CheckConfig, factors: Sequence[float], advance: Callable[[], None] = lambda: None) -> Sweep:
    from invcheck.runner import run_check
    from invcheck.transforms import transform_of

    if "scale" not in transform_of(check.transform, check).params:
        own = " (a transform of your own takes one as a `scale` keyword: a range (low, high))"
        raise InvcheckError(
            f"sweep varies a scale factor; {check.transform.id} has none "
            f"(use a re-scaling transform, e.g. dataset_rescale{own if check.transform.module else ''})"
        )
    out = Sweep(check)
    from invcheck import tolerance as tol

    # "where eps breaks it" needs a bound on eps's effect: the check's own, else EPS_CAP (docs/trust.md)
    check = check.with_(max_eps_effect=check.max_eps_effect or tol.EPS_CAP)
    for s in factors:
        r = run_check(check.with_(transform=replace(check.transform, scale=(s, s))))
        out.points.append(Point(s, r.deviation, r.tolerance, r.verdict, check.norm.eps, check.dtype, r.why))
        advance()
    return out


def crossover(points: Sequence[Point]) -> float | None:
    """The scale below which the verdict is not_invariant (the lowest such run), or None."""
    ordered = sorted(points, key=lambda p: p.scale)
    for lo, hi in zip(ordered, ordered[1:]):
        if lo.verdict == "not_invariant" and hi.verdict in ("invariant", "inconclusive"):
            return _interpolate(lo, hi)
    return None


def _interpolate(lo: Point, hi: Point) -> float:
    """Where log(deviation) crosses log(lo's tolerance) between lo and hi (geometric mean if not).
    Across 1 the crossing lies below 1: the identity deviates by nothing, and the grid skips it."""
    if lo.scale < 1.0 < hi.scale:
        return math.sqrt(lo.scale)  # between lo and 1: their geometric mean
    if not (lo.deviation and hi.deviation and lo.tolerance) or lo.deviation == hi.deviation:
        return math.sqrt(lo.scale * hi.scale)
    t = math.log(lo.deviation / lo.tolerance) / math.log(lo.deviation / hi.deviation)
    t = min(max(t, 0.0), 1.0)
    return math.exp(math.log(lo.scale) + t * (math.log(hi.scale) - math.log(lo.scale)))
