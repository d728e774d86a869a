"""RMSNorm2d: one case, one position, root mean square over its channels (no mean)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invcheck.norms.arrays import Array, ArrayOps
from invcheck.norms.base import Norm, TorchNorm, TorchSetup, affine_module, functional, per_unit

if TYPE_CHECKING:
    from invcheck.layer_kinds import LayerKind
    from invcheck.settings import LayerConfig, NormConfig


class RMSNorm2d(Norm):
    id = "rms_norm_2d"
    doc = "one case, one position, root mean square over its channels"
    formula = "μ = 0, σ = √(mean a² + ε), over the channels at one position"
    torch_eps = None

    def statistics(
        self, v: Array, xp: ArrayOps, cfg: NormConfig, per_token: bool = False, state: Any = None
    ) -> tuple[Array, Array]:
        return xp.zero(v), xp.mean(v * v, (2,))  # one case, one position: its channels

    def same_as(self, kind: LayerKind, layer: LayerConfig) -> str | None:
        if not kind.norm_positions(layer) or kind.per_token_statistics:
            return "rms_norm"  # no positions, or statistics per token already
        return None

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        import torch.nn.functional as F
        from torch import nn

        c = setup.layer.channels
        if setup.functional:
            g = per_unit(setup.g, (c,))
            return functional(
                lambda a: F.rms_norm(a, (c,), g, setup.eps), setup, channels_last=True, bias=True
            )
        return affine_module(nn.RMSNorm(c, eps=setup.eps), setup, channels_last=True)
