"""What every norm shares: y = g * (v - mu) / sqrt(var + eps) + b, with the norm's own mu and var.

Each norm is the single source of truth about itself: its statistics are written once
(`Norm.statistics`, over an array namespace, `arrays.py`), and the reference implementation, the
PyTorch comparison's eps handling, the exact proofs (`why/`), the explanations and the eps model
all call it. A data norm takes statistics of what it sees (summed inputs a: [T, N, C, *positions]);
a weight norm of each unit's incoming weights (W: [T, C, *fan-in]), normalized before the layer.
The affine step and the bookkeeping are written once here; `docs/extending.md` lists what an entry
must define (the abstract members below: a missing one fails when the registry is built).

Imports no torch: the registry is read by the spec validator and `--help`; torch is imported by
the methods that compute.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from invcheck.norms.arrays import TORCH, Array, ArrayOps

if TYPE_CHECKING:
    from torch import Tensor

    from invcheck.layer_kinds import LayerKind
    from invcheck.settings import LayerConfig, NormConfig


@dataclass
class TorchSetup:
    """What a norm needs to build PyTorch's version of itself, for one trial (or all, folded)."""

    kind: LayerKind
    layer: LayerConfig
    cfg: NormConfig
    g: Tensor  # [C] gain, checked dtype and device (batch_norm: [T*C], trials folded)
    b: Tensor  # [C] bias
    eps: float | None  # what torch is given (None: torch's own default)
    functional: bool  # torch.nn.functional calls instead of torch.nn modules


@dataclass
class TorchNorm:
    """PyTorch's version of a norm: canonical a -> y, the module that holds its mode, its gain."""

    fn: Callable[[Tensor], Tensor]
    module: Any  # has train(); running statistics for batch_norm (None when there is no state)
    gain: Tensor  # [C] float64: the gain really applied


class Norm(ABC):
    """One normalization: its statistics (written once, array-agnostic), where it applies, its
    PyTorch version. A subclass that misses a required member fails when the registry is built."""

    # Required: what the norm is called, its set of entries in words, and its formula (explanations).
    id: ClassVar[str]
    doc: ClassVar[str]
    formula: ClassVar[str]  # mu and sigma, e.g. "μ = mean a, σ = √(mean (a − μ)² + ε)"
    # "data": statistics of what the norm sees (summed inputs, or X for a norm on the input);
    # "weights": statistics of each unit's incoming weights w_i, which are normalized before the
    # layer runs (weight_norm, weight_standardization), the layer then computes y = g a + b.
    acts_on: ClassVar[str] = "data"
    # Whether the norm's definition adds an eps (False: weight_norm, dyt; an eps is refused with
    # impl torch, and the table runs the norm's cells at eps 0 whatever --eps says).
    has_eps: ClassVar[bool] = True
    # Whether one statistic never mixes cases (a check may then be sampled by its first cases).
    per_case: ClassVar[bool] = True
    # NormConfig fields that only this norm reads (a spec giving one to another norm is refused).
    params: ClassVar[tuple[str, ...]] = ()
    # eps of PyTorch's layer when none is given; None: finfo(compute dtype).eps, as nn.RMSNorm.
    torch_eps: ClassVar[float | None] = 1e-5
    # "fold": one PyTorch layer over T*C channels runs every trial; "per_trial": one per trial.
    torch_batches: ClassVar[str] = "per_trial"

    def __init__(self) -> None:
        missing = [
            name for name in ("id", "doc", "formula") if not isinstance(getattr(self, name, None), str)
        ]
        if missing:
            raise TypeError(f"norm {type(self).__name__} does not define {', '.join(missing)}")
        if self.acts_on not in ("data", "weights"):
            raise TypeError(f"norm {self.id}: acts_on must be 'data' or 'weights', not {self.acts_on!r}")

    @abstractmethod
    def statistics(
        self, v: Array, xp: ArrayOps, cfg: NormConfig, per_token: bool = False, state: Any = None
    ) -> tuple[Array, Array] | None:
        """mu and var (eps not added), each broadcastable against v; None: the norm has none (dyt).

        v: what the norm normalizes. A data norm: [T, N, C, *positions] (per_token: a sequence
        layer's tokens are positions taken one by one). A weight norm: W [T, C, *fan-in].
        xp: the array operations (`arrays.py`): torch tensors, or numpy arrays of floats or sympy."""

    def normalized(self, v: Array, stats: tuple[Array, Array] | None, eps: float, xp: ArrayOps) -> Array:
        """v with its statistics taken out, before the gain and bias: (v - mu) / sqrt(var + eps)."""
        assert stats is not None, f"{self.id} has statistics"
        return xp.normalize(v, stats[0], stats[1], eps)

    def undefined_reason(self, kind: LayerKind, layer: LayerConfig, cfg: NormConfig) -> str | None:
        """Why this norm does not apply to the layer, or None."""
        return None

    def problems(self, cfg: NormConfig, kind: LayerKind, layer: LayerConfig) -> list[Problem]:
        """Settings no check of this norm can have: (key, message, value, hint), as a layer kind's."""
        out: list[Problem] = []
        if cfg.impl == "torch" and not self.has_torch:
            out.append(("impl", f"{self.id} has no PyTorch version", "torch", "use impl: reference"))
        elif cfg.impl == "torch" and cfg.eps and not self.has_eps:
            out.append(
                (
                    "eps",
                    f"eps {cfg.eps:g}: torch's {self.id} has no eps",
                    cfg.eps,
                    "remove eps, or use impl: reference",
                )
            )
        return out

    def same_as(self, kind: LayerKind, layer: LayerConfig) -> str | None:
        """The norm this one coincides with in such a layer (a table shows that row once)."""
        return None

    def prepare(self, warmup: list[Tensor], cfg: NormConfig, per_token: bool = False) -> Any:
        """State learned from warm-up batches of summed inputs (eval-mode running statistics)."""
        return None

    # PyTorch's version -------------------------------------------------------------------------

    @property
    def has_torch(self) -> bool:
        """Whether PyTorch has a version of this norm (`torch_norm` is defined)."""
        return type(self).torch_norm is not Norm.torch_norm

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        """PyTorch's own layer (or functional call) for this norm: canonical a -> y; a weight norm:
        one trial's W -> the effective weight the layer runs with (gain included)."""
        raise NotImplementedError(f"{self.id} has no PyTorch version")


