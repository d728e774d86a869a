"""How far apart two outputs may be and still count as equal: one table, each entry with its because.

A check's deviation is |y' - y|_max / |y|_max in a trial (normwise relative error). For an exactly
invariant property it comes only from rounding and from eps, and both are measured, not modelled
(`measure.py`): the rounding noise of each side from its outputs at dithered inputs, eps's effect
from the same layer with eps switched off. A trial's tolerance is

    SAFETY x noise + eps's effect between the two sides,  at least FLOOR_ULPS x u.

Imports no torch: the judge and the renderers load without it.
"""

from __future__ import annotations

# dtype -> unit roundoff of stored values.
ROUNDOFF: dict[str, float] = {
    "float64": 2.0**-53,
    "float32": 2.0**-24,
    "float16": 2.0**-11,
    "bfloat16": 2.0**-8,
}
# because TF32 rounds float32 matmul/conv inputs to 10 mantissa bits.
TF32_ROUNDOFF = 2.0**-11
# because the measured noise is the typical largest deviation rounding makes (the largest of as
# many Gaussian errors as the output has entries): calibrated so that no exactly invariant cell of
# the tables comes near its tolerance, in any dtype, over many seeds (benchmarks/calibrate.py).
SAFETY = 5.0
# because "far beyond" must be far, but not so far that small violations pass: above MARGIN x the
# tolerance is a violation; between 1x and MARGIN x, invcheck says inconclusive rather than guess.
MARGIN = 1.3
# because storing each side's output rounds it once: no tolerance is below a few units of the
# dtype's last place, whatever the measured noise (an exactly computed layer measures zero).
FLOOR_ULPS = 4.0
# because "where does eps break the invariance" (`invcheck sweep`) needs a bound on eps's effect:
# 1% of the output where the check sets none (max_eps_effect). A plain check sets no bound: its
# eps effect qualifies "invariant up to eps" and never decides the verdict (verdict.py).
EPS_CAP = 1e-2
# because a tolerance above 10% of the output scale cannot tell rounding from a real violation
# (violations move outputs by 30-100% at the default transforms): no verdict of invariant then.
MAX_TOLERANCE = 0.1
# because the dither must move every input by several units in the last place of the coarsest
# arithmetic involved (the dtype, TF32, or float32 inside a layer run in float64), so that each
# perturbed run rounds afresh, yet stay so small that the fourth difference's e^4 term vanishes.
MIN_DITHER = 2.0**-20
DITHER_ULPS = 8.0
# because torch's BatchNorm refuses eps = 0: "eps off" in layers invcheck did not write is this,
# which no float64 variance above 1e-284 notices.
EPS_OFF = 1e-300
# because a normalized output is bounded (|a - mu| / sigma <= sqrt(entries)), an output with eps
# off this many times the output with eps is no normalized value: a statistic's spread is 0 (or
# below 1e-8 sqrt(eps)) and the layer divided a rounding remainder by ~sqrt(EPS_OFF) (torch's
# GroupNorm(C, C) on a dense layer: 1e+134). The trial is degenerate (0/0), as in the reference,
# whose definition gives NaN there.
ZERO_SPREAD = 1e8
# because a float64 run whose noise is this far above float64's (about 1e-16) is not computing in
# float64: the layer casts to float32 (or lower) inside.
FLOAT64_NOISE_LIMIT = 1e-12


# because a layer may round in a precision coarser than the checked dtype (bfloat16 arithmetic inside,
# whatever dtype it is given): a probe step below one unit of that precision leaves most outputs
# unmoved and measures next to no noise. Where fewer than ALL_MOVE of the nonzero output entries
# move at the dtype's own step, the coarsest step (bfloat16's) is tried: if it moves more than
# 1/RESOLVED times as many, the layer computes coarser inside, and its noise is the largest the
# coarser precisions' steps measure (the first step that moves the outputs is about one unit: it
# keeps part of the rounding, as a step of one ulp does). Measured, e.g. a bfloat16 RMSNorm in a
# float32 check: 0.1% of entries move at 2^-20, 94% at 2^-5; outputs that stay for other reasons
# (a border of zero padding, ±1 of a two-token instance_norm) stay at every step (44% and 44%).
COARSER = ("float16", "bfloat16")
ALL_MOVE = 0.9
RESOLVED = 0.5


def unit(dtype: str, tf32: bool = False) -> float:
    """The unit roundoff of the checked arithmetic (TF32 coarsens float32 matmuls on CUDA)."""
    return TF32_ROUNDOFF if tf32 and dtype == "float32" else ROUNDOFF[dtype]


def dither(dtype: str, tf32: bool = False) -> float:
    """The relative size e of one probe step in `dtype` (see MIN_DITHER)."""
    return max(MIN_DITHER, DITHER_ULPS * unit(dtype, tf32))


def dithers(dtype: str, tf32: bool = False) -> list[float]:
    """The probe steps to try, finest first: the dtype's own, then each coarser precision's."""
    own = dither(dtype, tf32)
    return [own] + [d for d in (dither(c) for c in COARSER) if d > own]


def precision_of(step: float) -> str:
    """The precision whose probe step `step` is (for a note)."""
    return next((c for c in COARSER if dither(c) == step), "")


def floor(dtype: str, tf32: bool = False) -> float:
    return FLOOR_ULPS * unit(dtype, tf32)


def storage_error(relative: float, dtype: str) -> bool:
    """Whether storing a tensor in `dtype` lost more than rounding does (relative error of the
    whole tensor above a few units): its entries underflowed to subnormals or zero."""
    return relative > FLOOR_ULPS * ROUNDOFF[dtype]


def rounding(noise: float, dtype: str, tf32: bool = False) -> float:
    """The tolerance rounding alone earns: SAFETY x the measured noise, at least the floor."""
    return max(SAFETY * noise, floor(dtype, tf32))
