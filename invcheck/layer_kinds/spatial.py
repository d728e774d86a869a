"""One map from a number of spatial axes to PyTorch's convolution and its norm layers for that layout.

The conv layer kinds pick their convolution here, and the norms their BatchNorm / InstanceNorm
class, by how many positions the tensor has ([N, C] and [N, C, L] share the 1-d layers, as
BatchNorm1d takes both). Names, resolved on use: this module imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Spatial:
    """PyTorch's functions and layers for inputs [N, C, *positions] with `dims` position axes."""

    dims: int
    conv: str  # in torch.nn.functional
    batch_norm: str  # in torch.nn
    instance_norm: str  # in torch.nn

    def conv_fn(self) -> Any:
        import torch.nn.functional as F

        return getattr(F, self.conv)

    def batch_norm_cls(self) -> Any:
        from torch import nn

        return getattr(nn, self.batch_norm)

    def instance_norm_cls(self) -> Any:
        from torch import nn

        return getattr(nn, self.instance_norm)


SPATIAL: dict[int, Spatial] = {
    d: Spatial(d, f"conv{max(d, 1)}d", f"BatchNorm{max(d, 1)}d", f"InstanceNorm{max(d, 1)}d")
    for d in range(4)
}


def spatial(dims: int) -> Spatial:
    """The entry for `dims` position axes (0: [N, C], which the 1-d layers take)."""
    if dims not in SPATIAL:
        raise ValueError(f"PyTorch has no layers for {dims} spatial axes")
    return SPATIAL[dims]
