"""Exact and symbolic inputs for an ExactCell: symbols, short rationals, and exact inequality."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from invcheck.norms.arrays import numpy_ops
from invcheck.why.algebra import Algebra
from invcheck.why.cell import ExactCell, Factors, Pass

# Scale factors of an exact instance, in order of the transform's factors: short and distinct.
SCALES = (2, 3, Fraction(1, 2), 5, 4, Fraction(1, 4), 6, 7)
# Shifts of an exact instance (re-centering), in the same spirit.
SHIFTS = (1, -2, 3, -1, 2, -3, 4, -4)


def symbol_array(name: str, shape: tuple[int, ...], **assumptions: bool) -> np.ndarray:
    """name_1, name_2, ... in C order (one symbol, unindexed, when there is one entry)."""
    import sympy as sp

    n = math.prod(shape)
    syms = [sp.Symbol(name, **assumptions)] if n == 1 else sp.symbols(f"{name}_1:{n + 1}", **assumptions)
    return np.array(list(syms), dtype=object).reshape(shape)


def symbolic_inputs(s: ExactCell) -> dict[str, np.ndarray]:
    layer, kind = s.layer, s.kind
    c = layer.channels
    return {
        "x": symbol_array("x", kind.input_shape(layer), real=True),
        "w": symbol_array("w", kind.weight_shape(layer), real=True),
        "g": symbol_array("g", (c,), real=True),
        "b": symbol_array("b", (c,), real=True),
    }


def symbolic_scale(shape: tuple[int, ...]) -> np.ndarray:
    return symbol_array("δ", shape, positive=True)


def symbolic_shift(shape: tuple[int, ...]) -> np.ndarray:
    return symbol_array("γ", shape, real=True)


def algebra_inputs(s: ExactCell, alg: Algebra) -> dict[str, np.ndarray]:
    """The symbolic inputs as generators of the proofs' fast arithmetic (why/algebra.py)."""
    layer, kind = s.layer, s.kind
    c = layer.channels
    shapes = {"x": kind.input_shape(layer), "w": kind.weight_shape(layer), "g": (c,), "b": (c,)}
    return {name: generators(alg, name, shape) for name, shape in shapes.items()}


def generators(alg: Algebra, name: str, shape: tuple[int, ...], nonneg: bool = False) -> np.ndarray:
    flat = [alg.generator(f"{name}_{i + 1}", nonneg) for i in range(math.prod(shape))]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(shape)


def algebra_factors(alg: Algebra) -> tuple[Factors, Factors]:
    """Scale factors delta (positive) and shifts gamma, as fresh generators of alg."""
    return (
        lambda shape: generators(alg, "δ", shape, nonneg=True),
        lambda shape: generators(alg, "γ", shape),
    )


def cycled(values: tuple[Any, ...]):
    """Factors for any shape, taken in order from values (as exact sympy numbers)."""
    import sympy as sp

    def make(shape: tuple[int, ...]) -> np.ndarray:
        n = math.prod(shape)
        flat = [
            sp.Rational(values[i % len(values)].numerator, values[i % len(values)].denominator)
            if isinstance(values[i % len(values)], Fraction)
            else sp.Integer(values[i % len(values)])
            for i in range(n)
        ]
        return np.array(flat, dtype=object).reshape(shape)

    return make


def as_float(t: np.ndarray) -> np.ndarray:
    return np.asarray(t, dtype=object).astype(float)


def floated(make):
    return lambda shape: as_float(make(shape))


def float_pair(s: ExactCell, x: np.ndarray, w: np.ndarray) -> tuple[Pass, Pass, np.ndarray, np.ndarray]:
    """Both sides in float64 (g = 1, b = 0), for a fast search; exact factors as floats."""
    xf, wf = as_float(x), as_float(w)
    x2, w2 = s.transformed(xf, wf, floated(cycled(SCALES)), floated(cycled(SHIFTS)))
    ones, zeros = np.ones(s.layer.channels), np.zeros(s.layer.channels)
    return s.forward(xf, wf, ones, zeros), s.forward(x2, w2, ones, zeros), x2, w2


def breaks(s: ExactCell, x: np.ndarray, w: np.ndarray, floor: float = 1e-9) -> float:
    """The relative deviation max|y'-y| / max|y| in float64, 0.0 for a degenerate draw."""
    f1, f2, _, _ = float_pair(s, x, w)
    spread = np.concatenate([f1.stats_var.astype(float), f2.stats_var.astype(float)])
    scale = max(np.abs(f1.a).max(), np.abs(f2.a).max(), 1.0) ** 2
    if spread.size and (not np.all(np.isfinite(spread)) or spread.min() <= floor * scale):
        return 0.0  # zero variance somewhere: no norm of this draw is defined
    y1, y2 = f1.y.astype(float), f2.y.astype(float)
    return float(np.abs(y2 - y1).max() / max(np.abs(y1).max(), np.abs(y2).max(), 1e-300))


def exact_pair(s: ExactCell, x: np.ndarray, w: np.ndarray) -> tuple[Pass, Pass, np.ndarray, np.ndarray]:
    """Both sides exactly (sympy numbers; g = 1, b = 0)."""
    import sympy as sp

    xe, we = to_exact(x), to_exact(w)
    x2, w2 = s.transformed(xe, we, cycled(SCALES), cycled(SHIFTS))
    c = s.layer.channels
    ones, zeros = np.array([sp.Integer(1)] * c, dtype=object), np.array([sp.Integer(0)] * c, dtype=object)
    plain = numpy_ops(exact=True)  # numbers need no factoring before their square roots
    return s.forward(xe, we, ones, zeros, plain), s.forward(x2, w2, ones, zeros, plain), x2, w2


def to_exact(t: np.ndarray) -> np.ndarray:
    import sympy as sp

    def one(v: Any) -> Any:
        if isinstance(v, sp.Basic):
            return v
        if isinstance(v, (int, np.integer)):
            return sp.Integer(int(v))
        return sp.Rational(repr(float(v)))  # a short decimal as written: 0.5 -> 1/2

    return np.vectorize(one, otypes=[object])(np.asarray(t, dtype=object))


def nonzero(value: Any) -> bool:
    """Whether an exact number is nonzero: an algebraic one (rationals and square roots) by its
    minimal polynomial (not z); a transcendental one (tanh of a rational, dyt's) by sympy's own
    decision, else by its value to 60 significant digits (evalf tracks its precision)."""
    import sympy as sp
    from sympy.polys.polyerrors import NotAlgebraic

    z = sp.Symbol("z")
    try:
        return sp.minimal_polynomial(value, z) != z
    except NotAlgebraic:
        decided = sp.sympify(value).is_zero
        if decided is not None:
            return not decided
        return abs(sp.N(value, 60)) > sp.Float(10) ** -50
