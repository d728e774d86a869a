"""A user transform that edits X or W in place is judged by what it returns, not taken for the
identity (the copies it is given are its own; the originals are kept)."""

from __future__ import annotations

import torch

import invcheck
from invcheck.api import check
from invcheck.settings import CheckConfig
from invcheck.transforms import transform_of


def inplace_flip(x: torch.Tensor, w: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    w.neg_()
    return x, w


def inplace_scale(x: torch.Tensor, w: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x.mul_(2.5)
    return x, w


def test_an_in_place_sign_flip_is_not_the_identity() -> None:
    assert invcheck.invariance_error("layer_norm", inplace_flip).verdict == "not_invariant"


def test_an_in_place_scale_is_judged_as_the_returned_scale() -> None:
    result = invcheck.invariance_error("weight_norm", inplace_scale)
    assert result.verdict == "not_invariant"
    assert result.verdict == invcheck.invariance_error("weight_norm", lambda x, w, g: (2.5 * x, w)).verdict


def test_the_callers_tensors_stay_as_they_were_and_unchanged_values_keep_the_tensor() -> None:
    cfg = check("layer_norm", inplace_scale).transform
    x, w = torch.randn(3, 4, 5, dtype=torch.float64), torch.randn(3, 2, 5, dtype=torch.float64)
    x0, w0 = x.clone(), w.clone()
    x2, w2 = transform_of(cfg, CheckConfig(transform=cfg)).apply(
        x, w, cfg, torch.Generator().manual_seed(0), None
    )
    assert torch.equal(x, x0) and torch.equal(w, w0)
    assert torch.equal(x2, 2.5 * x0) and w2 is w
