"""Norms with planted violations of known size, as user code (benchmarks/power.py and the tests).

Each takes `leak`: 0 is the exact norm, leak > 0 breaks an invariance by about that fraction.
"""

from __future__ import annotations

import torch
from torch import nn


class LeakyLayerNorm(nn.Module):
    """LayerNorm whose mean leaks: it subtracts (1 - leak) mu, so a shift of every unit by one
    constant (weight-matrix re-centering) moves the output by about leak x the shift / sigma."""

    def __init__(self, units: int, leak: float = 0.0, eps: float = 0.0) -> None:
        super().__init__()
        self.leak, self.eps = leak, eps
        self.weight = nn.Parameter(torch.linspace(0.5, 2.0, units, dtype=torch.float64))

    def forward(self, a: torch.Tensor) -> torch.Tensor:  # [N, H]
        mu = a.mean(-1, keepdim=True)
        var = ((a - mu) ** 2).mean(-1, keepdim=True)
        return self.weight * (a - (1 - self.leak) * mu) / torch.sqrt(var + self.eps)


class GainFirstLayerNorm(nn.Module):
    """LayerNorm with its gain applied before the mean (1 + leak * g_i): a constant shift of every
    unit is no longer constant once scaled unit by unit."""

    def __init__(self, units: int, leak: float = 0.0) -> None:
        super().__init__()
        # float64: a leak of 1e-12 must survive in the float64 run (a float32 parameter would round it away)
        self.gain = nn.Parameter(1 + leak * torch.linspace(-1.0, 1.0, units, dtype=torch.float64))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        a = self.gain * a
        mu = a.mean(-1, keepdim=True)
        return (a - mu) / ((a - mu) ** 2).mean(-1, keepdim=True).sqrt()


class LeakyBatchNorm(nn.Module):
    """BatchNorm (train mode) whose mean leaks: dataset re-centering moves it by about leak x the shift."""

    def __init__(self, units: int, leak: float = 0.0) -> None:
        super().__init__()
        self.leak = leak

    def forward(self, a: torch.Tensor) -> torch.Tensor:  # [N, H]
        mu = a.mean(0, keepdim=True)
        var = ((a - mu) ** 2).mean(0, keepdim=True)
        return (a - (1 - self.leak) * mu) / var.sqrt()
