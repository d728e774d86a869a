"""The norm registry: a new norm is one file here and one line below."""

from __future__ import annotations

from invcheck.norms.base import Norm, TorchNorm, TorchSetup, normalize, normalized_weight, opmath
from invcheck.norms.batch_norm import BatchNorm
from invcheck.norms.dyt import DyT
from invcheck.norms.group_norm import GroupNorm
from invcheck.norms.instance_norm import InstanceNorm
from invcheck.norms.layer_norm import LayerNorm
from invcheck.norms.layer_norm_2d import LayerNorm2d
from invcheck.norms.rms_norm import RMSNorm
from invcheck.norms.rms_norm_2d import RMSNorm2d
from invcheck.norms.scale_norm import ScaleNorm
from invcheck.norms.weight_norm import WeightNorm
from invcheck.norms.weight_standardization import WeightStandardization

NORMS: dict[str, Norm] = {
    n.id: n
    for n in (
        BatchNorm(),
        WeightNorm(),
        LayerNorm(),
        InstanceNorm(),
        GroupNorm(),
        RMSNorm(),
        LayerNorm2d(),
        RMSNorm2d(),
        ScaleNorm(),
        DyT(),
        WeightStandardization(),
    )
}


def get_norm(norm_id: str) -> Norm:
    return NORMS[norm_id]


__all__ = ["NORMS", "Norm", "TorchNorm", "TorchSetup", "get_norm", "normalize", "normalized_weight", "opmath"]
