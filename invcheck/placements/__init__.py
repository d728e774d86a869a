"""The placement registry: where a layer's norm sits (summed inputs, after the activation, input)."""

from __future__ import annotations

from invcheck.placements.base import PLACEMENTS, Placement, spread_guard, zero_spread_as_nan


def get_placement(placement_id: str) -> Placement:
    return PLACEMENTS[placement_id]


__all__ = ["PLACEMENTS", "Placement", "get_placement", "spread_guard", "zero_spread_as_nan"]
