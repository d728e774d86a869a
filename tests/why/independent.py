"""An independent recomputation of a dense layer's norm at eps 0, with PyTorch's own functions.

Written from each norm's textbook definition (not from invcheck's code), to check that the
counterexamples invcheck prints really break the norm.
"""

from __future__ import annotations

from fractions import Fraction

import torch
import torch.nn.functional as F


def as_tensor(values: list) -> torch.Tensor:
    return torch.tensor([[float(Fraction(str(v))) for v in row] for row in values], dtype=torch.float64)


HOME = "tests/why/independent.py"


class NoRecomputation(LookupError):
    """A norm this file has no recomputation of (a new one: add it to dense_norm)."""


def dense_norm(norm: str, x: list, w: list) -> torch.Tensor:
    """y of a dense layer a = X W^T with the norm (g = 1, b = 0, eps = 0): [N, H]."""
    xt, wt = as_tensor(x), as_tensor(w)
    a = xt @ wt.T
    h = a.shape[1]
    if norm in ("layer_norm", "layer_norm_2d"):
        return F.layer_norm(a, (h,), eps=0.0)
    if norm in ("rms_norm", "rms_norm_2d"):
        return F.rms_norm(a, (h,), eps=0.0)
    if norm == "batch_norm":
        return (a - a.mean(0)) / a.var(0, correction=0).sqrt()  # F.batch_norm refuses eps 0
    if norm == "group_norm":
        return F.group_norm(a, 2, eps=0.0)
    if norm == "weight_norm":
        return a / wt.norm(dim=1)
    if norm == "scale_norm":
        return a / a.norm(dim=1, keepdim=True)  # a / ||a||_2 over a case's units
    if norm == "dyt":
        return torch.tanh(a / 2)  # alpha = 1/2
    if norm == "weight_standardization":
        w_hat = (wt - wt.mean(1, keepdim=True)) / wt.var(1, correction=0, keepdim=True).sqrt()
        return xt @ w_hat.T
    raise NoRecomputation(norm)


def breaks(norm: str, x: list, w: list, x2: list, w2: list) -> tuple[bool, torch.Tensor, torch.Tensor]:
    y, y2 = dense_norm(norm, x, w), dense_norm(norm, x2, w2)
    return bool((y - y2).abs().max() > 1e-9 * max(1.0, y.abs().max())), y, y2
