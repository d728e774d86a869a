"""The norm registry: a new norm is one file here and one line below (and its id in names.py)."""

from __future__ import annotations

from invcheck.norms.base import Norm, normalize
from invcheck.norms.batch_norm import BatchNorm
from invcheck.norms.group_norm import GroupNorm
from invcheck.norms.instance_norm import InstanceNorm
from invcheck.norms.layer_norm import LayerNorm
from invcheck.norms.rms_norm import RMSNorm
from invcheck.norms.weight_norm import WeightNorm

NORMS: dict[str, Norm] = {n.id: n for n in (
    BatchNorm(), WeightNorm(), LayerNorm(), InstanceNorm(), GroupNorm(), RMSNorm(),
)}


def get_norm(norm_id: str) -> Norm:
    return NORMS[norm_id]


__all__ = ["NORMS", "Norm", "get_norm", "normalize"]
