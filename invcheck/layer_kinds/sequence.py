"""sequence: tokens, the transformer setting. X [N, S, D], W [H, D], a = X W^T per token: [N, S, H].

layer_norm and rms_norm take statistics per token over its H units (as transformers do);
batch_norm per unit over cases and tokens; instance_norm per case and unit over the tokens;
group_norm per case and group of units, over the tokens (torch's GroupNorm on [N, H, S]).
Canonically a is [T, N, H, S]: the tokens are the positions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invcheck.layer_kinds.base import LayerKind, Size

if TYPE_CHECKING:
    from torch import Tensor

    from invcheck.settings import LayerConfig


class Sequence(LayerKind):
    id = "sequence"
    doc = "tokens: X [N, S, D], W [H, D], a = X W^T per token [N, S, H]"
    sizes = {
        "cases": Size(8, doc="N"),
        "tokens": Size(8, high=1 << 16, doc="S"),
        "inputs": Size(32, doc="D"),
        "units": Size(16, doc="H"),
    }
    exact_sizes = {"cases": 2, "tokens": 2, "inputs": 2, "units": 4}
    input_feature_axis = 3  # X: [T, N, S, D]
    token_axis = 2
    per_token_statistics = True

    def channels(self, layer: LayerConfig) -> int:
        return layer.units

    def fan_in(self, layer: LayerConfig) -> int:
        return layer.inputs

    def positions(self, layer: LayerConfig) -> tuple[int, ...]:
        return (layer.tokens,)

    def input_shape(self, layer: LayerConfig) -> tuple[int, ...]:
        return (layer.cases, layer.tokens, layer.inputs)

    def weight_shape(self, layer: LayerConfig) -> tuple[int, ...]:
        return (layer.units, layer.inputs)

    def summed(self, layer: LayerConfig, x: Tensor, w: Tensor) -> Tensor:
        a = x @ w.unsqueeze(1).transpose(-1, -2)  # [T, N, S, D] @ [T, 1, D, H] -> [T, N, S, H]
        return a.transpose(-1, -2)  # [T, N, H, S]

    def to_user(self, layer: LayerConfig, a: Tensor) -> Tensor:
        return a.transpose(-1, -2)  # [N, H, S] -> [N, S, H]

    def from_user(self, layer: LayerConfig, y: Tensor) -> Tensor:
        return y.transpose(-1, -2)
