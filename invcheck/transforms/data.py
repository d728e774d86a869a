"""Transforms of the input cases X: [T, N, ...] in the layer kind's layout."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invcheck.transforms.base import SCALING, SHIFTING, Transform, rms, scale_factors, shift, trailing

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from invcheck.layer_kinds import LayerKind
    from invcheck.settings import TransformConfig


def dataset_rescale(
    x: Tensor, w: Tensor, cfg: TransformConfig, gen: torch.Generator, kind: LayerKind
) -> tuple[Tensor, Tensor]:
    delta = scale_factors((x.shape[0],), cfg, gen)  # [T]: one delta for all cases
    return trailing(delta, x.dim()) * x, w


def dataset_recenter(
    x: Tensor, w: Tensor, cfg: TransformConfig, gen: torch.Generator, kind: LayerKind
) -> tuple[Tensor, Tensor]:
    # The same gamma for every case: one constant per input feature (channel), at every position.
    axis = kind.input_feature_axis
    shape = tuple(n if i in (0, axis) else 1 for i, n in enumerate(x.shape))  # [T, 1, .., D, .., 1]
    return x + shift(shape, rms(x), cfg, gen), w


def case_rescale(
    x: Tensor, w: Tensor, cfg: TransformConfig, gen: torch.Generator, kind: LayerKind
) -> tuple[Tensor, Tensor]:
    delta = scale_factors(x.shape[:2], cfg, gen)  # [T, N]: its own delta_n for each case
    return trailing(delta, x.dim()) * x, w


def token_rescale(
    x: Tensor, w: Tensor, cfg: TransformConfig, gen: torch.Generator, kind: LayerKind
) -> tuple[Tensor, Tensor]:
    axis = kind.token_axis  # X: [T, N, S, D]: its own delta for each token of each case
    assert axis is not None, "token_rescale needs a layer kind with tokens (refused before any draw)"
    delta = scale_factors(x.shape[: axis + 1], cfg, gen)  # [T, N, S]
    return trailing(delta, x.dim()) * x, w


DATA_TRANSFORMS = (
    Transform("dataset_rescale", "data", dataset_rescale, "X' = delta X", "data rescale", SCALING),
    Transform(
        "dataset_recenter",
        "data",
        dataset_recenter,
        "x_n' = x_n + gamma",
        "data recenter",
        SHIFTING,
        eps_blind=True,
    ),
    Transform("case_rescale", "data", case_rescale, "x_n' = delta_n x_n", "case rescale", SCALING),
    Transform(
        "token_rescale",
        "data",
        token_rescale,
        "x_ns' = delta_ns x_ns",
        "token rescale",
        SCALING,
        needs_tokens=True,
    ),
)
