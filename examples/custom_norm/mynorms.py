"""A normalization layer as a user might write it: ScaleNorm (Nguyen & Salazar 2019, arXiv 1910.05895).

    y = g * a / max(||a||_2, eps)

one learned scalar g (initialized to sqrt(features)), the L2 norm over all of a case's units (and
positions). It divides by a norm and subtracts no mean, so it should keep the invariances under
scaling (the whole weight matrix, the dataset, one case) and lose those under re-centering and
per-neuron weight scaling, like RMSNorm. examples/custom_norm checks that, by computation.
"""

from __future__ import annotations

import torch
from torch import nn


class ScaleNorm(nn.Module):
    """ScaleNorm over every dimension but the first (cases): a is [N, C] or [N, C, *positions]."""

    def __init__(self, features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(features) ** 0.5))  # g: sqrt(d) keeps y ~ unit scale
        self.eps = eps  # a floor on the norm, not added to it: exact invariance above the floor

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(1, a.dim()))
        norm = torch.linalg.vector_norm(a, dim=dims, keepdim=True)  # [N, 1, *1]
        return self.scale * a / norm.clamp_min(self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"
