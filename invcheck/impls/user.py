"""User code as a check's norm or layer: `module: "pkg.mod:Name"`, `kwargs`, `role`, `weight`.

- role "norm": the object maps summed inputs a -> y, in the layout a torch user expects:
  a: [N, H] (dense) or [N, C, S', S'] (conv), computed with F.linear / F.conv2d.
- role "layer": the object owns its weights and maps X -> y. Its parameter `weight` (a dotted
  path, e.g. "linear.weight" or "linear.parametrizations.weight.original1") is W: the check
  writes each trial's W (or W') into it before every call.
Name is a class or a factory function, called with kwargs (placeholders filled, user_load.py).
One instance per trial, each built under its own seed (torch's RNG forked, so the caller's is
untouched): a stateful norm keeps per-trial state, as the reference's trials are independent.
An nn.Module is cast to the checked dtype and device, and put in check.norm.mode (eval: the
warm-up batches pass through it in train mode first, with the original W).
For the tolerance: gain = the module's parameter `weight` when its first axis has C entries
(role norm; max |.| over any further axes), else ones; eps = the largest numeric `eps`
attribute of the module or its submodules (None, as RMSNorm's: finfo of the compute dtype), else 0.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from invcheck.impls.base import Draw, Forward, Tensor
from invcheck.impls.torch_layers import summed_input
from invcheck.impls.user_load import USER_FAILURES, construct, fill, first_line, load, raised_at, user_error
from invcheck.layers import weight_shape
from invcheck.norms.base import opmath
from invcheck.settings import CheckConfig


def build(check: CheckConfig, draw: Draw, dtype: torch.dtype, device: torch.device) -> Forward:
    factory, kwargs = load(check), fill(check, check.norm.kwargs)
    objs = [_instance(check, factory, kwargs, t, dtype, device) for t in range(check.trials)]
    weights = [_weight(check, o) for o in objs] if check.norm.role == "layer" else []

    def fn(x: Tensor, w: Tensor) -> Tensor:
        return torch.stack([_run(check, objs, weights, t, x[t], w[t]) for t in range(len(objs))])  # [T, N, C, *pos]

    if check.norm.mode == "eval":
        _warm_up(check, objs, weights, draw, dtype, device)
    for obj in objs:
        if isinstance(obj, nn.Module):
            obj.train(check.norm.mode == "train")
    return Forward(fn, eps=_eps(objs[0], dtype), gain=_gain(check, objs))


def _instance(check: CheckConfig, factory: Any, kwargs: dict[str, Any], trial: int,
              dtype: torch.dtype, device: torch.device) -> Any:
    """Trial `trial`'s object, built under a seed of its own, cast, its call signature checked."""
    devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(check.seed * 1_000_003 + trial)
        obj = construct(check, factory, kwargs)
    if isinstance(obj, nn.Module):
        obj = obj.to(device=device, dtype=dtype)
    elif check.norm.role == "layer":
        raise user_error(check, f"role 'layer' needs an nn.Module that owns W, got a {type(obj).__name__}")
    _check_signature(check, obj)
    return obj


def _check_signature(check: CheckConfig, obj: Any) -> None:
    target = obj.forward if isinstance(obj, nn.Module) else obj
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):  # a builtin without a signature: find out by calling
        return
    try:
        sig.bind(torch.empty(0))
    except TypeError:
        raise user_error(check, f"is not callable with one tensor: its signature is {sig}") from None


def _run(check: CheckConfig, objs: list[Any], weights: list[Tensor], t: int, x: Tensor, w: Tensor) -> Tensor:
    """One trial: a -> y (role norm) or X -> y with W written into the layer (role layer)."""
    if check.norm.role == "layer":
        _set_weight(check, weights[t], w)
        return call(check, objs[t], x, _layer_out_shape(check, x))
    a = summed_input(check.layer, x, w)  # [N, H] or [N, C, S', S']
    return call(check, objs[t], a, tuple(a.shape))


def _layer_out_shape(check: CheckConfig, x: Tensor) -> tuple[int, ...]:
    layer = check.layer
    if layer.kind == "dense":
        return (x.shape[0], layer.units)
    return (x.shape[0], layer.out_channels, layer.out_size, layer.out_size)


