"""What an implementation gives the check: a batched forward pass, and what the tolerance needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

Tensor = torch.Tensor


@dataclass
class Draw:
    """One check's random draw, float64 on CPU, trials on axis 0."""

    x: Tensor  # X  [T, N, D] or [T, N, C_in, S, S]
    w: Tensor  # W  [T, H, D] or [T, C_out, C_in, k, k]
    x2: Tensor  # X' (transformed)
    w2: Tensor  # W'
    g: Tensor  # gain [T, C]
    b: Tensor  # bias [T, C]
    warmup: list[Tensor] = field(default_factory=list)  # X batches seen in train mode before eval


@dataclass
class Forward:
    """y = fn(X, W) in the checked dtype and device: [T, N, C, *positions].

    eps and gain describe the layer for the tolerance: the eps it really adds (torch's own
    defaults for PyTorch layers) and its gain per trial and unit ([T, C], float64).
    """

    fn: Callable[[Tensor, Tensor], Tensor]
    eps: float
    gain: Tensor
    state: object = None  # float64 running statistics (eval mode), for the tolerance's sigma

    def __call__(self, x: Tensor, w: Tensor) -> Tensor:
        return self.fn(x, w)
