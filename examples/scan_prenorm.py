"""A pre-LN transformer block (attention with a bias on its key projection, then an MLP), for
`invcheck scan` (no downloads).

    invcheck scan examples/scan_prenorm.py:build --allow-import

`build()` returns (model, inputs): 2 sequences of 12 tokens of width 32.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim, bias=True)  # its bias shifts every score of a query alike
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, h, d // h).transpose(1, 2)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // h)
        out = scores.softmax(-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


class PreLNBlock(nn.Module):
    """x + attn(LN(x)), then x + mlp(LN(x))."""

    def __init__(self, dim: int = 32, heads: int = 4, hidden: int = 64) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


def build(batch: int = 2, tokens: int = 12, dim: int = 32, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    return PreLNBlock(dim), torch.randn(batch, tokens, dim)