def call(check: CheckConfig, obj: Any, inp: Tensor, expected: tuple[int, ...]) -> Tensor:
    """obj(inp), held to what a norm must return: a tensor of the expected shape, dtype, device."""
    what = f"a {str(inp.dtype).removeprefix('torch.')} tensor {list(inp.shape)}"
    try:
        y = obj(inp)
    except USER_FAILURES as exc:
        raise user_error(check, f"calling it on {what} raised {first_line(exc)}{raised_at(exc)}") from None
    if not isinstance(y, Tensor):
        hint = " (return the output tensor alone)" if isinstance(y, (tuple, list)) else ""
        raise user_error(check, f"called on {what}, it returned a {type(y).__name__}, not a tensor{hint}")
    if tuple(y.shape) != expected:
        raise user_error(check, f"called on {what}, it returned shape {list(y.shape)}, expected {list(expected)}")
    if y.dtype != inp.dtype:
        raise user_error(check, f"called on {what}, it returned {y.dtype}, expected {inp.dtype} (the input's dtype)")
    if y.device != inp.device:
        raise user_error(check, f"called on {what}, it returned a tensor on {y.device}, expected {inp.device}")
    return y


# role "layer": the parameter that is W ------------------------------------------------------------


def _weight(check: CheckConfig, obj: nn.Module) -> Tensor:
    """The parameter named by `weight`, checked to have W's shape."""
    path = check.norm.weight
    try:
        p = obj.get_parameter(path)
    except AttributeError:
        raise user_error(check, f"has no parameter {path!r} ({_parameter_hint(obj, path)})") from None
    expected = weight_shape(check.layer)
    if tuple(p.shape) != expected:
        raise user_error(check, f"parameter {path!r} has shape {list(p.shape)}, but W is {list(expected)}")
    return p


def _parameter_hint(obj: nn.Module, path: str) -> str:
    names = [n for n, _ in obj.named_parameters()]
    owner, _, leaf = path.rpartition(".")
    try:
        sub = obj.get_submodule(owner) if owner else obj
    except AttributeError:
        sub = None
    if sub is not None and leaf in getattr(sub, "parametrizations", {}):
        names = [n for n in names if n.startswith(f"{owner + '.' if owner else ''}parametrizations.{leaf}.")]
        return f"{path!r} is computed by a parametrization; name one of its originals: {', '.join(names)}"
    return "its parameters: " + (", ".join(names) if names else "none")


def _set_weight(check: CheckConfig, p: Tensor, w: Tensor) -> None:
    with torch.no_grad():
        p.copy_(w.to(p.dtype))


# eval mode, eps and gain --------------------------------------------------------------------------


def _warm_up(check: CheckConfig, objs: list[Any], weights: list[Tensor], draw: Draw,
             dtype: torch.dtype, device: torch.device) -> None:
    """Warm-up batches through the original W, each module in train mode (running statistics)."""
    for obj in objs:
        if isinstance(obj, nn.Module):
            obj.train(True)
    w = draw.w.to(device, dtype)
    for x in draw.warmup:  # [T, N, ...]
        x = x.to(device, dtype)
        for t in range(len(objs)):
            _run(check, objs, weights, t, x[t], w[t])


def _eps(obj: Any, dtype: torch.dtype) -> float:
    mods = list(obj.modules()) if isinstance(obj, nn.Module) else [obj]
    values = [getattr(m, "eps") for m in mods if hasattr(m, "eps")]
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if any(v is None for v in values):  # RMSNorm-like: torch's default, in the compute dtype
        numbers.append(torch.finfo(opmath(dtype)).eps)
    return max(numbers, default=0.0)


def _gain(check: CheckConfig, objs: list[Any]) -> Tensor:
    """[T, C] float64: each instance's per-channel `weight` (role norm), else ones."""
    c = check.layer.channels
    gains = []
    for obj in objs:
        p = getattr(obj, "weight", None) if check.norm.role == "norm" else None
        if isinstance(p, Tensor) and p.dim() >= 1 and p.shape[0] == c:
            gains.append(p.detach().reshape(c, -1).abs().amax(1).double().cpu())
        else:
            gains.append(torch.ones(c, dtype=torch.float64))
    return torch.stack(gains)
