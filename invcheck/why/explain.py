"""Why a cell holds or breaks, as data: a shrunk exact counterexample, or how mu and sigma move.

Everything is recomputed here at eps 0 with g = 1, b = 0 (said in the output), from the
norm's and the transform's own definitions (`why/cell.py` runs the norm's `statistics` and the
transform's `apply`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from invcheck.settings import CheckConfig
from invcheck.why import exact
from invcheck.why.cell import ExactCell, exact_ops
from invcheck.why.shrink import first_break, shrink


@dataclass
class Explanation:
    check: CheckConfig
    verdict: str  # the tool's own numeric verdict for the check
    why: str  # the verdict's reason, from the tool
    deviation: float | None = None
    tolerance: float | None = None
    counterexample: dict[str, Any] | None = None
    movement: dict[str, Any] | None = None  # invariant: how mu and sigma move with the transform
    learning: dict[str, Any] | None = None  # weight re-scaling: the gradient's consequence
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        c = self.check
        d = {
            "layer": c.layer.kind,
            "norm": c.norm.id,
            "transform": c.transform.id,
            "verdict": self.verdict,
            "deviation": self.deviation,
            "tolerance": self.tolerance,
            "why": self.why,
            "counterexample": self.counterexample,
            "movement": self.movement,
        }
        if self.learning is not None:
            d["learning"] = self.learning
        if self.note:
            d["note"] = self.note
        return d


def cell_of(check: CheckConfig) -> ExactCell:
    """The check's norm, layer kind, placement and transform, at the kind's small exact sizes."""
    return ExactCell(
        check.layer.kind,
        check.norm.id,
        check.transform.id,
        norm_cfg=type(check.norm)(id=check.norm.id, groups=check.norm.groups),
        placement=check.layer.placement,
    )


def explain_check(check: CheckConfig, seed: int = 0) -> Explanation:
    from invcheck.runner import run_check

    result = run_check(check)
    e = Explanation(check, result.verdict, result.why, deviation=result.deviation, tolerance=result.tolerance)
    s = cell_of(check)
    if result.verdict == "undefined":
        return e
    if not s.exact_ready:
        e.note = f"explain works on layers whose summed inputs are bilinear in X and W, not {s.kind_id}"
        return e
    if result.verdict == "invariant":
        e.movement = movement(s)
        if s.transform.target == "weights" and "scale" in s.transform.params:
            from invcheck.why.learning import learning

            e.learning = learning(s)
        return e
    found = first_break(s, seed)
    if found is None:
        e.note = "no small integer draw breaks this cell at eps 0 (its verdict comes from eps or rounding)"
        return e
    e.counterexample = counterexample(*shrink(*found))
    return e


def counterexample(s: ExactCell, x: np.ndarray, w: np.ndarray) -> dict[str, Any]:
    """The derivation of one exact counterexample, every step as nested lists of numbers."""
    factors: list[dict[str, Any]] = []
    scale, shift = (
        _recording(exact.cycled(exact.SCALES), "δ", factors),
        _recording(exact.cycled(exact.SHIFTS), "γ", factors),
    )
    xe, we = exact.to_exact(x), exact.to_exact(w)
    x2, w2 = s.transformed(xe, we, scale, shift)
    f1, f2, _, _ = exact.exact_pair(s, x, w)
    differs = [list(map(int, i)) for i, d in np.ndenumerate(f2.y - f1.y) if exact.nonzero(d)]
    return {
        "norm": s.norm_id,
        "norm_definition": definition(s),
        "layer": s.kind_id,
        "summed_formula": s.kind.summed_formula,
        "sizes": s.layer.all_sizes(),
        "transform": s.transform_id,
        "transform_definition": s.transform.doc,
        "factors": factors,
        "g": 1,
        "b": 0,
        "eps": 0.0,
        "per": f1.per,
        "X": _num(x),
        "W": _num(w),
        "X2": _num(x2),
        "W2": _num(w2),
        "a": _num(f1.a),
        "a2": _num(f2.a),
        "mu": _num(f1.stats_mu),
        "sigma": _num(np.vectorize(_sqrt, otypes=[object])(f1.stats_var)),
        "mu2": _num(f2.stats_mu),
        "sigma2": _num(np.vectorize(_sqrt, otypes=[object])(f2.stats_var)),
        "y": _num(f1.y),
        "y2": _num(f2.y),
        "differs": differs,
        "exact": {"y": _str(f1.y), "y2": _str(f2.y)},
    }


def definition(s: ExactCell) -> str:
    """The norm's definition in words: its own formula and set of entries (the registry entry's)."""
    n = s.norm
    if n.acts_on == "weights":
        return f"y = g a + b, a from the normalized weights: {n.formula}; over: {n.doc}"
    if n.formula.startswith("y ="):  # a norm that is no (a − μ) / σ (dyt)
        return f"{n.formula}; over: {n.doc}"
    return f"y = g (a − μ) / σ + b, {n.formula}; over: {n.doc}"


def movement(s: ExactCell) -> dict[str, Any]:
    """For an invariant cell: sigma'/sigma and (a' - mu')/(a - mu), symbolically, per statistic."""
    import sympy as sp

    v = exact.symbolic_inputs(s)
    x2, w2 = s.transformed(v["x"], v["w"], exact.symbolic_scale, exact.symbolic_shift)
    ops = exact_ops()
    f1, f2 = s.forward(v["x"], v["w"], v["g"], v["b"], ops), s.forward(x2, w2, v["g"], v["b"], ops)
    sigma = [sp.simplify(sp.sqrt(b) / sp.sqrt(a)) for a, b in zip(f1.stats_var, f2.stats_var)]
    mu = [
        _simplest(sp.simplify(b - a), sp.cancel(b / a) if a != 0 else None)
        for a, b in zip(f1.stats_mu, f2.stats_mu)
    ]
    centred = [
        sp.cancel(sp.expand(b) / sp.expand(a))
        for a, b in zip((f1.a - f1.mu).ravel(), (f2.a - f2.mu).ravel())
        if sp.expand(a) != 0
    ]
    return {
        "per": f1.per,
        "sigma_ratio": _unique(sigma),
        "mu_moves": _unique(mu),
        "centred_ratio": _unique(centred),
        "transform_definition": s.transform.doc,
    }


def _simplest(shift: Any, ratio: Any) -> str:
    """μ' as "μ + shift" or "ratio·μ", whichever is shorter."""
    import sympy as sp

    if ratio is None or sp.count_ops(shift) <= sp.count_ops(ratio):
        return "μ'" + (" = μ" if shift == 0 else f" = μ + {shift}")
    factor = f"({ratio})" if isinstance(ratio, sp.Add) else str(ratio)
    return f"μ' = {factor}·μ"


def _unique(values: list[Any]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


def _recording(make: Any, name: str, log: list[dict[str, Any]]) -> Any:
    def record(shape: tuple[int, ...]) -> np.ndarray:
        values = make(shape)
        log.append({"name": name, "values": _num(np.squeeze(values))})  # [1, D] -> [D]
        return values

    return record


def _sqrt(v: Any) -> Any:
    import sympy as sp

    return sp.sqrt(v)


def _num(t: Any) -> Any:
    """Exact numbers as short JSON numbers: ints where integral, else floats."""

    def one(v: Any) -> Any:
        f = float(v)
        return int(f) if f.is_integer() and abs(f) < 2**53 else f

    return np.vectorize(one, otypes=[object])(np.asarray(t, dtype=object)).tolist()


def _str(t: Any) -> Any:
    return np.vectorize(str, otypes=[object])(np.asarray(t, dtype=object)).tolist()
