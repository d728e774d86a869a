"""One cell (a norm in a layer under a transform) as exact or symbolic arithmetic.

Everything here is derived from the registries' own descriptions, never from a table of results:
- the summed inputs a come from the layer kind's `summed`, read off as a bilinear map
  a = K(X, W) with integer coefficients (probed with one-hot X and W), so any kind whose
  summed inputs are bilinear (every kind with `exact_sizes`) works;
- the statistics and the normalized values come from the norm itself (`statistics` and
  `normalized`, the functions the reference runs, here over numpy arrays of floats or sympy);
- where the norm sits comes from the placement's own `run` (ReLU: `arrays.relu`);
- the transform is the registry's own `apply`, run with its random factors replaced by given
  ones (symbols, or short numbers).

Arrays are numpy arrays: of floats (fast search), of sympy objects (exact and symbolic), or of the
proofs' exact values (`algebra.py`: symbolic, fast).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np

from invcheck.layer_kinds import LAYER_KINDS, LayerKind
from invcheck.norms import NORMS, Norm
from invcheck.norms.arrays import NumpyOps, numpy_ops
from invcheck.placements import PLACEMENTS
from invcheck.settings import LayerConfig, NormConfig, TransformConfig
from invcheck.transforms import TRANSFORMS, Transform
from invcheck.why.algebra import Algebra, Unsupported


class Arr(np.ndarray):
    """A numpy array that answers the torch methods the transforms and layer kinds call on X and W."""

    def dim(self) -> int:
        return self.ndim

    def movedim(self, source: int, destination: int) -> Arr:
        return np.moveaxis(self, source, destination).view(Arr)


def arr(values: Any) -> Arr:
    return np.asarray(values).view(Arr)


FLOAT = numpy_ops()


def exact_ops() -> NumpyOps:
    """sympy arithmetic; a variance's square root is taken of its factors one by one (`_factored`),
    so that sqrt(delta^2 P) is delta sqrt(P) by delta's positivity and both sides share sqrt(P)."""
    return numpy_ops(exact=True, sqrt=np.vectorize(_root, otypes=[object]))


def algebra_ops(alg: Algebra) -> NumpyOps:
    """The proofs' fast exact arithmetic (why/algebra.py): its own roots; tanh is not written there."""

    def tanh(v: Any) -> Any:
        raise Unsupported("tanh")

    return NumpyOps(np.vectorize(alg.sqrt, otypes=[object]), tanh)


def _root(v: Any) -> Any:
    import sympy as sp

    return sp.Mul(*(sp.sqrt(f) for f in _factored(v)))


def _common_factor(v: Any) -> Any:
    """v written c * m * P (see `_factored`), as the statistics are shown."""
    from sympy.core.mul import _keep_coeff

    content, powers, rest = _factored(v)
    # _keep_coeff: c stays outside P (a plain product would spread a rational over P's terms)
    return _keep_coeff(content, powers * rest)


@functools.lru_cache(maxsize=4096)  # the same variance is factored for its square root and its record
def _factored(v: Any) -> tuple[Any, Any, Any]:
    """v as (c, m, P): a rational c, the monomial m every term shares, a primitive polynomial P.

    Expanded in sympy's sparse polynomial ring (tens of times faster than Expr.expand on a variance
    over many entries); P is then the same expression on both sides of a rescaled cell, so both
    share its square root. What is no polynomial (a ReLU's Max, a root) takes sympy's factor_terms.
    Each factor's root is taken alone: sqrt of their product asks sympy's assumptions about P,
    which took seconds on a variance over conv3d's positions."""
    import sympy as sp

    expr = sp.sympify(v)
    # a function applied (a ReLU's relu(a)) is one more variable of the polynomial
    applied = {
        f: sp.Dummy(f"f{i}") for i, f in enumerate(sorted(expr.atoms(sp.Function), key=sp.default_sort_key))
    }
    expr = expr.xreplace(applied)
    back = {d: f for f, d in applied.items()}
    symbols = sorted(expr.free_symbols, key=sp.default_sort_key)
    ring = sp.ring(symbols, sp.QQ)[0] if symbols else None
    try:
        poly = ring.from_expr(expr) if ring is not None else None
    except ValueError:  # no polynomial in these symbols
        poly = None
    if ring is None or poly is None or not poly:
        coeff, rest = sp.factor_terms(sp.expand(expr.xreplace(back))).as_coeff_Mul()
        return coeff, sp.Integer(1), rest
    content, primitive = poly.primitive()
    shared = [min(exps) for exps in zip(*primitive.monoms())]
    rest = primitive.exquo(ring.from_dict({tuple(shared): 1}))
    powers = sp.Mul(*(s**e for s, e in zip(symbols, shared))).xreplace(back)
    return ring.domain.to_sympy(content), powers, rest.as_expr().xreplace(back)


