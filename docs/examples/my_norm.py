import torch
from torch import nn


class MyNorm(nn.Module):
    """An RMSNorm over the last axis: y = g * a / sqrt(mean(a^2) + eps)."""

    def __init__(self, features: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(features))
        self.eps = eps

    def forward(self, a: torch.Tensor) -> torch.Tensor:  # a: [N, features]
        return self.gain * a / torch.sqrt(a.pow(2).mean(-1, keepdim=True) + self.eps)
