"""Generic values: every parameter re-drawn (seeded) at random, non-special values of its own
scale, and BatchNorm's running statistics too, so that an invariance that holds only at the
model's special values (a zero bias, unit gains, fresh running statistics) shows as such."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from invcheck.scan.units import generator, normal

Tensor = torch.Tensor


def generic_values(model: nn.Module, seed: int) -> dict[str, Tensor]:
    """name -> new value (same dtype and device) for every floating parameter and running statistic."""
    out: dict[str, Tensor] = {}
    for name, p in model.named_parameters():
        if p.is_floating_point() and p.numel():
            out[name] = _redraw(p.detach(), generator(seed, "generic", name)).to(p)
    for name, b in model.named_buffers():
        leaf = name.rpartition(".")[2]
        if leaf not in ("running_mean", "running_var") or not b.is_floating_point() or not b.numel():
            continue
        gen = generator(seed, "generic", name)
        var = _running_var(model, name)
        size = float(var.mean()) if var is not None and float(var.mean()) > 0 else 1.0
        if leaf == "running_var":
            new = torch.from_numpy(gen.uniform(0.5, 2.0, tuple(b.shape))) * size
        else:
            new = normal(b.shape, gen) * (0.5 * size**0.5)
        out[name] = new.to(b)
    return out


def _running_var(model: nn.Module, mean_name: str) -> Tensor | None:
    owner, _, _ = mean_name.rpartition(".")
    try:
        return model.get_buffer(f"{owner}.running_var" if owner else "running_var").double()
    except (AttributeError, KeyError):
        return None


def _redraw(t: Tensor, gen: Any) -> Tensor:
    """mean + std x N(0, 1) of the tensor's own; a constant tensor c: c (1 + N(0, 1/4)), or
    N(0, 0.1^2) where c is 0."""
    x = t.double().cpu()
    noise = normal(x.shape, gen)
    std = float(x.std()) if x.numel() > 1 else 0.0
    if std > 0 and torch.isfinite(x).all():
        return x.mean() + std * noise
    c = float(x.reshape(-1)[0])
    return c + 0.25 * abs(c) * noise if c != 0 else 0.1 * noise


def special_values(model: nn.Module) -> list[str]:
    """The model's special values, in words: zero tensors, unit gains, fresh running statistics."""
    found: list[str] = []
    for name, p in model.named_parameters():
        if not p.is_floating_point() or p.numel() < 1:
            continue
        if bool((p == 0).all()):
            found.append(f"{name} = 0")
        elif bool((p == 1).all()):
            found.append(f"{name} = 1")
    for name, m in model.named_modules():
        mean, var = getattr(m, "running_mean", None), getattr(m, "running_var", None)
        fresh = (
            isinstance(m, nn.modules.batchnorm._BatchNorm)
            and isinstance(mean, Tensor)
            and isinstance(var, Tensor)
            and not bool(torch.count_nonzero(mean))
            and bool(torch.equal(var, torch.ones_like(var)))
        )
        if fresh:
            found.append(f"{name or 'the model'}: fresh running statistics")
    return found
