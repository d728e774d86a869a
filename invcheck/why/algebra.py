"""Exact symbolic arithmetic for the proofs, fast: polynomials with integer coefficients over numbered
generators, and values num / den whose denominator is one positive term.

The proofs' forward passes add, multiply, take means, divide by square roots and apply ReLUs, over
numpy object arrays (`cell.py`). In sympy's Expr that took seconds per cell (conv3d: tens), mostly
rebuilding and expanding expressions; here every value stays expanded, as a dict from a monomial
(exponents packed in one int, BITS a generator) to an integer coefficient.

A square root or a ReLU that does not simplify becomes a fresh generator, keyed by exactly what it
is the root (ReLU) of, so both sides of a cell share it where their arguments agree:
- sqrt(c m P) = s h sqrt(k r P): c = s^2 k (k square-free), m = h^2 r where h takes the even part of
  every nonnegative generator's power (a positive factor delta, a root, a ReLU); sqrt(delta^2 P) is
  delta sqrt(P) by positivity, never by a numeric shortcut;
- relu(c m P) = |c| p relu(sign(c) q P), m = p q with p the nonnegative generators' part
  (positive homogeneity: relu(k z) = k relu(z) for k >= 0).
An identity that holds with these generators free holds for their values: a zero found here is exact.
What this arithmetic does not write (tanh, a division by a sum, a real generator in a denominator)
raises Unsupported; the caller then takes sympy's slower path.
"""

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Integral
from typing import Any

BITS = 8  # bits per generator's exponent in a packed monomial: one byte (`unpack` reads bytes)
MAX_DEGREE = (1 << BITS) - 1  # every exponent stays below this: the total degree bound is checked

Poly = dict[int, int]  # packed monomial -> nonzero integer coefficient


class Unsupported(Exception):
    """An operation this arithmetic does not write exactly (the caller falls back to sympy)."""


class ZeroDivisor(Unsupported):
    """A division by a value that is identically 0 (a spread over a set of one entry): undefined
    for every input, so neither a proof nor a counterexample exists."""


