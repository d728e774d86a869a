"""impl torch: PyTorch's own norm layers in place of the reference math (DESIGN.md §2).

Summed inputs come from torch.nn.functional.linear / conv2d, one trial at a time. Trials:
- batch_norm folds the T trials into channels: BatchNorm over T*C channels has exactly the
  reference's per-trial, per-channel statistics and gains, in one call;
- the per-case norms (layer, rms, group, instance) and weight_norm run one module (or functional
  call) per trial, each with its trial's own g and b, in a plain loop: T is small, and each call
  is the real layer's forward, unchanged (vmap would swap in its batching rules).
`check.norm.api` picks torch.nn modules ("module") or torch.nn.functional calls ("functional").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

from invcheck import layers
from invcheck.errors import InvcheckError, SpecError
from invcheck.impls.base import Draw, Forward, Tensor
from invcheck.impls.torch_norms import TORCH_EPS, batch_norm, first_per_unit, per_case, resolve_eps
from invcheck.settings import CheckConfig, LayerConfig


def build(check: CheckConfig, draw: Draw, dtype: torch.dtype, device: torch.device) -> Forward:
    if check.norm.id not in TORCH_EPS:  # a norm added to the registry but not mapped to PyTorch here
        raise InvcheckError(f"{check.norm.id} has no PyTorch layer in invcheck.impls.torch_norms (use impl: reference)")
    passed, eps = resolve_eps(check, dtype)  # what torch is given, what it really adds
    with refusals(check):
        if check.norm.id == "batch_norm":
            fwd = _batch_norm(check, draw, passed, eps, dtype, device)
        elif check.norm.id == "weight_norm":
            fwd = _weight_norm(check, draw, dtype, device)
        else:
            fwd = _per_case(check, draw, passed, eps, dtype, device)
    inner = fwd.fn

    def guarded(x: Tensor, w: Tensor) -> Tensor:
        with refusals(check):
            return inner(x, w)

    fwd.fn = guarded
    return fwd


@contextlib.contextmanager
def refusals(check: CheckConfig) -> Iterator[None]:
    """torch refusing the settings (eps 0 in a training batch_norm, a dtype the device lacks):
    one line at the check's file:line, not a traceback."""
    try:
        yield
    except (ValueError, RuntimeError, NotImplementedError) as exc:
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SpecError(f"torch refused {check.norm.id} ({check.dtype}): {message}", check.file,
                        check.line, hint="change the spec, or use impl: reference") from None


def summed_input(layer: LayerConfig, x: Tensor, w: Tensor) -> Tensor:
    """One trial's a, as a torch layer computes it: [N, H] or [N, C_out, S', S']."""
    if layer.kind == "dense":
        return F.linear(x, w)  # [N, D] x [H, D] -> [N, H]
    return F.conv2d(x, w, padding=layer.padding)


def per_trial(layer: LayerConfig, x: Tensor, w: Tensor) -> list[Tensor]:
    """Summed inputs of every trial: T x [N, C, *positions]."""
    return [summed_input(layer, x[t], w[t]) for t in range(x.shape[0])]


def _per_case(check: CheckConfig, draw: Draw, passed: float | None, eps: float,
              dtype: torch.dtype, device: torch.device) -> Forward:
    norms = [per_case(check, draw.g[t], draw.b[t], passed, dtype, device) for t in range(check.trials)]

    def fn(x: Tensor, w: Tensor) -> Tensor:
        a = per_trial(check.layer, x, w)
        return torch.stack([n.fn(a_t) for n, a_t in zip(norms, a)])  # [T, N, C, *positions]

    return Forward(fn, eps=eps, gain=torch.stack([n.gain for n in norms]))  # gain [T, C]


# batch_norm ---------------------------------------------------------------------------------------


def fold(a: list[Tensor]) -> Tensor:
    """T x [N, C, *positions] -> [N, T*C, *positions]: trial t owns channels t*C .. t*C + C-1."""
    return torch.cat(a, dim=1)


def unfold(y: Tensor, trials: int) -> Tensor:
    """[N, T*C, *positions] -> [T, N, C, *positions]."""
    return y.reshape(y.shape[0], trials, -1, *y.shape[2:]).transpose(0, 1)