Problem = tuple[str, str, object, "str | None"]  # (key, message, value, hint)


def moments(v: Array, dims: tuple[int, ...], xp: ArrayOps) -> tuple[Array, Array]:
    """Mean and (population) variance over dims, two-pass: no cancellation in E[v^2] - mu^2."""
    mu = xp.mean(v, dims)
    d = v - mu
    return mu, xp.mean(d * d, dims)


def grouped_back(stat: Array, v: Array, shape: tuple[int, ...], xp: ArrayOps) -> Array:
    """A statistic (keepdim) of a grouped view v [T, N, G, C/G, *pos] in a shape that broadcasts
    against the ungrouped [T, N, C, *pos], kept small: each group's value repeated over its channels."""
    repeated = xp.expand(stat, (*stat.shape[:3], v.shape[3], *stat.shape[4:]))
    return xp.reshape(repeated, (*stat.shape[:2], shape[2], *stat.shape[4:]))


def fan_in_axes(w: Array) -> tuple[int, ...]:
    """The axes of W [T, C, *fan-in] that hold one unit's incoming weights."""
    return tuple(range(2, w.ndim))


def opmath(dtype: Any) -> Any:
    """The dtype PyTorch's norm kernels compute in: float32 for half types, else the dtype itself."""
    import torch

    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def normalize(
    norm: Norm,
    a: Tensor,
    g: Tensor,
    b: Tensor,
    cfg: NormConfig,
    per_token: bool = False,
    state: Any = None,
) -> Tensor:
    """A data norm on a: y = g * normalized(a) + b; g, b broadcast against a.

    Like PyTorch's kernels, half-precision inputs are normalized in float32 and the output is
    stored back in a's dtype, so the reference rounds where a real layer rounds.
    """
    op = opmath(a.dtype)
    a_op = a.to(op)
    state = tuple(s.to(op) for s in state) if isinstance(state, tuple) else state
    n = norm.normalized(a_op, norm.statistics(a_op, TORCH, cfg, per_token, state), cfg.eps, TORCH)
    # g and b stay as small as they are (broadcast over other axes, 1/sigma * g would be a's size)
    return n.mul_(g.to(op)).add_(b.to(op)).to(a.dtype)


def normalized_weight(norm: Norm, w: Tensor, cfg: NormConfig) -> Tensor:
    """A weight norm on W [T, C, *fan-in]: each unit's w_i normalized (gain not applied), in W's dtype
    (computed in float32 for half types, as the data norms)."""
    w_op = w.to(opmath(w.dtype))
    return norm.normalized(w_op, norm.statistics(w_op, TORCH, cfg), cfg.eps, TORCH).to(w.dtype)


# Helpers for torch_norm --------------------------------------------------------------------------


def per_unit(v: Tensor, shape: tuple[int, ...]) -> Tensor:
    """A per-channel vector [C] spread over an elementwise parameter of `shape` ([C] or [C, *pos])."""
    return v.reshape(v.shape[0], *([1] * (len(shape) - 1))).expand(shape)


def first_per_unit(p: Tensor) -> Tensor:
    """The per-channel value of an elementwise parameter that `per_unit` filled: [C], float64."""
    return p.detach().reshape(p.shape[0], -1)[:, 0].double().cpu()


def affine_module(module: Any, setup: TorchSetup, channels_last: bool = False) -> TorchNorm:
    """A torch.nn norm with the setup's gain and bias; a bias-free one (RMSNorm) gets b added after.

    channels_last: the module normalizes trailing axes of [N, *pos, C] (nn.LayerNorm(C) per position).
    """
    import torch

    module = module.to(setup.g.device, setup.g.dtype)
    with torch.no_grad():
        module.weight.copy_(per_unit(setup.g, tuple(module.weight.shape)))
        if getattr(module, "bias", None) is not None:
            module.bias.copy_(per_unit(setup.b, tuple(module.bias.shape)))
    added = None if getattr(module, "bias", None) is not None else setup.b
    return TorchNorm(_with_layout(module, added, channels_last), module, first_per_unit(module.weight))


def _with_layout(
    fn: Callable[[Tensor], Tensor], bias: Tensor | None, channels_last: bool
) -> Callable[[Tensor], Tensor]:
    """fn on canonical a [N, C, *pos]: moved to channels-last first if asked; a bias added after."""

    def call(a: Tensor) -> Tensor:
        y = fn(a.movedim(1, -1)).movedim(-1, 1) if channels_last else fn(a)
        if bias is not None:
            y = y + bias.reshape(bias.shape[0], *([1] * (y.dim() - 2)))
        return y

    return call


def functional(
    fn: Callable[[Tensor], Tensor], setup: TorchSetup, channels_last: bool = False, bias: bool = False
) -> TorchNorm:
    """A torch.nn.functional call as a TorchNorm (no module, no state); bias: add b after."""
    return TorchNorm(_with_layout(fn, setup.b if bias else None, channels_last), None, setup.g.double().cpu())
