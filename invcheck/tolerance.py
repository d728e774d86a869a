"""How far apart two outputs may be and still count as equal: one table, each entry with its because.

A check's deviation is |y' - y|_max / |y|_max in a trial (normwise relative error). For an exactly
invariant property it comes only from rounding and from eps, so a trial's tolerance is the sum of
two bounds, both computed from that trial's float64 data (`check.py`):

* rounding = SAFETY * (u * kappa + u_acc * kappa_acc), both sides of the comparison added.
  u is the unit roundoff of stored values (X, W, the summed input a, the output y), u_acc that of
  accumulations (the summed input over fan-in K, each statistic over M entries). kappa is how far
  one rounding of a stored value can move the output, in output units:
  |g| (|a| + sqrt(X^2 W^2^T) + the same over the statistic's set) / sigma, the last term (for norms
  that subtract a mean) because the mean carries its set's largest error; it is large when re-centering puts a big offset on a
  small spread. kappa_acc is the same for accumulation errors, which grow like sqrt(K) and
  sqrt(M) (Higham & Mary, "A new approach to probabilistic rounding error analysis", 2019):
  |g| (sqrt(K) |X||W|^T + sqrt(M) max|X||W|^T) / sigma.
* eps: a real layer divides by sqrt(var + eps), not sigma, which moves each output by exactly
  |g| |a - mu| (1/sigma - 1/sqrt(var + eps)), computed per side. It counts only up to EPS_CAP:
  beyond that eps does not blur the invariance, it breaks it (DESIGN.md §2).
"""

from __future__ import annotations

from dataclasses import dataclass

# dtype -> (u: unit roundoff of stored values, u_acc: unit roundoff of accumulation).
ROUNDOFF: dict[str, tuple[float, float]] = {
    "float64": (2.0**-53, 2.0**-53),
    "float32": (2.0**-24, 2.0**-24),
    # because PyTorch accumulates half-precision reductions and normalizes in float32 (on CUDA,
    # invcheck turns cuBLAS's reduced-precision reductions off for the check): only stores round
    # to 11 (float16) or 8 (bfloat16) bits.
    "float16": (2.0**-11, 2.0**-24),
    "bfloat16": (2.0**-8, 2.0**-24),
}
# because TF32 rounds float32 matmul/conv inputs to 10 mantissa bits.
TF32_ROUNDOFF = 2.0**-11
# because the rounding bound is a first-order estimate, not a worst case: calibrated so that no
# exactly invariant cell of either table reaches half of it, in any dtype, over many seeds, while
# every violation stays above MARGIN (benchmarks/calibrate.py prints the ratios).
SAFETY = 2.0
# because an eps effect above 1% of the output scale is a broken invariance, not a rounding detail.
EPS_CAP = 1e-2
# because "far beyond" must be far: above MARGIN x tolerance is a violation; between 1x and
# MARGIN x, invcheck says inconclusive rather than guess.
MARGIN = 5.0
# because a tolerance above 10% of the output scale cannot tell rounding from a real violation
# (violations move outputs by 30-100% at the default transforms): no verdict of invariant then.
MAX_TOLERANCE = 0.1


@dataclass(frozen=True)
class Tolerance:
    value: float  # the tolerance the deviation was held against
    bound: str  # which bound decided: "rounding", "eps", "eps (capped)" or "override"
    why: str  # one sentence a user can check


def rounding_unit(dtype: str, tf32: bool = False) -> tuple[float, float]:
    """(u, u_acc) for dtype; TF32 coarsens float32 inputs of matmuls and convolutions."""
    u, u_acc = ROUNDOFF[dtype]
    if tf32 and dtype == "float32":
        u = TF32_ROUNDOFF
    return u, u_acc


def violation_floor(dtype: str, tf32: bool = False) -> float:
    """sqrt(u): a deviation below it is never called a violation. Because a layer's own conditioning
    (say, dividing by a mean near zero) can amplify rounding far beyond the model above, but a
    violation's size is set by the transform, not by the dtype."""
    return rounding_unit(dtype, tf32)[0] ** 0.5


def rounding_bound(kappa: float, kappa_acc: float, dtype: str, tf32: bool = False) -> float:
    """Relative output error that rounding alone explains, both sides together."""
    u, u_acc = rounding_unit(dtype, tf32)
    return SAFETY * (u * kappa + u_acc * kappa_acc)


def decide(kappa: float, kappa_acc: float, eps_effect: float, dtype: str,
           tf32: bool = False, override: float | None = None) -> Tolerance:
    """The tolerance of one trial, the bound that set it, and why."""
    if override is not None:
        return Tolerance(override, "override", f"tolerance {override:.3g} set by the spec")
    u, u_acc = rounding_unit(dtype, tf32)
    rounding = rounding_bound(kappa, kappa_acc, dtype, tf32)
    eps = min(eps_effect, EPS_CAP)
    why = (f"rounding {SAFETY:g} x ({u:.3g} x kappa {kappa:.3g} + {u_acc:.3g} x kappa_acc {kappa_acc:.3g})"
           f" [{dtype}{', tf32' if tf32 else ''}]")
    if eps_effect <= rounding:
        return Tolerance(rounding + eps, "rounding", why + (f" + eps effect {eps:.3g}" if eps else ""))
    capped = eps_effect > EPS_CAP
    eps_why = f"eps effect {eps_effect:.3g}" + (f", capped at {EPS_CAP:g}: eps dominates the variance" if capped else "")
    return Tolerance(rounding + eps, "eps (capped)" if capped else "eps", f"{eps_why} + {why}")
