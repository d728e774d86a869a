"""PyTorch's own norms, as modules or as functional calls, for one trial (batch_norm: all trials).

Each maker returns a `TorchNorm`: a -> y in the layout torch expects ([N, C] or [N, C, S', S']),
the module that owns the affine parameters (None for the functional API), and the gain it
really uses. The affine parameters are set from the check's draw, cast to the checked dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from invcheck.errors import SpecError
from invcheck.norms.base import opmath
from invcheck.settings import CheckConfig, LayerConfig, NormConfig

Tensor = torch.Tensor

# because these are the defaults of torch.nn's constructors and torch.nn.functional's calls;
# None: RMSNorm's own default, which is finfo(opmath dtype).eps (float32's for half types).
TORCH_EPS: dict[str, float | None] = {
    "batch_norm": 1e-5, "layer_norm": 1e-5, "group_norm": 1e-5, "instance_norm": 1e-5,
    "rms_norm": None, "weight_norm": 0.0,
}


@dataclass
class TorchNorm:
    fn: Callable[[Tensor], Tensor]  # a -> y, both in torch's layout
    module: nn.Module | FunctionalBatchNorm | None  # has the train/eval mode (and running stats)
    gain: Tensor  # [C] (batch_norm: [T*C]), float64: the gain really applied


def resolve_eps(check: CheckConfig, dtype: torch.dtype) -> tuple[float | None, float]:
    """(eps passed to torch, eps torch really adds).

    A nonzero `eps` is used as given. eps 0 (the default) means torch's own default while
    `torch_eps` is true, and really 0 when it is false. weight_norm has no eps in torch.
    """
    cfg = check.norm
    if cfg.id == "weight_norm":
        if cfg.eps:
            raise SpecError(f"eps {cfg.eps:g}: torch's weight_norm has no eps", check.file, check.line,
                            cfg.eps, "remove eps, or use impl: reference")
        return 0.0, 0.0
    if cfg.eps or not cfg.torch_eps:
        return cfg.eps, cfg.eps
    default = TORCH_EPS[cfg.id]
    return default, torch.finfo(opmath(dtype)).eps if default is None else default


def normalized_shape(layer: LayerConfig) -> tuple[int, ...]:
    """LayerNorm/RMSNorm's normalized_shape: (C,) dense, (C, S', S') conv."""
    if layer.kind == "dense":
        return (layer.channels,)
    return (layer.channels, layer.out_size, layer.out_size)


def per_unit(v: Tensor, shape: torch.Size | tuple[int, ...]) -> Tensor:
    """A per-channel vector [C] spread over an elementwise parameter of `shape` ([C] or [C, S', S'])."""
    return v.reshape(v.shape[0], *([1] * (len(shape) - 1))).expand(shape)


def first_per_unit(p: Tensor) -> Tensor:
    """The per-channel value of an elementwise parameter that `per_unit` filled: [C], float64."""
    return p.detach().reshape(p.shape[0], -1)[:, 0].double().cpu()


# Per-case norms (layer, rms, group, instance): one trial, its own g and b -------------------------


def per_case(check: CheckConfig, g: Tensor, b: Tensor, eps: float | None,
             dtype: torch.dtype, device: torch.device) -> TorchNorm:
    """One trial's per-case norm; g, b: [C] float64. RMSNorm has no bias: b is added after."""
    g, b = g.to(device, dtype), b.to(device, dtype)
    if check.norm.api == "functional":
        fn = _per_case_functional(check.norm, check.layer, g, b, eps)
        return TorchNorm(fn, None, g.double().cpu())
    module = _per_case_module(check.norm, check.layer, eps).to(device, dtype)
    with torch.no_grad():
        module.weight.copy_(per_unit(g, module.weight.shape))
        if getattr(module, "bias", None) is not None:
            module.bias.copy_(per_unit(b, module.bias.shape))
    module.train(check.norm.mode == "train")
    if check.norm.id == "rms_norm":
        bias = per_unit(b, (b.shape[0], *module.weight.shape[1:]))
        return TorchNorm(lambda a: module(a) + bias, module, first_per_unit(module.weight))
    return TorchNorm(module, module, first_per_unit(module.weight))


def _per_case_module(cfg: NormConfig, layer: LayerConfig, eps: float | None) -> nn.Module:
    c = layer.channels
    if cfg.id == "layer_norm":
        return nn.LayerNorm(normalized_shape(layer), eps=eps)
    if cfg.id == "rms_norm":
        return nn.RMSNorm(normalized_shape(layer), eps=eps)
    if cfg.id == "group_norm":
        return nn.GroupNorm(cfg.groups, c, eps=eps)
    if cfg.id == "instance_norm":
        return nn.InstanceNorm2d(c, eps=eps, affine=True)
    raise ValueError(f"{cfg.id} is not a per-case norm")


def _per_case_functional(cfg: NormConfig, layer: LayerConfig, g: Tensor, b: Tensor,
                         eps: float | None) -> Callable[[Tensor], Tensor]:
    shape = normalized_shape(layer)
    wg, wb = per_unit(g, shape), per_unit(b, shape)  # elementwise affine over (C, *S')
    if cfg.id == "layer_norm":
        return lambda a: F.layer_norm(a, shape, wg, wb, eps)
    if cfg.id == "rms_norm":
        return lambda a: F.rms_norm(a, shape, wg, eps) + wb
    if cfg.id == "group_norm":
        return lambda a: F.group_norm(a, cfg.groups, g, b, eps)
    if cfg.id == "instance_norm":
        return lambda a: F.instance_norm(a, weight=g, bias=b, eps=eps)
    raise ValueError(f"{cfg.id} is not a per-case norm")


# batch_norm: trials folded into channels, so one call has per-trial, per-channel statistics ----


class FunctionalBatchNorm:
    """F.batch_norm with its own running statistics, switched like a module by `train`."""

    def __init__(self, g: Tensor, b: Tensor, eps: float, momentum: float) -> None:
        self.g, self.b, self.eps, self.momentum = g, b, eps, momentum
        self.running_mean = torch.zeros_like(g)  # torch's initial running statistics
        self.running_var = torch.ones_like(g)
        self.training = True

    def __call__(self, a: Tensor) -> Tensor:
        return F.batch_norm(a, self.running_mean, self.running_var, self.g, self.b,
                            self.training, self.momentum, self.eps)

    def train(self, mode: bool = True) -> None:
        self.training = mode


def batch_norm(check: CheckConfig, g: Tensor, b: Tensor, eps: float,
               dtype: torch.dtype, device: torch.device) -> TorchNorm:
    """BatchNorm over T*C channels; g, b: [T*C] float64. `module` holds the running statistics."""
    g, b = g.to(device, dtype), b.to(device, dtype)
    if check.norm.api == "functional":
        fbn = FunctionalBatchNorm(g, b, eps, check.norm.momentum)
        return TorchNorm(fbn, fbn, g.double().cpu())
    cls = nn.BatchNorm1d if check.layer.kind == "dense" else nn.BatchNorm2d
    module = cls(g.shape[0], eps=eps, momentum=check.norm.momentum).to(device, dtype)
    with torch.no_grad():
        module.weight.copy_(g)
        module.bias.copy_(b)
    return TorchNorm(module, module, first_per_unit(module.weight))