@dataclass
class Pass:
    """One side's pass: what the norm normalizes (summed inputs a, X for a norm on the input, W for a
    weight norm), its statistics (broadcast against it), and the layer's output y, without the trial axis."""

    a: np.ndarray
    mu: np.ndarray
    var: np.ndarray
    y: np.ndarray
    stats_mu: np.ndarray  # the statistics, one per set of entries
    stats_var: np.ndarray
    per: str = ""  # what one statistic belongs to, in words ("case", "unit", "case and position")


@dataclass
class ExactCell:
    """A norm in a small layer (the kind's `exact_sizes`), at a placement, under a transform."""

    kind_id: str
    norm_id: str
    transform_id: str
    sizes: dict[str, int] = field(default_factory=dict)
    norm_cfg: NormConfig | None = None
    placement: str = "summed"

    @property
    def kind(self) -> LayerKind:
        return LAYER_KINDS[self.kind_id]

    @property
    def norm(self) -> Norm:
        return NORMS[self.norm_id]

    @property
    def transform(self) -> Transform:
        return TRANSFORMS[self.transform_id]

    @property
    def cfg(self) -> NormConfig:
        return self.norm_cfg or NormConfig(id=self.norm_id)

    @property
    def layer(self) -> LayerConfig:
        return LayerConfig(
            self.kind_id,
            placement=self.placement,
            **cast(dict[str, Any], {**(self.kind.exact_sizes or {}), **self.sizes}),
        )

    def with_sizes(self, **sizes: int) -> ExactCell:
        return replace(self, sizes={**self.sizes, **sizes})

    @property
    def exact_ready(self) -> bool:
        """Whether this layer kind has small sizes for exact work (and summed inputs K(X, W))."""
        return self.kind.exact_sizes is not None

    def undefined_reason(self) -> str | None:
        placement = PLACEMENTS[self.placement]
        return (
            self.transform.undefined_reason(self.kind)
            or placement.refusal(self.kind)
            or self.norm.undefined_reason(self.kind, self.layer, self.cfg)
            or placement.undefined_reason(self.norm)
        )

    @property
    def coefficients(self) -> np.ndarray:
        """K: [|X|, |W|, N, C, *pos] integers with a = sum_ij K_ij X_i W_j (see `bilinear`)."""
        return _coefficients(self.kind_id, self.layer)[0]

    @property
    def float_coefficients(self) -> np.ndarray:
        return _coefficients(self.kind_id, self.layer)[1]

    # The pass ------------------------------------------------------------------------------------

    def summed(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        if x.dtype != object and w.dtype != object:
            inner = np.tensordot(np.asarray(w).reshape(-1), self.float_coefficients, axes=([0], [1]))
            return np.tensordot(np.asarray(x).reshape(-1), inner, axes=([0], [0]))  # [N, C, *pos]
        # exact: each a from its few nonzero K_ij (a tensordot multiplies every zero of K too)
        xs, ws = np.asarray(x, dtype=object).reshape(-1), np.asarray(w, dtype=object).reshape(-1)
        terms, shape = _coefficients(self.kind_id, self.layer)[2:]
        out = np.empty(len(terms), dtype=object)
        for o, entry in enumerate(terms):
            products = [k * xs[i] * ws[j] if k != 1 else xs[i] * ws[j] for i, j, k in entry]
            out[o] = _total(products) if products else xs[0] * 0
        return out.reshape(shape)

    def forward(
        self,
        x: np.ndarray,
        w: np.ndarray,
        g: np.ndarray,
        b: np.ndarray,
        xp: NumpyOps = FLOAT,
        eps: float = 0.0,
    ) -> Pass:
        """The layer's output with the norm where its placement puts it, by the norm's own
        `statistics` and `normalized` and the placement's own `run` (one trial, no trial axis)."""
        norm, kind, layer, seen = self.norm, self.kind, self.layer, []

        def affine(n: np.ndarray) -> np.ndarray:
            unit = (1, 1, n.shape[2]) + (1,) * (n.ndim - 3)
            return n * np.asarray(g).reshape(unit) + np.asarray(b).reshape(unit)

        def normed(v: np.ndarray) -> np.ndarray:  # v: [1, N, C, *pos], what the norm sees
            stats = norm.statistics(v, xp, self.cfg, kind.per_token_statistics)
            seen.append((v, stats))
            with np.errstate(divide="ignore", invalid="ignore"):  # a degenerate float draw: caller's check
                return affine(norm.normalized(v, stats, eps, xp))

        def summed(layer: LayerConfig, x1: np.ndarray, w1: np.ndarray) -> np.ndarray:
            return arr(self.summed(np.asarray(x1)[0], np.asarray(w1)[0])[None])

        x1, w1 = arr(x)[None], arr(w)[None]
        placement: Any = PLACEMENTS[self.placement]  # typed for tensors; numpy arrays answer the same calls
        if norm.acts_on == "weights":  # each unit's w_i normalized, then the layer: y = g a + b
            stats = norm.statistics(w1, xp, self.cfg)
            seen.append((w1, stats))
            with np.errstate(divide="ignore", invalid="ignore"):
                w_hat = arr(norm.normalized(w1, stats, eps, xp))
            y = placement.run(kind, layer, x1, w_hat, affine, summed)
        else:
            y = placement.run(kind, layer, x1, w1, normed, summed)
        return _record(np.asarray(y)[0], *seen[0], norm)

    # The transform -------------------------------------------------------------------------------

    def transformed(
        self, x: np.ndarray, w: np.ndarray, scale: Factors, shift: Factors
    ) -> tuple[np.ndarray, np.ndarray]:
        """(X', W') by the registry's own transform, its random factors taken from scale/shift."""
        cfg = TransformConfig(id=self.transform_id)
        # typed for torch tensors: numpy arrays answer the same calls (Arr adds .dim), and no
        # generator is needed while given_factors supplies the factors
        apply: Any = self.transform.apply
        with given_factors(scale, shift):
            x2, w2 = apply(arr(x)[None], arr(w)[None], cfg, None, self.kind)
        return np.asarray(x2)[0], np.asarray(w2)[0]


def _record(y: np.ndarray, v: np.ndarray, stats: Any, norm: Norm) -> Pass:
    """One side's pass, with its statistics listed one per set of entries they were taken over."""
    if stats is None:  # no statistics (dyt): nothing to list
        empty = np.zeros(0, dtype=v.dtype)
        return Pass(v[0], np.zeros_like(v[0]), np.zeros_like(v[0]), y, empty, empty, "entry")
    mu, var = (np.asarray(s) for s in stats)
    if var.dtype == object and var.size and _is_sympy(var.flat[0]):
        var = np.vectorize(_common_factor, otypes=[object])(var)
    shape = np.broadcast_shapes(mu.shape, var.shape)  # the sets: wherever either statistic varies
    mu, var = np.broadcast_to(mu, shape), np.broadcast_to(var, shape)
    full = np.broadcast_to(mu, v.shape)[0], np.broadcast_to(var, v.shape)[0]
    names = ["trial", "unit", "input"] if norm.acts_on == "weights" else ["trial", "case", "unit"]
    names += [names[-1] if norm.acts_on == "weights" else "position"] * (v.ndim - len(names))
    # a set's axes: where a statistic varies, and a per-case norm's case axis even with one case
    per_case = norm.acts_on == "data" and norm.per_case
    kept = list(dict.fromkeys(names[i] for i in range(1, v.ndim) if shape[i] > 1 or (i == 1 and per_case)))
    return Pass(v[0], *full, y, np.ravel(mu), np.ravel(var), " and ".join(kept) or "trial")


def _is_sympy(v: Any) -> bool:
    import sympy as sp

    return isinstance(v, sp.Basic)


# shape (without the trial axis) -> array of factors of that shape
Factors = Callable[[tuple[int, ...]], np.ndarray]


@contextlib.contextmanager
def given_factors(scale: Factors, shift: Factors) -> Iterator[None]:
    """Run the transforms with their random draws replaced by the given factors."""
    from invcheck.transforms import data, weights

    def scale_factors(shape: tuple[int, ...], cfg: Any, gen: Any) -> np.ndarray:
        f = arr(scale(tuple(shape[1:]))).reshape(shape)
        return -f if cfg.negative else f

    def shift_(shape: tuple[int, ...], spread: Any, cfg: Any, gen: Any) -> np.ndarray:
        return arr(shift(tuple(shape[1:]))).reshape(shape)

    saved = [(m, n, getattr(m, n)) for m in (data, weights) for n in ("scale_factors", "shift", "rms")]
    replacements = {"scale_factors": scale_factors, "shift": shift_, "rms": lambda t: None}
    try:
        for module, name, _ in saved:
            setattr(module, name, replacements[name])
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


@functools.lru_cache(maxsize=64)
def _coefficients(
    kind_id: str, layer: LayerConfig
) -> tuple[np.ndarray, np.ndarray, list[list[tuple[int, int, int]]], tuple[int, ...]]:
    """K (exact), K as floats, and per output entry its nonzero (i, j, K_ij): computed once per
    layer, not once per transform and side (each ExactCell is new)."""
    k = bilinear(LAYER_KINDS[kind_id], layer)
    nx, nw = k.shape[:2]
    flat = k.reshape(nx, nw, -1)
    terms: list[list[tuple[int, int, int]]] = [[] for _ in range(flat.shape[2])]
    for i, j, o in zip(*np.nonzero(flat.astype(np.int64))):
        terms[o].append((int(i), int(j), int(flat[i, j, o])))
    return k, k.astype(float), terms, tuple(k.shape[2:])


def _total(values: list[Any]) -> Any:
    """The sum of exact values: sympy's Add in one call for sympy terms (a chain of + rebuilds)."""
    import sympy as sp

    if isinstance(values[0], sp.Basic):
        return sp.Add(*values)
    out = values[0]
    for v in values[1:]:
        out = out + v
    return out


def bilinear(kind: LayerKind, layer: LayerConfig) -> np.ndarray:
    """The layer's summed inputs as integer coefficients K[i, j, ...] = a(e_i, e_j), checked.

    Runs the kind's own `summed` (torch, float64) once per weight entry, every one-hot X at once
    as trials. Refuses a kind whose summed inputs are not bilinear with integer coefficients.
    """
    import torch

    xs, ws = kind.input_shape(layer), kind.weight_shape(layer)
    nx, nw = math.prod(xs), math.prod(ws)
    eye_x = torch.eye(nx, dtype=torch.float64).reshape(nx, *xs)
    columns = []
    for j in range(nw):
        w = torch.zeros(nx, nw, dtype=torch.float64)
        w[:, j] = 1.0
        columns.append(kind.summed(layer, eye_x, w.reshape(nx, *ws)))
    k = torch.stack(columns, 1).numpy()  # [nx, nw, N, C, *pos]
    if not np.array_equal(k, np.round(k)):
        raise NotBilinear(f"{kind.id}: summed inputs are not integer-bilinear in X and W")
    k = np.round(k).astype(np.int64)
    _check_bilinear(kind, layer, k)
    return k.astype(object)


def _check_bilinear(kind: LayerKind, layer: LayerConfig, k: np.ndarray) -> None:
    import torch

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(kind.input_shape(layer), generator=gen, dtype=torch.float64)
    w = torch.randn(kind.weight_shape(layer), generator=gen, dtype=torch.float64)
    a = kind.summed(layer, x[None], w[None])[0].numpy()
    b = np.tensordot(
        x.numpy().reshape(-1), np.tensordot(w.numpy().reshape(-1), k.astype(float), ([0], [1])), ([0], [0])
    )
    if not np.allclose(a, b, rtol=1e-12, atol=1e-12):
        raise NotBilinear(f"{kind.id}: summed inputs are not bilinear in X and W")


class NotBilinear(Exception):
    """The layer kind's summed inputs cannot be written as a = K(X, W)."""
