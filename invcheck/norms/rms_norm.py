"""RMSNorm (Zhang & Sennrich 2019): LayerNorm's set of entries, but mu = 0 and sigma = RMS."""

from __future__ import annotations

from invcheck.norms.base import Norm, TorchNorm, TorchSetup, affine_module, functional, per_unit
from invcheck.norms.layer_norm import normalized_shape


class RMSNorm(Norm):
    id = "rms_norm"
    doc = "LayerNorm's entries, no mean: root mean square"
    centered = False
    torch_eps = None  # nn.RMSNorm(eps=None): finfo(compute dtype).eps

    def axes(self, ndim: int, per_token: bool) -> tuple[int, ...]:
        return (2,) if per_token else tuple(range(2, ndim))

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        import torch.nn.functional as F
        from torch import nn

        shape, last = normalized_shape(setup)
        if setup.functional:
            g = per_unit(setup.g, shape)
            return functional(lambda a: F.rms_norm(a, shape, g, setup.eps), setup, last, bias=True)
        return affine_module(nn.RMSNorm(shape, eps=setup.eps), setup, last)