def _batch_norm(check: CheckConfig, draw: Draw, passed: float | None, eps: float,
                dtype: torch.dtype, device: torch.device) -> Forward:
    t, layer = check.trials, check.layer
    norm = batch_norm(check, draw.g.flatten(), draw.b.flatten(), passed, dtype, device)  # [T*C]
    state = None
    if check.norm.mode == "eval":
        state = _warm_up(check, draw, norm.module, dtype, device)
    norm.module.train(check.norm.mode == "train")

    def fn(x: Tensor, w: Tensor) -> Tensor:
        return unfold(norm.fn(fold(per_trial(layer, x, w))), t)

    return Forward(fn, eps=eps, gain=norm.gain.reshape(t, -1), state=state)


def _warm_up(check: CheckConfig, draw: Draw, bn: object, dtype: torch.dtype,
             device: torch.device) -> tuple[Tensor, Tensor]:
    """Warm-up batches through the original W in train mode; the real running stats, float64."""
    w = draw.w.to(device, dtype)
    bn.train(True)  # type: ignore[attr-defined]
    for x in draw.warmup:  # [T, N, ...]
        bn(fold(per_trial(check.layer, x.to(device, dtype), w)))  # type: ignore[operator]
    shape = layers.unit_shape(check.layer, check.trials)  # [T, 1, C, *1]
    mean, var = bn.running_mean, bn.running_var  # type: ignore[attr-defined]  # [T*C]
    return mean.double().cpu().reshape(shape), var.double().cpu().reshape(shape)


# weight_norm: W = g * V / ||V||, with V the weights the transform changes ------------------------


def _weight_norm(check: CheckConfig, draw: Draw, dtype: torch.dtype, device: torch.device) -> Forward:
    layer, trials = check.layer, check.trials
    g = draw.g.to(device, dtype).reshape(trials, layer.channels, *([1] * (draw.w.dim() - 2)))  # [T, C, 1, *1]
    b = draw.b.to(device, dtype).reshape(layers.unit_shape(layer, trials))  # [T, 1, C, *1]
    if check.norm.api == "functional":
        def fn(x: Tensor, w: Tensor) -> Tensor:
            ys = [_functional_wn(layer, x[t], w[t], g[t]) for t in range(trials)]
            return torch.stack(ys) + b  # the bias is added after, as the layers have none

        return Forward(fn, eps=0.0, gain=g.reshape(trials, -1).double().cpu())
    mods = [_weight_normed(layer, draw.w[t], g[t], dtype, device) for t in range(trials)]

    def fn(x: Tensor, w: Tensor) -> Tensor:
        with torch.no_grad():
            for t, m in enumerate(mods):
                m.parametrizations.weight.original1.copy_(w[t])  # V: the direction is W (or W')
        return torch.stack([m(x[t]) for t, m in enumerate(mods)]) + b

    gain = torch.stack([first_per_unit(m.parametrizations.weight.original0) for m in mods])
    return Forward(fn, eps=0.0, gain=gain)


def _weight_normed(layer: LayerConfig, w: Tensor, g: Tensor, dtype: torch.dtype,
                   device: torch.device) -> nn.Module:
    """nn.Linear / nn.Conv2d (no bias) under parametrizations.weight_norm, with V = w and g = g."""
    if layer.kind == "dense":
        module = nn.utils.skip_init(nn.Linear, layer.inputs, layer.units, bias=False, device=device, dtype=dtype)
    else:
        module = nn.utils.skip_init(nn.Conv2d, layer.in_channels, layer.out_channels, layer.kernel,
                                    padding=layer.padding, bias=False, device=device, dtype=dtype)
    with torch.no_grad():
        module.weight.copy_(w)
    module = parametrizations.weight_norm(module, name="weight", dim=0)
    with torch.no_grad():
        module.parametrizations.weight.original0.copy_(g)  # [C, 1, *1]: the spec's gain, not ||W||
    return module


def _functional_wn(layer: LayerConfig, x: Tensor, v: Tensor, g: Tensor) -> Tensor:
    """torch._weight_norm (the op behind weight_norm) then the layer: [N, C, *positions]."""
    return summed_input(layer, x, torch._weight_norm(v, g, 0))
