"""RMSNorm (Zhang & Sennrich 2019): LayerNorm's set of entries, but mu = 0 and sigma = RMS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invcheck.norms.arrays import Array, ArrayOps
from invcheck.norms.base import Norm, TorchNorm, TorchSetup, affine_module, functional, per_unit
from invcheck.norms.layer_norm import case_axes, normalized_shape

if TYPE_CHECKING:
    from invcheck.settings import NormConfig


class RMSNorm(Norm):
    id = "rms_norm"
    doc = "LayerNorm's entries, no mean: root mean square"
    formula = "μ = 0, σ = √(mean a² + ε)"
    torch_eps = None  # nn.RMSNorm(eps=None): finfo(compute dtype).eps

    def statistics(
        self, v: Array, xp: ArrayOps, cfg: NormConfig, per_token: bool = False, state: Any = None
    ) -> tuple[Array, Array]:
        return xp.zero(v), xp.mean(v * v, case_axes(v.ndim, per_token))

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        import torch.nn.functional as F
        from torch import nn

        shape, last = normalized_shape(setup)
        if setup.functional:
            g = per_unit(setup.g, shape)
            return functional(lambda a: F.rms_norm(a, shape, g, setup.eps), setup, last, bias=True)
        return affine_module(nn.RMSNorm(shape, eps=setup.eps), setup, last)
