"""What every norm shares: y = g * (a - mu) / sqrt(var + eps) + b, with the norm's own mu and var.

A norm says which entries of a: [T, N, C, *positions] one statistic is taken over (its `axes`),
whether it subtracts a mean, and which of PyTorch's layers computes it (`torch_norm`). The affine
step, the eps and the bookkeeping are written once here.

Imports no torch: the registry is read by the spec validator and `--help`; torch is imported by
the methods that compute.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from torch import Tensor

    from invcheck.layer_kinds import LayerKind
    from invcheck.settings import LayerConfig, NormConfig


def positions(a: Tensor) -> tuple[int, ...]:
    """Axes of the positions of a: [T, N, C, *positions]."""
    return tuple(range(3, a.dim()))


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


class Norm:
    """A normalization by mean and spread over a set of entries of a: [T, N, C, *positions]."""

    id: ClassVar[str]
    doc: ClassVar[str]
    centered: ClassVar[bool] = True  # False: mu = 0 (weight_norm, rms_norm)
    from_data: ClassVar[bool] = True  # False: sigma comes from the weights (weight_norm)
    # eps of PyTorch's layer when none is given; None: finfo(compute dtype).eps, as nn.RMSNorm.
    torch_eps: ClassVar[float | None] = 1e-5
    # "fold": one PyTorch layer over T*C channels runs every trial; "per_trial": one per trial.
    torch_batches: ClassVar[str] = "per_trial"

    def undefined_reason(self, kind: LayerKind, layer: LayerConfig, cfg: NormConfig) -> str | None:
        """Why this norm does not apply to the layer, or None."""
        return None

    def axes(self, ndim: int, per_token: bool) -> tuple[int, ...]:
        """Axes of the (grouped) view of a that one statistic reduces over."""
        raise NotImplementedError

    def same_as(self, kind: LayerKind, layer: LayerConfig) -> str | None:
        """The norm this one coincides with in such a layer (a table shows that row once)."""
        return None

    def grouped(self, t: Tensor, cfg: NormConfig) -> Tensor:
        """View of t in which `axes` are the statistic's axes (group_norm splits channels)."""
        return t

    def prepare(self, warmup: list[Tensor], cfg: NormConfig, per_token: bool = False) -> Any:
        """State learned from warm-up batches of summed inputs (eval-mode running statistics)."""
        return None

    def statistics(
        self, a: Tensor, w: Tensor, cfg: NormConfig, per_token: bool = False, state: Any = None
    ) -> tuple[Tensor, Tensor]:
        """mu and var (eps not added) of a, broadcastable against a."""
        v = self.grouped(a, cfg)
        dims = self.axes(v.dim(), per_token)
        if not self.centered:
            return a.new_zeros(()), self._back(v.square().mean(dims, keepdim=True), v, a)
        mu = v.mean(dims, keepdim=True)
        var = (v - mu).square_().mean(dims, keepdim=True)  # two-pass: no cancellation in E[a^2] - mu^2
        return self._back(mu, v, a), self._back(var, v, a)

    def _back(self, stat: Tensor, v: Tensor, a: Tensor) -> Tensor:
        """A statistic (keepdim) of the grouped view, in a shape that broadcasts against a, kept small:
        the arithmetic with it then runs over a's entries once, not over expanded copies."""
        if v is a:
            return stat
        # grouped [T, N, G, C/G, *pos]: each group's value repeated over its channels -> [T, N, C, *1]
        repeated = stat.expand(*stat.shape[:3], v.shape[3], *stat.shape[4:])
        return repeated.reshape(*stat.shape[:2], a.shape[2], *stat.shape[4:])

    def group_size(self, a: Tensor, cfg: NormConfig, per_token: bool = False) -> int:
        """How many entries one statistic reduces over."""
        v = self.grouped(a, cfg)
        return math.prod(v.shape[d] for d in self.axes(v.dim(), per_token))

    # PyTorch's version -------------------------------------------------------------------------

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        """PyTorch's own layer (or functional call) for this norm."""
        raise NotImplementedError(f"{self.id} has no PyTorch layer")


def opmath(dtype: Any) -> Any:
    """The dtype PyTorch's norm kernels compute in: float32 for half types, else the dtype itself."""
    import torch

    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def normalize(
    norm: Norm,
    a: Tensor,
    w: Tensor,
    g: Tensor,
    b: Tensor,
    cfg: NormConfig,
    per_token: bool = False,
    state: Any = None,
) -> Tensor:
    """y = g * (a - mu) / sqrt(var + eps) + b; g, b broadcast against a.

    Like PyTorch's kernels, half-precision inputs are normalized in float32 and the output is
    stored back in a's dtype, so the reference rounds where a real layer rounds.
    """
    import torch

    op = opmath(a.dtype)
    a_op, w_op = a.to(op), w.to(op)
    state = tuple(s.to(op) for s in state) if isinstance(state, tuple) else state
    mu, var = norm.statistics(a_op, w_op, cfg, per_token, state)
    # (a - mu) / sigma * g + b: one new tensor, the rest in place; 1/sigma and g stay as small as
    # they are (broadcast over different axes, their product would be a's size)
    y = torch.sub(a_op, mu).mul_((var + cfg.eps).rsqrt()).mul_(g.to(op)).add_(b.to(op))
    return y.to(a.dtype)


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
