"""LayerNorm2d: one case, one position, over its channels (ConvNeXt's channels_first LayerNorm,
timm/torchvision's LayerNorm2d); in layers without positions it is LayerNorm."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invcheck.norms.arrays import Array, ArrayOps
from invcheck.norms.base import Norm, TorchNorm, TorchSetup, affine_module, functional, moments, per_unit

if TYPE_CHECKING:
    from invcheck.layer_kinds import LayerKind
    from invcheck.settings import LayerConfig, NormConfig


class LayerNorm2d(Norm):
    id = "layer_norm_2d"
    doc = "one case, one position, over its channels (ConvNeXt, LayerNorm2d)"

    formula = "μ = mean a, σ = √(mean (a − μ)² + ε), over the channels at one position"

    def statistics(
        self, v: Array, xp: ArrayOps, cfg: NormConfig, per_token: bool = False, state: Any = None
    ) -> tuple[Array, Array]:
        return moments(v, (2,), xp)  # one case, one position: its channels

    def same_as(self, kind: LayerKind, layer: LayerConfig) -> str | None:
        if not kind.norm_positions(layer) or kind.per_token_statistics:
            return "layer_norm"  # no positions, or statistics per token already
        return None

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        import torch.nn.functional as F
        from torch import nn

        c, eps = setup.layer.channels, 1e-5 if setup.eps is None else setup.eps
        if setup.functional:  # as timm's LayerNorm2d: permute to channels-last, layer_norm over C
            g, b = per_unit(setup.g, (c,)), per_unit(setup.b, (c,))
            return functional(lambda a: F.layer_norm(a, (c,), g, b, eps), setup, channels_last=True)
        return affine_module(nn.LayerNorm(c, eps=eps), setup, channels_last=True)
