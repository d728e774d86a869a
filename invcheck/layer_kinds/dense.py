"""dense: the paper's setting. X [N, D], W [H, D], a = X W^T: [N, H]."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invcheck.layer_kinds.base import LayerKind, Size

if TYPE_CHECKING:
    from torch import Tensor

    from invcheck.settings import LayerConfig


class Dense(LayerKind):
    id = "dense"
    summed_formula = "X Wᵀ"
    doc = "a fully connected layer (the paper's): X [N, D], W [H, D], a = X W^T [N, H]"
    sizes = {
        "cases": Size(16, doc="N"),
        "inputs": Size(32, doc="D"),
        "units": Size(16, doc="H"),
    }
    # Four units: group_norm keeps 2 groups of 2 (with one unit per group it is instance_norm).
    exact_sizes = {"cases": 3, "inputs": 2, "units": 4}
    search_sizes = {"cases": 4, "inputs": 3, "units": 4}  # at most 12 entries in X and in W

    def channels(self, layer: LayerConfig) -> int:
        return layer.units

    def fan_in(self, layer: LayerConfig) -> int:
        return layer.inputs

    def input_shape(self, layer: LayerConfig) -> tuple[int, ...]:
        return (layer.cases, layer.inputs)

    def weight_shape(self, layer: LayerConfig) -> tuple[int, ...]:
        return (layer.units, layer.inputs)

    def summed(self, layer: LayerConfig, x: Tensor, w: Tensor) -> Tensor:
        return x @ w.transpose(-1, -2)  # [T, N, D] @ [T, D, H] -> [T, N, H]
