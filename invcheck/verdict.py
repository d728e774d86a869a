"""Judge a measurement: deviation against tolerance, per trial, into one of DESIGN.md §4's verdicts."""

from __future__ import annotations

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
            "where": self.where, "device": self.device, "tf32": c.tf32, "seconds": round(self.seconds, 4),
        }


def judge(m: Measurement) -> Result:
    """invariant: every trial within tolerance; not_invariant: some trial beyond MARGIN x; else inconclusive."""
    check = m.check
    if m.undefined is not None:
        return Result(check, "undefined", None, None, None, m.undefined, device=m.device, seconds=m.seconds)
    tols = [tol.decide(k, ka, e, check.dtype, check.tf32, check.tolerance)
            for k, ka, e in zip(m.kappa, m.kappa_acc, m.eps_effect)]
    ratios = [d / t.value if t.value > 0 else (float("inf") if d > 0 else 0.0) for d, t in zip(m.deviation, tols)]
    worst = max(range(len(ratios)), key=lambda i: ratios[i])
    r, t = ratios[worst], tols[worst]
    if r <= 1.0:
        verdict = "invariant"
    elif r > tol.MARGIN:
        verdict = "not_invariant"
    else:
        verdict = "inconclusive"
    return Result(check, verdict, m.deviation[worst], t.value, t.bound, t.why, worst,
                  m.where[worst], m.device, m.seconds)
