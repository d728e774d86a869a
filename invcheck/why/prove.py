"""Exact verdicts for small symbolic shapes (eps = 0, positive scale factors).

proved:  y' - y simplifies to exactly 0 for symbolic X, W, g, b and symbolic factors delta
         (positive) or shifts gamma; a variance is factored before its square root, so that
         sqrt(delta^2 P) = delta sqrt(P) by positivity, never by a numeric shortcut. Computed in
         the proofs' own polynomial arithmetic (why/algebra.py, fast); in sympy's expressions
         where that has no rule or finds no 0 (slow, and they know a few identities more).
refuted: an exact instance with small integers (g = 1, b = 0) where y' != y, decided exactly
         (the difference is an algebraic number whose minimal polynomial is not z).
numeric only: neither within the time limit, or a layer kind this cannot write exactly.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from invcheck import timeouts
from invcheck.why import exact
from invcheck.why.algebra import Algebra, Unsupported, ZeroDivisor
from invcheck.why.cell import ExactCell, NotBilinear, algebra_ops, exact_ops


@dataclass
class Proof:
    status: str
    detail: str
    seconds: float = 0.0
    instance: dict[str, Any] = field(default_factory=dict)  # refuted: the exact counterexample

    def to_dict(self) -> dict[str, Any]:
        return {
            "proof": self.status,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            **({"instance": self.instance} if self.instance else {}),
        }


def prove(s: ExactCell, time_limit: float = 30.0, draws: int = 8) -> Proof:
    """Prove the cell invariant, or refute it with an exact instance, within time_limit seconds."""
    start = time.perf_counter()
    reason = s.undefined_reason()
    if reason:
        return Proof("undefined", reason)
    if not s.exact_ready:
        return Proof("numeric only", f"a {s.kind_id} layer is not written exactly (its steps are not X W^T)")
    try:
        with alarm_after(time_limit):
            # the fast arithmetic's proof; where it finds none, a harder search for an instance
            # before sympy's slow expressions (which know a few identities more)
            proof = refute(s, draws) or fast_symbolic(s) or refute(s, 50 * draws, high=6) or symbolic(s)
    except TimeoutError:
        proof = Proof("numeric only", f"not decided within the time limit of {time_limit:g} s")
    except NotBilinear as err:
        proof = Proof("numeric only", str(err))
    proof.seconds = time.perf_counter() - start
    return proof


def refute(s: ExactCell, draws: int, high: int = 3) -> Proof | None:
    """An exact counterexample from small integer draws (-high..high), or None when none breaks."""
    rng = np.random.default_rng(0)
    layer, kind = s.layer, s.kind
    for _ in range(draws):
        x = rng.integers(-high, high + 1, kind.input_shape(layer))
        w = rng.integers(-high, high + 1, kind.weight_shape(layer))
        if exact.breaks(s, x, w) > 1e-6:
            instance = certify(s, x, w)
            if instance:
                return Proof("refuted", f"y' != y exactly at output {instance['entry']}", instance=instance)
    return None


def certify(s: ExactCell, x: np.ndarray, w: np.ndarray) -> dict[str, Any] | None:
    """The exact instance where the output that deviates most in float64 differs exactly."""
    f1, f2, x2, w2 = exact.exact_pair(s, x, w)
    diff = np.abs(f2.y.astype(float) - f1.y.astype(float))
    entry = np.unravel_index(int(np.argmax(diff)), diff.shape)
    if not exact.nonzero(f2.y[entry] - f1.y[entry]):
        return None
    return {
        "X": _text(x),
        "W": _text(w),
        "X2": _text(x2),
        "W2": _text(w2),
        "g": 1,
        "b": 0,
        "entry": [int(i) for i in entry],
        "y": str(f1.y[entry]),
        "y2": str(f2.y[entry]),
    }


def fast_symbolic(s: ExactCell) -> Proof | None:
    """proved when y' - y is 0 at every entry in the fast exact arithmetic (why/algebra.py);
    numeric only where y divides by an identically 0 spread (no input defines it); None where
    it finds a nonzero entry or does not write the cell (tanh): `symbolic` decides."""
    try:
        return _proved(s) if fast_zero(s) else None
    except ZeroDivisor:
        return Proof(
            "numeric only", "a spread is identically 0 at the exact sizes (a set of one entry): y is 0/0"
        )
    except (Unsupported, TypeError, AttributeError, ArithmeticError):  # a step it does not write
        return None


def fast_zero(s: ExactCell) -> bool:
    """Whether y' - y is 0 at every output entry, in the fast arithmetic (Unsupported: not written)."""
    alg = Algebra()
    v = exact.algebra_inputs(s, alg)
    scale, shift = exact.algebra_factors(alg)
    x2, w2 = s.transformed(v["x"], v["w"], scale, shift)
    ops = algebra_ops(alg)
    y1 = s.forward(v["x"], v["w"], v["g"], v["b"], ops).y
    y2 = s.forward(x2, w2, v["g"], v["b"], ops).y
    return all(alg.constant(d).is_zero() for d in np.ravel(y2 - y1))


