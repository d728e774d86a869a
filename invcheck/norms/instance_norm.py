"""InstanceNorm: one case, one channel, over all positions. A dense layer has no positions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invcheck.layer_kinds.spatial import spatial
from invcheck.norms.arrays import Array, ArrayOps
from invcheck.norms.base import Norm, TorchNorm, TorchSetup, affine_module, functional, moments

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

    formula = "μ = mean a, σ = √(mean (a − μ)² + ε)"

    def statistics(
        self, v: Array, xp: ArrayOps, cfg: NormConfig, per_token: bool = False, state: Any = None
    ) -> tuple[Array, Array]:
        return moments(v, tuple(range(3, v.ndim)), xp)  # one case and unit: its positions

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        import torch.nn.functional as F

        eps = 1e-5 if setup.eps is None else setup.eps
        if setup.functional:
            return functional(lambda a: F.instance_norm(a, weight=setup.g, bias=setup.b, eps=eps), setup)
        cls = spatial(len(setup.kind.norm_positions(setup.layer))).instance_norm_cls()
        return affine_module(cls(setup.layer.channels, eps=eps, affine=True), setup)
