"""Judge a measurement: deviation against tolerance, per trial, into one of DESIGN.md §4's verdicts."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from invcheck import tolerance as tol
from invcheck.check import Measurement
from invcheck.settings import CheckConfig


@dataclass
class Result:
    """A verdict with its evidence. Plain data: renderers and assertions read it, nothing recomputes."""

    check: CheckConfig
    verdict: str
    deviation: float | None  # the decisive trial's deviation (None when undefined)
    tolerance: float | None  # what it was held against
    bound: str | None  # which bound set the tolerance
    why: str  # why that tolerance, or why no verdict
    trial: int | None = None
    where: dict[str, int] = field(default_factory=dict)
    device: str = "cpu"
    seconds: float = 0.0
    tf32: bool = False  # TF32 really allowed (on CUDA)

    @property
    def ratio(self) -> float | None:
        if self.deviation is None or not self.tolerance:
            return None
        return self.deviation / self.tolerance

    @property
    def expected(self) -> bool | None:
        """Whether the verdict is the spec's `expect:` (None when nothing was expected)."""
        return None if self.check.expect is None else self.verdict == self.check.expect

    def to_dict(self) -> dict[str, Any]:
        c = self.check
        return {
            "file": c.file, "line": c.line, "name": c.title, "layer": c.layer.kind, "norm": c.norm.label,
            "transform": c.transform.id, "impl": c.norm.impl, "dtype": c.dtype, "verdict": self.verdict,
            "expect": c.expect, "passed": self.expected, "deviation": self.deviation,
            "tolerance": self.tolerance, "bound": self.bound, "why": self.why, "trial": self.trial,
            "where": self.where, "device": self.device, "tf32": self.tf32, "seconds": round(self.seconds, 4),
        }


def judge(m: Measurement) -> Result:
    """invariant: every trial within a tolerance tight enough to mean something; not_invariant: some
    trial beyond MARGIN x its tolerance and beyond what rounding can reach at all; else inconclusive."""
    check = m.check
    if m.undefined is not None:
        return Result(check, "undefined", None, None, None, m.undefined, device=m.device, seconds=m.seconds)
    tols = [tol.decide(k, ka, e, check.dtype, m.tf32, check.tolerance)
            for k, ka, e in zip(m.kappa, m.kappa_acc, m.eps_effect)]
    ratios = [d / t.value if t.value > 0 else (float("inf") if d > 0 else 0.0) for d, t in zip(m.deviation, tols)]
    worst = max(range(len(ratios)), key=lambda i: ratios[i])
    # The check's power: the median trial's tolerance (one trial with a large offset may be weak).
    typical = statistics.median(t.value for t in tols) if check.tolerance is None else 0.0
    capped = any(t.bound == "eps (capped)" for t in tols)
    verdict, caveat = _verdict(m.deviation[worst], ratios[worst], typical, capped, check, m.tf32)
    t = tols[worst]
    if check.norm.module is not None:  # say what invcheck could see of user code
        caveat += f"; eps {m.eps:g}, read from the module's `eps` attribute"
    return Result(check, verdict, m.deviation[worst], t.value, t.bound, t.why + caveat, worst,
                  m.where[worst], m.device, m.seconds, m.tf32)


def _verdict(deviation: float, ratio: float, typical: float, capped: bool, check: CheckConfig,
             tf32: bool) -> tuple[str, str]:
    """The verdict of the decisive trial, and what to add to `why` when it is not the ratio alone."""
    # An override is the user's own judgement of the arithmetic: no floor under it.
    floor = 0.0 if check.tolerance is not None else tol.violation_floor(check.dtype, tf32)
    if ratio > tol.MARGIN:
        if deviation > floor:
            return "not_invariant", ""
        return "inconclusive", (f"; the deviation is {ratio:.3g}x the tolerance but below sqrt(u) = {floor:.2g}, "
                                "within what an ill-conditioned layer's rounding can reach")
    if ratio <= 1.0:
        if capped:  # eps, not rounding, sets the tolerance there: it hides violations up to the cap
            return "inconclusive", (f"; eps dominates the variance in some trial (its effect is capped at "
                                    f"{tol.EPS_CAP:g}): lower eps or the scale range, or name the statistics (id:)")
        if typical <= tol.MAX_TOLERANCE:
            return "invariant", ""
        return "inconclusive", (f"; a median tolerance of {typical:.2g} (above {tol.MAX_TOLERANCE:g}) is too loose to tell "
                                "invariance from a violation (for user code, name its statistics with id:)")
    return "inconclusive", ""
