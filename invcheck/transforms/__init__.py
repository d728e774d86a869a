"""The transform registry: a new transform is one function in weights.py or data.py, listed there.
A user's own transform (custom.py) is one more Transform, made from its config by `transform_of`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invcheck.transforms.base import Transform
from invcheck.transforms.data import DATA_TRANSFORMS
from invcheck.transforms.weights import WEIGHT_TRANSFORMS

TRANSFORMS: dict[str, Transform] = {t.id: t for t in (*WEIGHT_TRANSFORMS, *DATA_TRANSFORMS)}


if TYPE_CHECKING:
    from invcheck.settings import CheckConfig, TransformConfig


def get_transform(transform_id: str) -> Transform:
    return TRANSFORMS[transform_id]


def transform_of(cfg: TransformConfig, check: CheckConfig | None = None) -> Transform:
    """The transform a config names: a built-in, or the user's own (its function loaded or held;
    `check` locates its errors)."""
    if cfg.module is None:
        return TRANSFORMS[cfg.id]
    from invcheck.transforms.custom import user_transform

    if check is None:  # a function of the user's is loaded for a check: its location, its permission
        raise ValueError(f"transform {cfg.module!r}: pass the check it belongs to")
    return user_transform(cfg, check)


__all__ = ["TRANSFORMS", "Transform", "get_transform", "transform_of"]
