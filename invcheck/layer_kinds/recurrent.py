"""recurrent: the paper's layer-normalized RNN (its section 3.1).

X [N, T, D], h_0 = 0, W = [W_xh | W_hh]: [H, D + H], a_t = [x_t, h_{t-1}] W^T, h_t = tanh(norm(a_t));
the output is every h_t. The norm acts on each step's a_t [N, H] on its own, so batch_norm takes
statistics per step over the cases; instance_norm is undefined (a step has no positions).
Weight transforms act on W as a whole (re-centering adds gamma over all D + H inputs); data
transforms act on X only. Canonically the output is [T, N, H, steps].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invcheck.layer_kinds.base import LayerKind, NormFn, Size

if TYPE_CHECKING:
    from torch import Tensor

    from invcheck.settings import LayerConfig


class Recurrent(LayerKind):
    id = "recurrent"
    doc = "an RNN: X [N, T, D], W = [W_xh | W_hh] [H, D + H], h_t = tanh(norm([x_t, h_t-1] W^T))"
    sizes = {
        "cases": Size(16, doc="N"),
        "steps": Size(6, high=4096, doc="T"),
        "inputs": Size(16, doc="D"),
        "units": Size(16, doc="H"),
    }
    claim_notes = {
        "dataset_rescale": (
            "in a recurrent layer only x_t is scaled, not h_t-1: a_t = W_xh (delta x_t) + W_hh h_t-1 is no "
            "multiple of a_t from the second step on"
        ),
        "case_rescale": (
            "in a recurrent layer only x_t is scaled, not h_t-1: a_t = W_xh (delta_n x_t) + W_hh h_t-1 is no "
            "multiple of a_t from the second step on"
        ),
    }
    exact_sizes = None  # a_t depends on h_t-1 = tanh(norm(a_t-1)): no one bilinear map a = K(X, W)
    input_feature_axis = 3  # X: [T, N, steps, D]
    token_axis = 2
    activation_inside = True  # placement: summed only (rules.py refuses the others)

    def channels(self, layer: LayerConfig) -> int:
        return layer.units

    def fan_in(self, layer: LayerConfig) -> int:
        return layer.inputs + layer.units

    def positions(self, layer: LayerConfig) -> tuple[int, ...]:
        return (layer.steps,)

    def summed_positions(self, layer: LayerConfig) -> tuple[int, ...]:
        return ()

    def input_shape(self, layer: LayerConfig) -> tuple[int, ...]:
        return (layer.cases, layer.steps, layer.inputs)

    def weight_shape(self, layer: LayerConfig) -> tuple[int, ...]:
        return (layer.units, layer.inputs + layer.units)

    def summed(self, layer: LayerConfig, x: Tensor, w: Tensor) -> Tensor:
        raise TypeError("a recurrent layer's summed inputs depend on its norm: use run()")

    def run(self, layer: LayerConfig, x: Tensor, w: Tensor, norm: NormFn, summed: object = None) -> Tensor:
        import torch

        h = x.new_zeros(*x.shape[:2], layer.units)  # [T, N, H]: h_0 = 0
        outputs = []
        for step in range(x.shape[2]):
            xh = torch.cat([x[:, :, step], h], dim=-1)  # [T, N, D + H]
            h = torch.tanh(norm(xh @ w.transpose(-1, -2)))  # a_t: [T, N, H]
            outputs.append(h)
        return torch.stack(outputs, dim=-1)  # [T, N, H, steps]
