"""Transforms of the weight matrix W: [T, H, ...]; row (filter) i is neuron i's w_i."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invcheck.transforms.base import SCALING, SHIFTING, Transform, rms, scale_factors, shift, trailing

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from invcheck.layer_kinds import LayerKind
    from invcheck.settings import TransformConfig


def weight_matrix_rescale(
    x: Tensor, w: Tensor, cfg: TransformConfig, gen: torch.Generator, kind: LayerKind
) -> tuple[Tensor, Tensor]:
    delta = scale_factors((w.shape[0],), cfg, gen)  # [T]: one delta for the whole matrix
    return x, trailing(delta, w.dim()) * w


def weight_matrix_recenter(
    x: Tensor, w: Tensor, cfg: TransformConfig, gen: torch.Generator, kind: LayerKind
) -> tuple[Tensor, Tensor]:
    # gamma: one weight vector (conv: one kernel) per trial, added to every neuron's w_i.
    gamma = shift((w.shape[0], 1, *w.shape[2:]), rms(w), cfg, gen)  # [T, 1, D] or [T, 1, C_in, k, k]
    return x, w + gamma


def weight_vector_rescale(
    x: Tensor, w: Tensor, cfg: TransformConfig, gen: torch.Generator, kind: LayerKind
) -> tuple[Tensor, Tensor]:
    delta = scale_factors(w.shape[:2], cfg, gen)  # [T, H]: its own delta_i for each neuron
    return x, trailing(delta, w.dim()) * w


WEIGHT_TRANSFORMS = (
    Transform(
        "weight_matrix_rescale", "weights", weight_matrix_rescale, "W' = delta W", "W rescale", SCALING
    ),
    Transform(
        "weight_matrix_recenter",
        "weights",
        weight_matrix_recenter,
        "W' = W + 1 gamma^T",
        "W recenter",
        SHIFTING,
        eps_blind=True,
    ),
    Transform(
        "weight_vector_rescale",
        "weights",
        weight_vector_rescale,
        "w_i' = delta_i w_i",
        "w_i rescale",
        SCALING,
    ),
)
