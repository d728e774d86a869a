"""conv1d: X [N, C_in, L], W [C_out, C_in, k], a = conv1d(X, W): [N, C_out, L'].

The layout of BatchNorm1d, InstanceNorm1d and GroupNorm on sequences of channels.
"""

from __future__ import annotations

from invcheck.layer_kinds.base import Size
from invcheck.layer_kinds.conv import Conv


class Conv1d(Conv):
    id = "conv1d"
    doc = "a 1-d convolution: X [N, C_in, L], W [C_out, C_in, k], a [N, C_out, L']"
    spatial_dims = 1
    sizes = {**Conv.sizes, "size": Size(16, high=1 << 20, doc="L")}
