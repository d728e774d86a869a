"""GroupNorm: one case, one group of channels (and positions).

groups = 1 is LayerNorm; groups = channels is InstanceNorm (degenerate for a dense layer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invcheck.norms.arrays import Array, ArrayOps
from invcheck.norms.base import (
    Norm,
    Problem,
    TorchNorm,
    TorchSetup,
    affine_module,
    functional,
    grouped_back,
    moments,
)

if TYPE_CHECKING:
    from invcheck.layer_kinds import LayerKind
    from invcheck.settings import LayerConfig, NormConfig


class GroupNorm(Norm):
    id = "group_norm"
    doc = "one case, one group of `groups` channels, and positions"
    formula = "μ = mean a, σ = √(mean (a − μ)² + ε), over a group of channels"
    params = ("groups",)

    def statistics(
        self, v: Array, xp: ArrayOps, cfg: NormConfig, per_token: bool = False, state: Any = None
    ) -> tuple[Array, Array]:
        shape = tuple(v.shape)
        grouped = xp.reshape(
            v, (*shape[:2], cfg.groups, shape[2] // cfg.groups, *shape[3:])
        )  # [T, N, G, C/G, *pos]
        mu, var = moments(grouped, tuple(range(3, len(shape) + 1)), xp)  # a group's channels and positions
        return grouped_back(mu, grouped, shape, xp), grouped_back(var, grouped, shape, xp)

    def problems(self, cfg: NormConfig, kind: LayerKind, layer: LayerConfig) -> list[Problem]:
        out = super().problems(cfg, kind, layer)
        if layer.channels % cfg.groups:
            divisors = [d for d in range(1, layer.channels + 1) if layer.channels % d == 0]
            out.append(
                (
                    "groups",
                    f"groups {cfg.groups} does not divide the layer's {layer.channels} channels ({kind.channels_key})",
                    cfg.groups,
                    "use one of " + ", ".join(map(str, divisors)),
                )
            )
        return out

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        import torch.nn.functional as F
        from torch import nn

        eps, groups = 1e-5 if setup.eps is None else setup.eps, setup.cfg.groups
        if setup.functional:
            return functional(lambda a: F.group_norm(a, groups, setup.g, setup.b, eps), setup)
        return affine_module(nn.GroupNorm(groups, setup.layer.channels, eps=eps), setup)
