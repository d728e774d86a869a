"""InstanceNorm: one case, one channel, over all positions. A dense layer has no positions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invcheck.norms.base import Norm, TorchNorm, TorchSetup, affine_module, functional

if TYPE_CHECKING:
    from invcheck.layer_kinds import LayerKind
    from invcheck.settings import LayerConfig, NormConfig


class InstanceNorm(Norm):
    id = "instance_norm"
    doc = "one case, one channel, all positions (layers with positions only)"

    def undefined_reason(self, kind: LayerKind, layer: LayerConfig, cfg: NormConfig) -> str | None:
        if not kind.norm_positions(layer):
            return f"instance_norm needs positions; a {kind.id} layer's norm sees one entry per case and unit"
        return None

    def axes(self, ndim: int, per_token: bool) -> tuple[int, ...]:
        return tuple(range(3, ndim))

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        import torch.nn.functional as F
        from torch import nn

        eps = 1e-5 if setup.eps is None else setup.eps
        if setup.functional:
            return functional(lambda a: F.instance_norm(a, weight=setup.g, bias=setup.b, eps=eps), setup)
        spatial = len(setup.kind.norm_positions(setup.layer))
        cls = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}[spatial]
        return affine_module(cls(setup.layer.channels, eps=eps, affine=True), setup)
