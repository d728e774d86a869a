"""RMSNorm (Zhang & Sennrich 2019): LayerNorm's set of entries, but mu = 0 and sigma = RMS."""

from __future__ import annotations

from invcheck.norms.base import Norm, Tensor, positions


class RMSNorm(Norm):
    id = "rms_norm"
    centered = False

    def dims(self, a: Tensor) -> tuple[int, ...]:
        return (2, *positions(a))
