"""conv: a 2-d convolution. X [N, C_in, S, S], W [C_out, C_in, k, k], a = conv2d(X, W): [N, C_out, S', S'].

Zero padding matters: it shifts the borders less than the interior under re-centering.
`layout: channels_last` hands a user norm [N, S', S', C] (what nn.LayerNorm(C) sees in
ConvNeXt-style code); built-in norms do not depend on the layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invcheck.layer_kinds.base import LayerKind, Size
from invcheck.layer_kinds.spatial import spatial

if TYPE_CHECKING:
    from torch import Tensor

    from invcheck.settings import LayerConfig


class Conv(LayerKind):
    id = "conv"
    doc = "a 2-d convolution: X [N, C_in, S, S], W [C_out, C_in, k, k], a [N, C_out, S', S']"
    spatial_dims = 2
    layouts = ("channels_first", "channels_last")
    channels_key = "out_channels"
    sizes = {
        "cases": Size(16, doc="N"),
        "in_channels": Size(4, doc="C_in"),
        "out_channels": Size(8, doc="C_out"),
        "kernel": Size(3, high=255, doc="k"),
        "size": Size(8, high=8192, doc="S"),
        "padding": Size(0, low=0, high=1024, doc="zero padding on every side"),
    }
    # Four output channels: group_norm keeps 2 groups of 2; 1x1 kernels on 2 positions a side.
    exact_sizes = {"cases": 2, "in_channels": 2, "out_channels": 4, "kernel": 1, "size": 2, "padding": 0}
    claim_notes = {
        "weight_matrix_recenter": (
            "in a conv layer the added kernel shifts each position by its own amount (gamma * x_n)(p), "
            "not every unit of a case by one constant as in the paper's dense layer"
        ),
        "dataset_recenter": (
            "in a conv layer the shift reaches each output channel as one constant only without zero "
            "padding; with padding the border positions get less of it"
        ),
    }

    def channels(self, layer: LayerConfig) -> int:
        return layer.out_channels

    def fan_in(self, layer: LayerConfig) -> int:
        return layer.in_channels * layer.kernel**self.spatial_dims

    def out_size(self, layer: LayerConfig) -> int:
        return layer.size + 2 * layer.padding - layer.kernel + 1

    def positions(self, layer: LayerConfig) -> tuple[int, ...]:
        return (self.out_size(layer),) * self.spatial_dims

    def input_shape(self, layer: LayerConfig) -> tuple[int, ...]:
        return (layer.cases, layer.in_channels, *(layer.size,) * self.spatial_dims)

    def weight_shape(self, layer: LayerConfig) -> tuple[int, ...]:
        return (layer.out_channels, layer.in_channels, *(layer.kernel,) * self.spatial_dims)

    def summed(self, layer: LayerConfig, x: Tensor, w: Tensor) -> Tensor:
        conv = spatial(self.spatial_dims).conv_fn()
        t, n = x.shape[:2]
        # One grouped convolution runs every trial with its own filters.
        xs = x.transpose(0, 1).reshape(n, -1, *x.shape[3:])  # [N, T*C_in, *S]
        ws = w.reshape(-1, *w.shape[2:])  # [T*C_out, C_in, *k]
        a = conv(xs, ws, padding=layer.padding, groups=t)  # [N, T*C_out, *S']
        return (
            a.reshape(n, t, -1, *a.shape[2:]).transpose(0, 1).contiguous()
        )  # [T, N, C_out, *S']: the norms reduce faster over it

    def problems(self, layer: LayerConfig) -> list[tuple[str, str, object, str | None]]:
        if self.out_size(layer) >= 1:
            return []
        return [
            (
                "kernel",
                f"kernel {layer.kernel} does not fit in size {layer.size} + 2 * padding {layer.padding}",
                layer.kernel,
                "use a smaller kernel, a larger size or padding",
            )
        ]

    def placeholders(self, layer: LayerConfig) -> dict[str, int]:
        return {**super().placeholders(layer), "out_size": self.out_size(layer)}

    def to_user(self, layer: LayerConfig, a: Tensor) -> Tensor:
        return a.movedim(1, -1) if layer.layout == "channels_last" else a

    def from_user(self, layer: LayerConfig, y: Tensor) -> Tensor:
        return y.movedim(-1, 1) if layer.layout == "channels_last" else y
