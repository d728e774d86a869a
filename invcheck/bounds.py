"""How much memory a check needs, estimated from its shapes before anything is allocated.

A check holds, for every trial: the float64 draws X, X', W, W' and their copies in the checked
dtype; for each side its output, the noise probe's running residual and one probe point's output
(float64), and the forward pass's own temporaries (the summed inputs, the statistics). Measured peak
memory above the interpreter's own (dense layers, 127 units, 1 to 8 trials): 39 to 62 bytes per
entry of X plus output; the estimate below counts 72, so that a check it admits fits.

Imports no torch: `invcheck validate` refuses a check before torch is loaded.
"""

from __future__ import annotations

import math

from invcheck.settings import CheckConfig

# because X and X' are kept in float64 with a copy in the checked dtype (~4 float64 tensors), W the
# same but reused by the trials' forward (~2), and the output: both sides, the probe's residual,
# a point's output and the forward's temporaries (~5).
X_COPIES, W_COPIES, Y_COPIES = 4, 2, 5
BYTES = 8  # float64
# because a check must run on an ordinary machine (a CI runner has 7-16 GB), with room for torch
# itself (~0.3 GB) and for the caller: above this estimate a check is refused before it allocates.
MAX_MEMORY = 4 << 30


def memory(check: CheckConfig) -> int:
    """Bytes the check is estimated to need at its peak (all trials at once)."""
    kind = check.layer.kind_spec
    layer = check.layer
    x, w, y = (
        math.prod(s) for s in (kind.input_shape(layer), kind.weight_shape(layer), kind.output_shape(layer))
    )
    return BYTES * check.trials * (X_COPIES * x + W_COPIES * w + Y_COPIES * y)


def shown(size: float) -> str:
    """A byte count for a message: 9.6 GB, 512 MB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size:.0f} bytes"