def _proved(s: ExactCell) -> Proof:
    shape = "x".join(str(n) for n in s.kind.input_shape(s.layer))
    wshape = "x".join(str(n) for n in s.kind.weight_shape(s.layer))
    return Proof(
        "proved", f"y' - y = 0 identically for symbolic X [{shape}], W [{wshape}], g, b, {_factors(s)}"
    )


def symbolic(s: ExactCell) -> Proof:
    """y' - y for symbolic inputs and factors in sympy's expressions: proved when every entry
    expands to 0 (or to 0 over one denominator). Seconds a cell: `fast_symbolic` goes first."""
    import sympy as sp

    v = exact.symbolic_inputs(s)
    x2, w2 = s.transformed(v["x"], v["w"], exact.symbolic_scale, exact.symbolic_shift)
    ops = exact_ops()
    y1 = s.forward(v["x"], v["w"], v["g"], v["b"], ops).y
    y2 = s.forward(x2, w2, v["g"], v["b"], ops).y
    roots: dict[Any, Any] = {}
    for index, d in np.ndenumerate(y2 - y1):
        d = _named_roots(d, roots)
        # expanded, the factors cancel term by term where they do (fast); else over one denominator
        if sp.expand(d) != 0 and sp.expand(sp.numer(sp.together(d))) != 0:
            return Proof(
                "numeric only", f"y' - y at {list(index)} did not simplify to 0 and no draw broke it"
            )
    return _proved(s)


def _named_roots(expr: Any, roots: dict[Any, Any]) -> Any:
    """expr with each square root sqrt(P) written as a fresh positive symbol r_k.

    An identity that holds for a free r_k holds for r_k = sqrt(P): the check stays exact, and
    `together` no longer has to look inside P (which is what made it slow).
    """
    import sympy as sp

    def name(base: Any) -> Any:
        return roots.setdefault(base, sp.Symbol(f"r_{len(roots) + 1}", positive=True))

    half = sp.Rational(1, 2)
    # xreplace over the roots found once: `replace` walked the whole expression with a predicate
    found = [e for e in expr.atoms(sp.Pow) if e.exp in (half, -half)]
    return expr.xreplace({e: name(e.base) ** (2 * e.exp) for e in found})


def _factors(s: ExactCell) -> str:
    params = s.transform.params
    return "positive delta" if "scale" in params else "gamma" if "shift" in params else "the transform"


def _text(t: np.ndarray) -> list:
    """Exact numbers as JSON: ints, or strings such as '3/2'."""

    def one(v: Any) -> Any:
        r = exact.to_exact(np.array([v], dtype=object))[0]
        return int(r) if getattr(r, "is_integer", False) else str(r)

    return np.vectorize(one, otypes=[object])(np.asarray(t, dtype=object)).tolist()


def alarm_after(seconds: float) -> contextlib.AbstractContextManager[None]:
    """Raise TimeoutError after `seconds` (SIGALRM: main thread only; elsewhere no limit)."""
    return timeouts.alarm(seconds, TimeoutError)


def attach(cells: list[Any], seconds: float) -> None:
    """Give each table cell its exact verdict; an undefined cell stays undefined."""
    for cell in cells:
        cell.proof = prove(
            ExactCell(cell.layer, cell.norm, cell.transform, placement=cell.placement), seconds
        )
