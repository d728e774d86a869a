"""The few array operations a norm's statistics are written in, for torch tensors and numpy arrays.

A norm writes its statistics once (`Norm.statistics(v, xp, ...)`), over `xp`: the torch reference
and PyTorch comparisons pass TORCH; the exact proofs and explanations pass a numpy namespace whose
arrays hold floats or sympy expressions (`numpy_ops`). Reductions keep their axes, so a statistic
broadcasts against what it was taken over.

Imports no torch at module level: the registry is read by the spec validator and `--help`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Array = Any  # a torch.Tensor, or a numpy array of floats or of sympy expressions


class TorchOps:
    """torch tensors (the reference implementation and its float64 runs)."""

    def mean(self, v: Array, dims: Sequence[int]) -> Array:
        return v.mean(tuple(dims), keepdim=True)

    def sum(self, v: Array, dims: Sequence[int]) -> Array:
        return v.sum(tuple(dims), keepdim=True)

    def zero(self, v: Array) -> Array:
        """A zero that broadcasts against v (mu of a norm that does not centre)."""
        return v.new_zeros(())

    def reshape(self, v: Array, shape: Sequence[int]) -> Array:
        return v.reshape(*shape)

    def expand(self, v: Array, shape: Sequence[int]) -> Array:
        return v.expand(*shape)

    def normalize(self, v: Array, mu: Array, var: Array, eps: float) -> Array:
        """(v - mu) / sqrt(var + eps): one new tensor, the rest in place."""
        import torch

        return torch.sub(v, mu).mul_((var + eps).rsqrt())

    def tanh(self, v: Array) -> Array:
        return v.tanh()


@dataclass(frozen=True)
class NumpyOps:
    """numpy arrays of floats, or of sympy expressions (dtype object) for exact work."""

    sqrt: Callable[[Array], Array]
    tanh: Callable[[Array], Array]

    def mean(self, v: Array, dims: Sequence[int]) -> Array:
        return v.mean(axis=tuple(dims), keepdims=True)

    def sum(self, v: Array, dims: Sequence[int]) -> Array:
        return v.sum(axis=tuple(dims), keepdims=True)

    def zero(self, v: Array) -> Array:
        import numpy as np

        return np.zeros((1,) * v.ndim, dtype=v.dtype)

    def reshape(self, v: Array, shape: Sequence[int]) -> Array:
        return v.reshape(tuple(shape))

    def expand(self, v: Array, shape: Sequence[int]) -> Array:
        import numpy as np

        return np.broadcast_to(v, tuple(shape))

    def normalize(self, v: Array, mu: Array, var: Array, eps: float) -> Array:
        return (v - mu) / self.sqrt(var + eps if eps else var)


TORCH = TorchOps()
ArrayOps = TorchOps | NumpyOps


def numpy_ops(exact: bool = False, sqrt: Callable[[Array], Array] | None = None) -> NumpyOps:
    """numpy's float functions, or sympy's applied entry by entry (exact; `sqrt` may be given)."""
    import numpy as np

    if not exact:
        return NumpyOps(np.sqrt, np.tanh)
    import sympy as sp

    entrywise = lambda f: np.vectorize(f, otypes=[object])  # noqa: E731
    return NumpyOps(sqrt or entrywise(sp.sqrt), entrywise(sp.tanh))


def relu(a: Array) -> Array:
    """max(a, 0) entry by entry: torch, numpy floats, sympy (`exact_relu`), or exact values with a
    `relu` method (why/algebra.py)."""
    import numpy as np

    if not isinstance(a, np.ndarray):
        import torch

        return torch.relu(a)
    if a.dtype != object:
        return np.maximum(a, 0.0)
    sympy_relu = exact_relu()
    # an exact value that knows its own ReLU (the proofs' fast arithmetic, why/algebra.py), else sympy
    one = lambda v: v.relu() if hasattr(v, "relu") else sympy_relu(v)  # noqa: E731
    return np.vectorize(one, otypes=[object])(a).view(type(a))


_RELU: list[Any] = []


def exact_relu() -> Any:
    """max(x, 0) as a sympy function that knows one fact beyond numbers: relu(d x) = d relu(x) for a
    positive d (positive homogeneity), so that a positive scale factor passes through it exactly."""
    if _RELU:
        return _RELU[0]
    import sympy as sp

    class relu(sp.Function):
        @classmethod
        def eval(cls, x: Any) -> Any:
            if x.is_number:
                return sp.Max(x, 0)
            if x.is_nonnegative:
                return x
            if x.is_nonpositive:
                return sp.S.Zero
            factored = sp.factor_terms(x)
            if factored.is_Mul:
                positive = [f for f in factored.args if f.is_positive]
                if positive:
                    rest = sp.Mul(*[f for f in factored.args if not f.is_positive])
                    return sp.Mul(*positive) * cls(rest)
            return None

    _RELU.append(relu)
    return relu
