"""Dynamic Tanh (Zhu, Chen, He, LeCun, Liu 2025, "Transformers without Normalization"): y = g tanh(alpha a) + b.

Offered as LayerNorm's replacement, it takes no statistics: each entry is squashed on its own, so
nothing that moves a (a scale, a shift) is taken out again; it is invariant to no transform in
general. alpha is a learnt scalar; a check uses the paper's initial value 0.5 (no verdict depends on
it, for alpha != 0). No eps (nothing is divided). PyTorch has no DyT layer: its checks run the reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invcheck.norms.arrays import Array, ArrayOps
from invcheck.norms.base import Norm, Problem

if TYPE_CHECKING:
    from invcheck.layer_kinds import LayerKind
    from invcheck.settings import LayerConfig, NormConfig


class DyT(Norm):
    id = "dyt"
    doc = "each entry on its own (no statistics), squashed: tanh(α a) with α = 1/2"
    formula = "y = g tanh(α a) + b, α = 1/2 (no μ, no σ)"
    has_eps = False
    alpha: tuple[int, int] = (1, 2)  # numerator, denominator: exact in sympy, 0.5 in floats

    def statistics(
        self, v: Array, xp: ArrayOps, cfg: NormConfig, per_token: bool = False, state: Any = None
    ) -> None:
        return None

    def normalized(self, v: Array, stats: tuple[Array, Array] | None, eps: float, xp: ArrayOps) -> Array:
        num, den = self.alpha
        return xp.tanh(v * num / den)

    def problems(self, cfg: NormConfig, kind: LayerKind, layer: LayerConfig) -> list[Problem]:
        out = super().problems(cfg, kind, layer)
        if cfg.eps:
            out.append(
                ("eps", f"eps {cfg.eps:g}: dyt divides by nothing, it has no eps", cfg.eps, "remove eps")
            )
        return out
