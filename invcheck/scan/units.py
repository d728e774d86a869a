"""Where a tensor's output units lie, and the three transforms drawn on it.

- dim 0 for the weights of torch.nn layers (Linear, Conv, Bilinear, MultiheadAttention's
  projections), dim 1 for transformers' Conv1D (weight [in, out]), nn.Embedding (its hidden units)
  and transposed convolutions (weight [in, out/groups, ...]);
- the last axis for a tensor a module registers directly that is no known layer (cls_token,
  pos_embed, a custom module's own matrices);
- a 1-D tensor per element: vector rescale multiplies each element by its own factor, recenter adds
  the same scalar to every element; a 0-D tensor is one unit.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

Tensor = torch.Tensor

# The factors: log-uniform on [1/4, 4], at least 1.5x away from 1 (a change that must show).
LOG_LOW, LOG_HIGH = math.log(1.5), math.log(4.0)


def unit_axis(module: nn.Module, tensor: Tensor) -> int:
    """The axis of `tensor` (a parameter of `module`) that indexes its output units."""
    if tensor.dim() <= 1:
        return 0
    if type(module).__name__ == "Conv1D" or isinstance(
        module, (nn.Embedding, nn.EmbeddingBag, nn.modules.conv._ConvTransposeNd)
    ):
        return 1
    if type(module).__module__.startswith("torch.nn") or isinstance(
        module, (nn.Linear, nn.modules.conv._ConvNd, nn.Bilinear)
    ):
        return 0
    return tensor.dim() - 1


def axis_words(module: nn.Module, tensor: Tensor) -> str:
    axis = unit_axis(module, tensor)
    return "per element" if tensor.dim() <= 1 else f"output units on dim {axis}"


def generator(seed: int, *parts: object) -> np.random.Generator:
    """A generator of its own for each (tensor, transform, trial): draws do not depend on order.
    (numpy's: creating one costs a tenth of torch's, and a scan creates hundreds.)"""
    key = zlib.crc32("\x1f".join(str(p) for p in parts).encode())
    return np.random.default_rng([seed, key])


def normal(shape: tuple[int, ...] | torch.Size, gen: np.random.Generator) -> Tensor:
    """N(0, 1) draws, float64 on the CPU."""
    return torch.from_numpy(gen.standard_normal(tuple(shape)))


def signs(shape: tuple[int, ...] | torch.Size, gen: np.random.Generator) -> Tensor:
    """Random ±1, float64 on the CPU."""
    return torch.from_numpy(gen.integers(0, 2, tuple(shape)).astype(np.float64) * 2 - 1)


def factors(shape: tuple[int, ...], gen: np.random.Generator, side: int = 0) -> Tensor:
    """Factors > 0 away from 1: exp(±U[log 1.5, log 4]) (float64, CPU); side +1: all above 1,
    -1: all below 1, 0: each either."""
    size = gen.uniform(LOG_LOW, LOG_HIGH, shape)
    sign = float(side) if side else gen.integers(0, 2, shape) * 2 - 1
    return torch.from_numpy(np.exp(size * sign))


@dataclass
class Edit:
    """What a transform does to one tensor: new = old * scale + shift (broadcast), in float64."""

    scale: Tensor | float
    shift: Tensor | float

    def apply(self, tensor: Tensor) -> None:
        """In place, under no_grad, in the tensor's dtype."""
        with torch.no_grad():
            scale = self.scale.to(tensor) if isinstance(self.scale, Tensor) else self.scale
            shift = self.shift.to(tensor) if isinstance(self.shift, Tensor) else self.shift
            if not isinstance(scale, float) or scale != 1.0:
                tensor.mul_(scale)
            if not isinstance(shift, float) or shift != 0.0:
                tensor.add_(shift)


def _per_unit(values: Tensor, dims: int, axis: int) -> Tensor:
    """[units] values shaped to broadcast along `axis` of a `dims`-D tensor."""
    shape = [1] * dims
    shape[axis] = values.numel()
    return values.reshape(shape)


def spread(tensor: Tensor) -> float:
    """The size of a shift that must show: the tensor's rms (1 for an all-zero tensor... of scale 1)."""
    rms = float(tensor.double().pow(2).mean().sqrt()) if tensor.numel() else 0.0
    return rms if rms > 0 and math.isfinite(rms) else 1.0


def draw_edit(
    transform: str,
    tensor: Tensor,
    axis: int,
    gen: np.random.Generator,
    side: int = 0,
    unit_factors: Tensor | None = None,
) -> Edit:
    """One random instance of `transform` on `tensor`. side: +1 or -1 puts a whole-tensor factor
    above or below 1 and a 1-D shift's sign (two trials cover both: a gain of 1 shifted by -2
    flips sign, by +2 does not); unit_factors: the per-unit factors to use (shared by a layer's
    weight and bias in a joint vector rescale)."""
    dims = tensor.dim()
    if transform == "weight_matrix_rescale":
        return Edit(float(factors((1,), gen, side)), 0.0)
    if transform == "weight_vector_rescale":
        units = tensor.shape[axis] if dims else 1
        f = unit_factors if unit_factors is not None else factors((units,), gen)
        return Edit(_per_unit(f, dims, axis) if dims else float(f.reshape(-1)[0]), 0.0)
    if transform == "weight_matrix_recenter":
        s = spread(tensor)
        if dims <= 1:  # the same scalar added to every element
            return Edit(1.0, s * float(factors((1,), gen, 1)) * (side or _sign(gen)))
        slice_shape = list(tensor.shape)
        slice_shape[axis] = 1  # one vector, the same for every output unit
        v = normal(tuple(slice_shape), gen) * s
        return Edit(1.0, v)
    raise ValueError(f"unknown transform {transform!r}")


def _sign(gen: np.random.Generator) -> float:
    return 1.0 if gen.integers(0, 2) else -1.0
