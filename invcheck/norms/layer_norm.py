"""LayerNorm: one case, over all units (and positions); per token in a sequence layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invcheck.norms.arrays import Array, ArrayOps
from invcheck.norms.base import Norm, TorchNorm, TorchSetup, affine_module, functional, moments, per_unit

if TYPE_CHECKING:
    from invcheck.settings import NormConfig


class LayerNorm(Norm):
    id = "layer_norm"
    doc = "one case, all units and positions (a sequence layer: per token over its units)"

    formula = "μ = mean a, σ = √(mean (a − μ)² + ε)"

    def statistics(
        self, v: Array, xp: ArrayOps, cfg: NormConfig, per_token: bool = False, state: Any = None
    ) -> tuple[Array, Array]:
        return moments(v, case_axes(v.ndim, per_token), xp)

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        import torch.nn.functional as F
        from torch import nn

        shape, last = normalized_shape(setup)
        if setup.functional:
            g, b = per_unit(setup.g, shape), per_unit(setup.b, shape)
            return functional(lambda a: F.layer_norm(a, shape, g, b, _eps(setup)), setup, last)
        return affine_module(nn.LayerNorm(shape, eps=_eps(setup)), setup, last)


def normalized_shape(setup: TorchSetup) -> tuple[tuple[int, ...], bool]:
    """(normalized_shape, channels_last) of nn.LayerNorm / nn.RMSNorm in this layer: (C, *pos) on
    [N, C, *pos], or (C,) on channels-last [N, *pos, C] when statistics are per token."""
    c = setup.layer.channels
    if setup.kind.per_token_statistics:
        return (c,), True
    return (c, *setup.kind.norm_positions(setup.layer)), False


def case_axes(ndim: int, per_token: bool) -> tuple[int, ...]:
    """One case's units and positions of [T, N, C, *positions]; per token: its units alone."""
    return (2,) if per_token else tuple(range(2, ndim))


def _eps(setup: TorchSetup) -> float:
    return 1e-5 if setup.eps is None else setup.eps
