"""Transforms used by tests/test_custom_transform.py through specs (`module: "...:name"`)."""

from __future__ import annotations

import math

import torch


def rescale(x: torch.Tensor, w: torch.Tensor, generator: torch.Generator, scale=(0.1, 10.0)):
    """dataset_rescale written by a user: X' = δ X, δ log-uniform on `scale`."""
    low, high = (math.log(s) for s in scale)
    delta = math.exp(low + (high - low) * torch.rand((), generator=generator, dtype=torch.float64).item())
    return delta * x, w


def shift_by(x: torch.Tensor, w: torch.Tensor, generator: torch.Generator, amount: float = 1.0):
    """X' = X + amount: every input feature shifted by one constant (kwargs: amount)."""
    return x + amount, w
