"""What a check measured and what was judged, as plain data, and the evidence text. No torch here.

`measure.py` fills a Measurement, `verdict.judge` turns it into a Result; renderers, the pytest
plugin and the assertions read Results and never recompute anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from invcheck.errors import capped
from invcheck.settings import CheckConfig


@dataclass
class EpsInfo:
    """The eps a layer adds inside its square root, where it was found, and whether a run with
    eps switched off was possible (then its effect is measured, not estimated)."""

    value: float = 0.0
    source: str = "none"  # "the spec", "torch's default", "attribute `variance_epsilon`", ...
    switchable: bool = True


class Positions(Sequence[dict[str, int]]):
    """Where each trial deviates most, as {"trial", "case", "unit"}, made when read: a thousand
    trials' dicts cost more than measuring where they sit."""

    def __init__(self, cases: list[int], units: list[int]) -> None:
        self.cases, self.units = cases, units

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, t: Any) -> Any:
        if isinstance(t, slice):
            return [self[i] for i in range(len(self))[t]]
        t = range(len(self))[t]  # negative indices, and IndexError past the end
        return {"trial": t, "case": self.cases[t], "unit": self.units[t]}

    def __eq__(self, other: object) -> bool:  # as the list of dicts it stands for
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # unhashable (mutable lists inside), as a list is


@dataclass
class RunNumbers:
    """One run of both sides (in one dtype), per trial, relative to the trial's output scale."""

    dtype: str
    deviation: list[float] = field(default_factory=list)  # max |y1 - y0| / scale
    noise: list[float] = field(default_factory=list)  # measured rounding noise of that deviation
    scale: list[float] = field(default_factory=list)  # max(|y0|max, |y1|max)
    where: Sequence[dict[str, int]] = field(default_factory=list)  # where each trial deviates most
    finite: list[bool] = field(default_factory=list)  # no NaN or inf on either side
    moves: list[bool] = field(default_factory=list)  # the output responds to dithered inputs
    step: float = 0.0  # the probe's relative step: the precision the layer was found to compute in


@dataclass
class Measurement:
    """Per-trial numbers of one check; `verdict.judge` turns them into a verdict."""

    check: CheckConfig
    checked: RunNumbers | None = None  # the checked dtype
    exact: RunNumbers | None = None  # float64 with eps off (the checked run itself when that is it)
    eps: EpsInfo = field(default_factory=EpsInfo)
    eps_effect: list[float] = field(default_factory=list)  # eps's effect between the sides, per trial
    eps_allowance: list[float] | None = None  # estimated, where eps could not be switched off (eps_model.py)
    # eps cannot move the sides apart (a recentering the norm removes): its measured effect between
    # them is held to rounding, and allows no deviation (measure._eps_blind)
    eps_blind: bool = False
    eps_on_noise: list[float] = field(default_factory=list)  # there: the float64 run with eps's noise
    # eps's effect between the sides in the checked dtype over the whole output, where the float64
    # runs saw a sample of it or could not run (its own rounding included)
    eps_effect_whole: list[float] = field(default_factory=list)
    degenerate: list[str | None] = field(default_factory=list)  # per trial: why it cannot count
    left_out: list[int] = field(default_factory=list)  # per trial: entries left out, their set 0/0
    entries: int = 0  # output entries of one trial
    undefined: str | None = None  # why no verdict can be given at all
    range_problem: str | None = None  # the checked dtype under- or overflowed
    notes: list[str] = field(default_factory=list)  # what the measurement learned about the layer
    device: str = "cpu"
    seconds: float = 0.0
    tf32: bool = False  # TF32 really allowed: asked for, and on CUDA


