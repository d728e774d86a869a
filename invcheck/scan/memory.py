"""What a scan needs before it starts: a parameter to scan, and memory it can have.

The estimate, in bytes, made from sizes alone before the model is copied:

    8 x (4 x (parameters + buffers) + inputs + min(inputs x (modules + 1), recorded-call cap))

(float64: 8 bytes an entry). Four copies of the model's tensors are alive at the peak: the working
copy, and either the noise probe's saved values and random signs, or the generic values with the
values they replaced (plus the working copy's). The activations: each module's output taken to be
the size of the model's inputs (a rough stand-in, exact for a stack of same-width layers; a network
that widens its features needs more), at most the recorded calls' cap (passes.CACHE_BYTES); the
inputs themselves (drawn from --input-shape, or copied) are never capped.
Above MAX_MEMORY (the checks' own bound, bounds.MAX_MEMORY: 4 GiB) a scan is refused in one line.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from invcheck.bounds import MAX_MEMORY as CHECK_MAX_MEMORY
from invcheck.bounds import shown
from invcheck.errors import InvcheckError
from invcheck.scan.passes import CACHE_BYTES

MAX_MEMORY = CHECK_MAX_MEMORY
MODEL_COPIES = 4
NO_PARAMETERS = "no parameter tensors to scan (the model has no floating parameters)"


def has_parameters(model: nn.Module) -> bool:
    """A floating parameter tensor with entries: something to scan."""
    return any(p.is_floating_point() and p.numel() for p in model.parameters())


def estimate(model: nn.Module, inputs: Any, input_shape: Any, dtype: torch.dtype) -> int:
    """Bytes the scan of `model` is estimated to need at its peak (see the module's docstring)."""
    size = torch.finfo(dtype).bits // 8
    tensors = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    entries = _entries(inputs) if inputs is not None else math.prod(int(s) for s in input_shape or ())
    modules = sum(1 for _ in model.modules())
    activations = min(size * entries * (modules + 1), CACHE_BYTES)
    return size * MODEL_COPIES * tensors + size * entries + activations


def check_memory(model: nn.Module, inputs: Any, input_shape: Any, dtype: torch.dtype, limit: int) -> None:
    need = estimate(model, inputs, input_shape, dtype)
    if need > limit:
        count = sum(p.numel() for p in model.parameters())
        raise InvcheckError(
            f"scanning this model ({count:,} parameters) needs about {shown(need)} of memory "
            f"({MODEL_COPIES} float64 copies of its tensors, its inputs and the activations), above the limit "
            f"of {shown(limit)}: scan a smaller configuration of it (fewer layers, a narrower width, smaller inputs)"
        )


def _entries(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, (tuple, list)):
        return sum(_entries(v) for v in value)
    if isinstance(value, dict):
        return sum(_entries(v) for v in value.values())
    return 0
