"""One cell (a norm in a layer under a transform) as exact or symbolic arithmetic.

Everything here is derived from the registries' own descriptions, never from a table of results:
- the summed inputs a come from the layer kind's `summed`, read off as a bilinear map
  a = K(X, W) with integer coefficients (probed with one-hot X and W), so any kind whose
  summed inputs are bilinear (dense, conv, conv1d, sequence) works;
- the statistics come from the norm's `grouped`, `axes`, `centered` and `from_data`
  (weight_norm: sigma_i = ||w_i||);
- the transform is the registry's own `apply`, run with its random factors replaced by given
  ones (symbols, or short numbers).

Arrays are numpy arrays: of floats (fast search), or of sympy objects (exact and symbolic).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

import numpy as np

from invcheck.layer_kinds import LAYER_KINDS, LayerKind
from invcheck.norms import NORMS, Norm
from invcheck.settings import LayerConfig, NormConfig, TransformConfig
from invcheck.transforms import TRANSFORMS, Transform

# Small sizes for exact work. Four units: group_norm keeps 2 groups of 2 (with one unit per
# group it would be instance_norm), as in the checked layers.
SMALL_SIZES: dict[str, dict[str, int]] = {
    "dense": {"cases": 3, "inputs": 2, "units": 4},
    "conv": {"cases": 2, "in_channels": 2, "out_channels": 4, "kernel": 1, "size": 2},
    "conv1d": {"cases": 2, "in_channels": 2, "out_channels": 4, "kernel": 1, "size": 2},
    "sequence": {"cases": 2, "tokens": 2, "inputs": 2, "units": 4},
}


class Arr(np.ndarray):
    """A numpy array that answers the one torch method the transforms call on X and W (`dim`)."""

    def dim(self) -> int:
        return self.ndim


def arr(values: Any) -> Arr:
    return np.asarray(values).view(Arr)


@dataclass(frozen=True)
class Ops:
    """The arithmetic a forward pass needs: numbers (floats) or expressions (sympy)."""

    sqrt: Callable[[Any], Any]
    tidy: Callable[[Any], Any]  # applied to each variance before its square root


FLOAT = Ops(np.sqrt, lambda v: v)


def exact_ops() -> Ops:
    import sympy as sp

    def common_factor(v: Any) -> Any:
        # Expanded, with the factor every term shares pulled out: delta^2 * P, whose square root
        # sympy writes delta * sqrt(P) because delta is a positive symbol.
        return sp.factor_terms(sp.expand(v))

    sqrt, tidy = np.vectorize(sp.sqrt, otypes=[object]), np.vectorize(common_factor, otypes=[object])
    return Ops(sqrt, tidy)


@dataclass
class Forward:
    """One side's pass: summed inputs, statistics (broadcast against a) and outputs, [N, C, *pos]."""

    a: np.ndarray
    mu: np.ndarray
    var: np.ndarray
    y: np.ndarray
    stats_mu: np.ndarray  # the distinct statistics (one per group of entries)
    stats_var: np.ndarray
    per: str = ""  # what one statistic belongs to, in words ("case", "unit", "case and group")


@dataclass
class Setting:
    """A norm in a small layer under a transform."""

    kind_id: str
    norm_id: str
    transform_id: str
    sizes: dict[str, int] = field(default_factory=dict)
    norm_cfg: NormConfig | None = None

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
        sizes: dict[str, Any] = {**SMALL_SIZES.get(self.kind_id, {}), **self.sizes}
        return LayerConfig(self.kind_id, **sizes)

    def with_sizes(self, **sizes: int) -> Setting:
        return Setting(self.kind_id, self.norm_id, self.transform_id, {**self.sizes, **sizes}, self.norm_cfg)

    @property
    def exact_ready(self) -> bool:
        """Whether this layer kind has small sizes for exact work (and summed inputs K(X, W))."""
        return self.kind_id in SMALL_SIZES

    def undefined_reason(self) -> str | None:
        return self.transform.undefined_reason(self.kind) or self.norm.undefined_reason(
            self.kind, self.layer, self.cfg
        )

    @cached_property
    def coefficients(self) -> np.ndarray:
        """K: [|X|, |W|, N, C, *pos] integers with a = sum_ij K_ij X_i W_j (see `bilinear`)."""
        return bilinear(self.kind, self.layer)

    @cached_property
    def float_coefficients(self) -> np.ndarray:
        return self.coefficients.astype(float)

    # The pass ------------------------------------------------------------------------------------

    def summed(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        k = self.coefficients if x.dtype == object or w.dtype == object else self.float_coefficients
        inner = np.tensordot(w.reshape(-1), k, axes=([0], [1]))  # [|X|, N, C, *pos]
        return np.tensordot(x.reshape(-1), inner, axes=([0], [0]))

    def forward(
        self, x: np.ndarray, w: np.ndarray, g: np.ndarray, b: np.ndarray, ops: Ops = FLOAT, eps: float = 0.0
    ) -> Forward:
        """y = g (a - mu) / sqrt(var + eps) + b, statistics as the norm describes them."""
        a = self.summed(x, w)[None]  # [1, N, C, *pos]: the trial axis the norms' axes count
        mu, var, smu, svar, per = self._statistics(a, np.asarray(w)[None], ops)
        unit = (1, 1, a.shape[2]) + (1,) * (a.ndim - 3)
        with np.errstate(divide="ignore", invalid="ignore"):  # a degenerate float draw: caller's check
            y = (a - mu) / ops.sqrt(var + eps if eps else var) * np.asarray(g).reshape(unit) + np.asarray(
                b
            ).reshape(unit)
        return Forward(a[0], np.broadcast_to(mu, a.shape)[0], var[0], y[0], smu, svar, per)

    def _statistics(self, a: np.ndarray, w: np.ndarray, ops: Ops) -> tuple[Any, ...]:
        norm = self.norm
        if not norm.from_data:  # weight_norm: sigma_i^2 = ||w_i||^2, mu = 0
            sq = ops.tidy((w * w).reshape(1, w.shape[1], -1).sum(-1))  # [1, C]
            var = np.broadcast_to(sq.reshape(1, 1, -1, *([1] * (a.ndim - 3))), a.shape)
            return np.zeros_like(a), var, np.zeros(sq.shape[1:], dtype=a.dtype), sq[0], "unit"
        # the norms' methods are typed for torch tensors; numpy arrays answer the same calls
        v: Any = norm.grouped(cast(Any, a), self.cfg)
        dims = norm.axes(v.ndim, self.kind.per_token_statistics)
        mu = v.mean(axis=dims, keepdims=True) if norm.centered else np.zeros((1,) * v.ndim, dtype=v.dtype)
        var = ops.tidy(((v - mu) ** 2).mean(axis=dims, keepdims=True))
        back = [np.broadcast_to(s, v.shape).reshape(a.shape) for s in (mu, var)]
        return back[0], back[1], np.ravel(mu), np.ravel(var), _per(v.ndim != a.ndim, v.ndim, dims)

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


def _per(grouped: bool, ndim: int, dims: tuple[int, ...]) -> str:
    """What one statistic belongs to: the axes of the (grouped) view it does not reduce over."""
    names = ["trial", "case", "group", "unit"] if grouped else ["trial", "case", "unit"]
    names += ["position"] * (ndim - len(names))
    kept = list(dict.fromkeys(names[i] for i in range(1, ndim) if i not in dims))
    return " and ".join(kept) or "trial"


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