@dataclass
class Result:
    """A verdict with its evidence. Plain data: renderers and assertions read it, nothing recomputes."""

    check: CheckConfig
    verdict: str
    deviation: float | None  # the decisive comparison's deviation (None when undefined)
    tolerance: float | None  # what it was held against
    bound: str | None  # what set the tolerance: "rounding", "eps", "override"
    why: str  # why that tolerance, or why no verdict
    trial: int | None = None
    where: dict[str, int] = field(default_factory=dict)
    device: str = "cpu"
    seconds: float = 0.0
    tf32: bool = False  # TF32 really allowed (on CUDA)
    run: str | None = None  # which run decided: "float32", "float64", "float64, eps off", "eps"
    runs: dict[str, dict[str, float | None]] = field(default_factory=dict)  # every comparison's worst trial
    eps: float = 0.0
    eps_source: str = "none"
    eps_effect: float | None = None  # largest effect of eps between the sides (measured)
    degenerate: int = 0  # trials left out
    left_out: int = 0  # entries left out of the trials that count (their set's spread is 0: 0/0)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # user code's text in them is unbounded: every report (console, JSON, JUnit) reads them here
        self.why = capped(self.why)
        self.notes = [capped(note) for note in self.notes]

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
        return finite(
            {
                "file": c.file,
                "line": c.line,
                "name": c.title,
                "layer": c.layer.kind,
                "placement": c.layer.placement,
                "norm": c.norm.label,
                "transform": c.transform.id,
                "impl": c.norm.impl,
                "dtype": c.dtype,
                "seed": c.seed,  # with trials, dtype and device: what re-runs it (invcheck run --seed ...)
                "trials": c.trials,
                "verdict": self.verdict,
                "expect": c.expect,
                "passed": self.expected,
                "deviation": self.deviation,
                "tolerance": self.tolerance,
                "bound": self.bound,
                "run": self.run,
                "why": self.why,
                "trial": self.trial,
                "where": self.where,
                "runs": self.runs,
                "eps": self.eps,
                "eps_source": self.eps_source,
                "eps_effect": self.eps_effect,
                "degenerate_trials": self.degenerate,
                "left_out_entries": self.left_out,
                "notes": self.notes,
                "device": self.device,
                "tf32": self.tf32,
                "seconds": round(self.seconds, 4),
            }
        )


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None: JSON holds no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


# Evidence ------------------------------------------------------------------------------------------


def explain(result: Result, wanted: str | None = None) -> str:
    """The evidence of a result, as lines: what was wanted and found, the numbers, where, which spec.

    The first line is a summary (a JUnit message); the pytest plugin and the JUnit renderer use it too.
    """
    c = result.check
    head = f"{c.title}: " + (f"expected {wanted}, got {result.verdict}" if wanted else result.verdict)
    lines = [head, *_numbers(result)]
    placed = "" if c.layer.placement == "summed" else f" (norm {c.layer.placement.replace('_', ' ')})"
    lines.append(
        f"  check: {c.layer.kind} layer{placed}, {c.norm.label}, {c.transform.id}, {c.dtype} on "
        f"{result.device}, {c.trials} trials, seed {c.seed}"
    )
    if c.location:
        lines.append(f"  spec: {c.location}")
    return "\n".join(lines)


def _numbers(result: Result) -> list[str]:
    if result.verdict == "undefined":
        return [
            f"  no verdict: {result.why}",
            "  undefined is neither invariant nor not_invariant: nothing was measured to assert on",
        ]
    relation = "<=" if result.verdict == "invariant" else ">"
    ratio = f"{result.ratio:.3g}x" if result.ratio is not None else "n/a"
    run = f"{result.run} run; " if result.run else ""
    lines = [
        f"  deviation {result.deviation:.3g} {relation} tolerance {result.tolerance:.3g} "
        f"({ratio} the tolerance; {run}bound: {result.bound})",
        f"  why: {result.why}",
    ]
    if result.where:
        lines.append("  worst: " + ", ".join(f"{key} {value}" for key, value in result.where.items()))
    if result.verdict == "inconclusive":
        lines.append(
            "  inconclusive: above the tolerance but not far beyond it, so neither invariant nor "
            "not_invariant can be asserted (more trials or float64 may settle it)"
        )
    return lines
