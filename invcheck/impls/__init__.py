"""Implementations a check can run: the reference math, PyTorch's layers, user code."""

from __future__ import annotations

import torch

from invcheck.impls.base import Draw, Forward
from invcheck.settings import CheckConfig


def build_forward(
    check: CheckConfig,
    draw: Draw,
    dtype: torch.dtype,
    device: torch.device,
    eps_off: bool = False,
    eps_dtype: torch.dtype | None = None,
) -> Forward:
    """Pick the implementation the check names; imports the optional ones only when used.

    eps_off: the same layer with the eps inside its square root set to 0 (where it can be).
    eps_dtype: the dtype whose default eps a layer uses where it takes one from its dtype (torch's
    RMSNorm: finfo(dtype).eps), so that a float64 run adds the checked dtype's eps.
    """
    if check.norm.module is not None:
        from invcheck.impls import user

        return user.build(check, draw, dtype, device, eps_off, eps_dtype or dtype)
    if check.norm.impl == "torch":
        from invcheck.impls import torch_impl

        return torch_impl.build(check, draw, dtype, device, eps_off, eps_dtype or dtype)
    from invcheck.impls import reference

    return reference.build(check, draw, dtype, device, eps_off, eps_dtype or dtype)


__all__ = ["Draw", "Forward", "build_forward"]
