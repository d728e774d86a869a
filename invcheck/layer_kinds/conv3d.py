"""conv3d: video. X [N, C_in, S, S, S], W [C_out, C_in, k, k, k], a = conv3d(X, W): [N, C_out, S', S', S'].

The layout of BatchNorm3d, InstanceNorm3d and GroupNorm on volumes (frames x height x width).
Statistics as for `conv`, over three spatial axes instead of two.
"""

from __future__ import annotations

from invcheck.layer_kinds.base import Size
from invcheck.layer_kinds.conv import Conv


class Conv3d(Conv):
    id = "conv3d"
    doc = (
        "a 3-d convolution (video): X [N, C_in, S, S, S], W [C_out, C_in, k, k, k], a [N, C_out, S', S', S']"
    )
    spatial_dims = 3
    # Smaller than conv's defaults: a volume of S^3 positions grows fast.
    sizes = {**Conv.sizes, "cases": Size(8, doc="N"), "size": Size(6, high=512, doc="S")}
