"""ScaleNorm (Nguyen & Salazar 2019, "Transformers without Tears"): a divided by its length ||a||_2.

Over RMSNorm's entries (one case's units and positions; in a sequence layer each token's units),
mu = 0 and sigma = ||a||_2 = sqrt(sum a^2): RMSNorm's sigma times sqrt(n), so the invariances are
RMSNorm's. Without RMSNorm's 1/n the eps weighs n times less: sqrt(sum a^2 + eps) here (eps inside
the root, as every norm in this registry; the paper's code clamps ||a|| at eps instead, the same at
eps 0). The paper learns one scalar gain g; this entry takes a gain and bias per unit as the other
norms do (one scalar is the case of equal gains, which no verdict depends on). PyTorch has no
ScaleNorm layer: its checks run the reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invcheck.norms.arrays import Array, ArrayOps
from invcheck.norms.base import Norm
from invcheck.norms.layer_norm import case_axes

if TYPE_CHECKING:
    from invcheck.settings import NormConfig


class ScaleNorm(Norm):
    id = "scale_norm"
    doc = "RMSNorm's entries, divided by their length ‖a‖₂ (no 1/n)"
    formula = "μ = 0, σ = √(Σ a² + ε) = ‖a‖₂"

    def statistics(
        self, v: Array, xp: ArrayOps, cfg: NormConfig, per_token: bool = False, state: Any = None
    ) -> tuple[Array, Array]:
        return xp.zero(v), xp.sum(v * v, case_axes(v.ndim, per_token))
