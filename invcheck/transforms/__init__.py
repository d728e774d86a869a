"""The transform registry: a new transform is one function in weights.py or data.py, listed there."""

from __future__ import annotations

from invcheck.transforms.base import Transform
from invcheck.transforms.data import DATA_TRANSFORMS
from invcheck.transforms.weights import WEIGHT_TRANSFORMS

TRANSFORMS: dict[str, Transform] = {t.id: t for t in (*WEIGHT_TRANSFORMS, *DATA_TRANSFORMS)}


def get_transform(transform_id: str) -> Transform:
    return TRANSFORMS[transform_id]


__all__ = ["TRANSFORMS", "Transform", "get_transform"]
