"""Transforms of the input cases X: [T, N, D] (dense) or [T, N, C_in, S, S] (conv)."""

from __future__ import annotations

import torch

from invcheck.settings import TransformConfig
from invcheck.transforms.base import Tensor, Transform, scale_factors, shift, trailing


def dataset_rescale(x: Tensor, w: Tensor, cfg: TransformConfig, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    delta = scale_factors((x.shape[0],), cfg, gen)  # [T]: one delta for all cases
    return trailing(delta, x.dim()) * x, w


def dataset_recenter(x: Tensor, w: Tensor, cfg: TransformConfig, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    # The same gamma for every case; conv: one constant per input channel, at every position.
    shape = (x.shape[0], 1, x.shape[2]) + (1,) * (x.dim() - 3)  # [T, 1, D] or [T, 1, C_in, 1, 1]
    return x + shift(shape, x.flatten(1).std(1), cfg, gen), w


def case_rescale(x: Tensor, w: Tensor, cfg: TransformConfig, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    delta = scale_factors(x.shape[:2], cfg, gen)  # [T, N]: its own delta_n for each case
    return trailing(delta, x.dim()) * x, w


DATA_TRANSFORMS = (
    Transform("dataset_rescale", "data", dataset_rescale, "X' = delta X"),
    Transform("dataset_recenter", "data", dataset_recenter, "x_n' = x_n + gamma"),
    Transform("case_rescale", "data", case_rescale, "x_n' = delta_n x_n"),
)
