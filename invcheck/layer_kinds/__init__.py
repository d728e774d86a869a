"""The layer-kind registry: a new kind is one file here and one line below."""

from __future__ import annotations

from invcheck.layer_kinds.base import LayerKind, NormFn, Size
from invcheck.layer_kinds.conv import Conv
from invcheck.layer_kinds.conv1d import Conv1d
from invcheck.layer_kinds.conv3d import Conv3d
from invcheck.layer_kinds.dense import Dense
from invcheck.layer_kinds.recurrent import Recurrent
from invcheck.layer_kinds.sequence import Sequence

LAYER_KINDS: dict[str, LayerKind] = {
    k.id: k for k in (Dense(), Conv(), Conv1d(), Sequence(), Recurrent(), Conv3d())
}


def get_kind(kind_id: str) -> LayerKind:
    return LAYER_KINDS[kind_id]


__all__ = ["LAYER_KINDS", "LayerKind", "NormFn", "Size", "get_kind"]
