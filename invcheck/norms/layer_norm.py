"""LayerNorm: one case, over all units (and positions); per token in a sequence layer."""

from __future__ import annotations

from invcheck.norms.base import Norm, TorchNorm, TorchSetup, affine_module, functional, per_unit


class LayerNorm(Norm):
    id = "layer_norm"
    doc = "one case, all units and positions (a sequence layer: per token over its units)"

    def axes(self, ndim: int, per_token: bool) -> tuple[int, ...]:
        return (2,) if per_token else tuple(range(2, ndim))

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


def _eps(setup: TorchSetup) -> float:
    return 1e-5 if setup.eps is None else setup.eps