class Algebra:
    """The generators of one proof: inputs, positive factors, and the roots and ReLUs met."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.nonneg: list[bool] = []
        self._roots: dict[frozenset[tuple[int, int]], int] = {}
        self._relus: dict[frozenset[tuple[int, int]], int] = {}

    def generator(self, name: str, nonneg: bool = False) -> Value:
        i = len(self.names)
        self.names.append(name)
        self.nonneg.append(nonneg)
        return Value(self, {1 << (BITS * i): 1}, 1, 0, 1)

    def constant(self, c: Any) -> Value:
        if isinstance(c, Value):
            return c
        if isinstance(c, Integral):
            return Value(self, {0: int(c)} if c else {}, 1, 0, 0)
        if isinstance(c, Fraction) or (hasattr(c, "p") and hasattr(c, "q")):  # Fraction, sympy Rational
            n, d = (c.numerator, c.denominator) if isinstance(c, Fraction) else (int(c.p), int(c.q))
            return Value(self, {0: n} if n else {}, d, 0, 0)
        raise Unsupported(f"{type(c).__name__} {c!r} in exact arithmetic")

    def _named(self, table: dict[frozenset[tuple[int, int]], int], key: Poly, name: str) -> int:
        """The packed monomial of the generator standing for key (new, nonnegative, on first use)."""
        k = frozenset(key.items())
        if k not in table:
            table[k] = self.generator(f"{name}{len(table) + 1}", nonneg=True).monomial()
        return table[k]

    # sqrt and relu ------------------------------------------------------------------------------

    def sqrt(self, v: Value) -> Value:
        if not v.num:
            return v
        if any(not self.nonneg[g] for g in unpack(v.mono)):
            raise Unsupported("a root of a value with a signed generator in its denominator")
        # sqrt(num / d) = sqrt(num d) / d for d > 0
        c, m, p = factored(self, times_term(v.num, v.mono, v.den))
        if c < 0:
            c, p = -c, {k: -x for k, x in p.items()}
        s, k = square_free(c)
        half, rest = 0, 0
        for g, e in unpack(m).items():
            if self.nonneg[g]:
                half += (e // 2) << (BITS * g)
                rest += (e % 2) << (BITS * g)
            else:
                rest += e << (BITS * g)
        key = times_term(p, rest, k)
        root = 0 if key == {0: 1} else self._named(self._roots, key, "r")
        return Value(self, {half + root: s}, v.den, v.mono, v.degree + 1)

    def relu(self, v: Value) -> Value:
        if not v.num:
            return v
        if any(not self.nonneg[g] for g in unpack(v.mono)):
            raise Unsupported("a ReLU of a value with a signed generator in its denominator")
        if set(v.num) == {0}:  # a number
            return v if v.num[0] > 0 else Value(self, {}, 1, 0, 0)
        c, m, p = factored(self, v.num)
        outside, inside = 0, 0
        for g, e in unpack(m).items():
            if self.nonneg[g]:
                outside += e << (BITS * g)
            else:
                inside += e << (BITS * g)
        key = times_term(p, inside, 1 if c > 0 else -1)
        if key == {0: -1}:  # a negative number times nonnegative generators
            return Value(self, {}, 1, 0, 0)
        relu = 0 if key == {0: 1} else self._named(self._relus, key, "R")
        return Value(self, {outside + relu: abs(c)}, v.den, v.mono, v.degree + 1)


class Value:
    """num / (den * mono): num a polynomial, den a positive integer, mono a packed monomial of
    nonnegative generators (or, after a division by one, of any generator); degree bounds every
    total degree met (exponents are packed: the bound keeps them apart)."""

    __slots__ = ("alg", "degree", "den", "mono", "num")

    def __init__(self, alg: Algebra, num: Poly, den: int, mono: int, degree: int) -> None:
        if degree > MAX_DEGREE:
            raise Unsupported(f"degree {degree} beyond the packed exponents' {MAX_DEGREE}")
        self.alg, self.num, self.den, self.mono, self.degree = alg, num, den, mono, degree

    def monomial(self) -> int:
        (m,) = self.num
        return m

    def is_zero(self) -> bool:
        return not self.num

    def _lift(self, other: Any) -> Value:
        return other if isinstance(other, Value) else self.alg.constant(other)

    def __add__(self, other: Any) -> Value:
        o = self._lift(other)
        if not o.num:
            return self
        if not self.num:
            return o
        if self.den == o.den and self.mono == o.mono:
            return Value(self.alg, added(self.num, o.num), self.den, self.mono, max(self.degree, o.degree))
        den = self.den * o.den // math.gcd(self.den, o.den)
        mono = monomial_lcm(self.mono, o.mono)
        a = times_term(self.num, mono - self.mono, den // self.den)
        b = times_term(o.num, mono - o.mono, den // o.den)
        degree = max(self.degree, o.degree) + degree_of(mono)
        return Value(self.alg, added(a, b), den, mono, degree)

    __radd__ = __add__

    def __neg__(self) -> Value:
        return Value(self.alg, {m: -c for m, c in self.num.items()}, self.den, self.mono, self.degree)

    def __sub__(self, other: Any) -> Value:
        return self + -self._lift(other)

    def __rsub__(self, other: Any) -> Value:
        return self._lift(other) + -self

    def __mul__(self, other: Any) -> Value:
        o = self._lift(other)
        if not self.num or not o.num:
            return Value(self.alg, {}, 1, 0, 0)
        degree = self.degree + o.degree
        return Value(self.alg, multiplied(self.num, o.num), self.den * o.den, self.mono + o.mono, degree)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Value:
        o = self._lift(other)
        if not o.num:
            raise ZeroDivisor("a division by a value that is identically 0")
        if len(o.num) != 1:
            raise Unsupported("a division by a sum")
        ((m, c),) = o.num.items()
        # (n / (d t)) / (c m / (d2 t2)) = n d2 t2 / (d t |c| m), the sign of c into the numerator
        num = times_term(self.num, o.mono, o.den * (1 if c > 0 else -1))
        return Value(self.alg, num, self.den * abs(c), self.mono + m, self.degree + o.degree)

    def __rtruediv__(self, other: Any) -> Value:
        return self._lift(other) / self

    def __pow__(self, n: int) -> Value:
        if not isinstance(n, Integral) or n < 0:
            raise Unsupported(f"power {n!r}")
        out = self.alg.constant(1)
        for _ in range(int(n)):
            out = out * self
        return out

    def __abs__(self) -> Value:
        raise Unsupported("abs (sympy's Abs decides it)")

    def _unordered(self, other: Any) -> bool:
        raise Unsupported("a comparison of symbolic values")

    __lt__ = __le__ = __gt__ = __ge__ = _unordered

    def sqrt(self) -> Value:
        return self.alg.sqrt(self)

    def relu(self) -> Value:
        return self.alg.relu(self)

    def __repr__(self) -> str:
        return f"Value({len(self.num)} terms / {self.den} m{self.mono:x})"


# Polynomials as dicts ----------------------------------------------------------------------------


def added(a: Poly, b: Poly) -> Poly:
    out = dict(a)
    for m, c in b.items():
        s = out.get(m, 0) + c
        if s:
            out[m] = s
        else:
            out.pop(m, None)
    return out


def multiplied(a: Poly, b: Poly) -> Poly:
    if len(a) < len(b):
        a, b = b, a
    out: Poly = {}
    get = out.get
    for m2, c2 in b.items():
        for m1, c1 in a.items():
            k = m1 + m2
            out[k] = get(k, 0) + c1 * c2
    return {m: c for m, c in out.items() if c}


def times_term(p: Poly, mono: int, c: int) -> Poly:
    """p * c * mono (mono packed)."""
    if c == 1 and mono == 0:
        return p
    return {m + mono: x * c for m, x in p.items()}


def unpack(mono: int) -> dict[int, int]:
    """{generator: exponent} of a packed monomial."""
    if not mono:
        return {}
    raw = mono.to_bytes((mono.bit_length() + 7) // 8, "little")
    return {g: e for g, e in enumerate(raw) if e}


def monomial_lcm(a: int, b: int) -> int:
    ea, eb = unpack(a), unpack(b)
    return sum(max(ea.get(g, 0), eb.get(g, 0)) << (BITS * g) for g in {*ea, *eb})


def degree_of(mono: int) -> int:
    return sum(unpack(mono).values())


def factored(alg: Algebra, p: Poly) -> tuple[int, int, Poly]:
    """p = c * m * P: c an integer (the content, signed so that P's largest monomial has a positive
    coefficient), m the monomial every term shares, P primitive: one form for the same P on any side."""
    c = math.gcd(*p.values())
    if p[max(p)] < 0:
        c = -c
    first = unpack(next(iter(p)))
    shared = dict(first)
    for m in p:
        if not shared:
            break
        raw = m.to_bytes((m.bit_length() + 7) // 8 or 1, "little")
        for g in list(shared):
            e = raw[g] if g < len(raw) else 0
            if e < shared[g]:
                if e:
                    shared[g] = e
                else:
                    del shared[g]
    mono = sum(e << (BITS * g) for g, e in shared.items())
    return c, mono, {m - mono: x // c for m, x in p.items()}


def square_free(c: int) -> tuple[int, int]:
    """c = s^2 k with k square-free (c > 0)."""
    from sympy import factorint

    s, k = 1, 1
    for prime, e in factorint(c).items():
        s *= prime ** (e // 2)
        k *= prime ** (e % 2)
    return s, k
