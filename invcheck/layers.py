"""The layers of DESIGN.md §2, batched over independent trials T.

Summed inputs always have the layout a: [T, N, C, *positions], with no positions for `dense`
and (S', S') for `conv`, so that every norm reduces over the same named axes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from invcheck.settings import LayerConfig


def input_shape(layer: LayerConfig) -> tuple[int, ...]:
    """Shape of one trial's X: [N, D] or [N, C_in, S, S]."""
    if layer.kind == "dense":
        return (layer.cases, layer.inputs)
    return (layer.cases, layer.in_channels, layer.size, layer.size)


def weight_shape(layer: LayerConfig) -> tuple[int, ...]:
    """Shape of one trial's W: [H, D] or [C_out, C_in, k, k]; row/filter i is neuron i's w_i."""
    if layer.kind == "dense":
        return (layer.units, layer.inputs)
    return (layer.out_channels, layer.in_channels, layer.kernel, layer.kernel)


def sample_inputs(layer: LayerConfig, trials: int, gen: torch.Generator) -> torch.Tensor:
    """X ~ N(0, 1), float64 on CPU: [T, *input_shape]."""
    return torch.randn((trials, *input_shape(layer)), generator=gen, dtype=torch.float64)


def sample_weights(layer: LayerConfig, trials: int, gen: torch.Generator) -> torch.Tensor:
    """W ~ N(0, 1/fan_in) so that summed inputs have unit scale: [T, *weight_shape]."""
    w = torch.randn((trials, *weight_shape(layer)), generator=gen, dtype=torch.float64)
    return w / layer.fan_in**0.5


def forward(layer: LayerConfig, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Summed inputs a = X W^T or conv2d(X, W), one weight per trial: [T, N, C, *positions]."""
    if layer.kind == "dense":
        return x @ w.transpose(-1, -2)  # [T, N, D] @ [T, D, H] -> [T, N, H]
    t, n, c_in, s, _ = x.shape
    # One grouped convolution runs every trial with its own filters.
    xs = x.transpose(0, 1).reshape(n, t * c_in, s, s)  # [N, T*C_in, S, S]
    ws = w.reshape(t * layer.out_channels, c_in, layer.kernel, layer.kernel)  # [T*C_out, C_in, k, k]
    a = F.conv2d(xs, ws, padding=layer.padding, groups=t)  # [N, T*C_out, S', S']
    return a.reshape(n, t, layer.out_channels, *a.shape[-2:]).transpose(0, 1)  # [T, N, C_out, S', S']


def unit_shape(layer: LayerConfig, trials: int) -> tuple[int, ...]:
    """Shape that broadcasts a per-unit quantity ([T, C]) against a: [T, 1, C, 1, 1] or [T, 1, C]."""
    positions = 0 if layer.kind == "dense" else 2
    return (trials, 1, layer.channels) + (1,) * positions
