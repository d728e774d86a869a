"""Implementations a check can run: the reference math, PyTorch's layers, user code."""

from __future__ import annotations

import torch

from invcheck.impls.base import Draw, Forward
from invcheck.settings import CheckConfig


def build_forward(check: CheckConfig, draw: Draw, dtype: torch.dtype, device: torch.device) -> Forward:
    """Pick the implementation the check names; imports the optional ones only when used."""
    if check.norm.module is not None:
        from invcheck.impls import user

        return user.build(check, draw, dtype, device)
    if check.norm.impl == "torch":
        from invcheck.impls import torch_layers

        return torch_layers.build(check, draw, dtype, device)
    from invcheck.impls import reference

    return reference.build(check, draw, dtype, device)


__all__ = ["Draw", "Forward", "build_forward"]
