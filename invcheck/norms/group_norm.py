"""GroupNorm: one case, one group of channels (and positions).

groups = 1 is LayerNorm; groups = channels is InstanceNorm (degenerate for a dense layer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invcheck.norms.base import Norm, TorchNorm, TorchSetup, affine_module, functional

if TYPE_CHECKING:
    from torch import Tensor

    from invcheck.settings import NormConfig


class GroupNorm(Norm):
    id = "group_norm"
    doc = "one case, one group of `groups` channels, and positions"

    def grouped(self, t: Tensor, cfg: NormConfig) -> Tensor:
        # [T, N, C, *pos] -> [T, N, G, C/G, *pos]
        return t.reshape(*t.shape[:2], cfg.groups, t.shape[2] // cfg.groups, *t.shape[3:])

    def axes(self, ndim: int, per_token: bool) -> tuple[int, ...]:
        return tuple(range(3, ndim))  # within a group: its channels and positions

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        import torch.nn.functional as F
        from torch import nn

        eps, groups = 1e-5 if setup.eps is None else setup.eps, setup.cfg.groups
        if setup.functional:
            return functional(lambda a: F.group_norm(a, groups, setup.g, setup.b, eps), setup)
        return affine_module(nn.GroupNorm(groups, setup.layer.channels, eps=eps), setup)
