"""A smaller check whose outputs are exactly a subset of a large check's: where the float64 run and
the noise probes look at large layers.

A per-case norm (layer, rms, group, instance norms, weight_norm) computes each case from that case
alone, so a check on its first k cases gives exactly those cases' outputs; batch_norm mixes the
cases but not the units, so a check on its first k units (rows of W) gives exactly those units'
(with the norm on the layer's input too: it normalizes X, which stays whole). A kind whose units
also size X (a depthwise conv) has no such smaller check, and is run whole.
The largest deviation of a sample is no bound on the whole output's, so the checked dtype's own
deviation is always taken over everything; only the float64 run (which decides violations far
below the checked dtype's rounding) and the noise estimate come from the sample, the latter
stretched from the sample's size to the output's (the largest of M Gaussian errors grows like
sqrt(2 ln M)).

Many trials of a small layer: every trial is drawn alike, so the noise probe (four more forward
passes per side) looks at the first few trials only, and the largest noise among them stands for
the others; every trial's deviation, float64 run and eps effect are still measured.
"""

from __future__ import annotations

import math
from dataclasses import replace

from invcheck.impls import Draw
from invcheck.norms import NORMS
from invcheck.settings import CheckConfig

# because the float64 run costs four of the checked dtype's forward passes: beyond this many output
# entries per trial it looks at a sample of about this many.
SAMPLE_ENTRIES = 1 << 16
# because the noise probe costs four forward passes per side: beyond this many trials it looks at
# this many (the default 8 trials are all probed).
PROBE_TRIALS = 32


def entries(check: CheckConfig) -> int:
    kind = check.layer.kind_spec
    return math.prod(kind.output_shape(check.layer))


def smaller(check: CheckConfig, d: Draw) -> tuple[CheckConfig, Draw] | None:
    """The sample check and its draw, or None where the check is small or cannot be sampled
    exactly (eval mode; a recurrent batch_norm). User code, whose statistics are unknown, gets its
    first cases, which measure.py keeps only where they give the whole run's outputs bit for bit."""
    if entries(check) <= SAMPLE_ENTRIES or check.norm.mode == "eval":
        return None
    if check.norm.module is not None:
        return _cases(check, d)
    if check.norm.id not in NORMS:
        return None
    if NORMS[check.norm.id].per_case:  # statistics within a case: the first cases are a check of their own
        return _cases(check, d)
    return None if check.layer.kind_spec.activation_inside else _units(check, d)


def fewer_trials(check: CheckConfig, d: Draw) -> tuple[CheckConfig, Draw] | None:
    """The first PROBE_TRIALS trials as a check of their own (exactly those trials' draws), or None."""
    k = PROBE_TRIALS
    if check.trials <= k:
        return None
    head = replace(
        d,
        x=d.x[:k],
        w=d.w[:k],
        x2=d.x2[:k],
        w2=d.w2[:k],
        g=d.g[:k],
        b=d.b[:k],
        warmup=[x[:k] for x in d.warmup],
        cache={},
    )
    return replace(check, trials=k), head


def _cases(check: CheckConfig, d: Draw) -> tuple[CheckConfig, Draw]:
    n = check.layer.cases
    k = max(1, min(n, n * SAMPLE_ENTRIES // entries(check)))
    small = replace(check, layer=check.layer.with_sizes(cases=k))
    return small, replace(d, x=d.x[:, :k], x2=d.x2[:, :k], cache={})


def _units(check: CheckConfig, d: Draw) -> tuple[CheckConfig, Draw] | None:
    """The first k output units: rows of W (unit i's summed input is f(X, w_i)), X whole.

    The norm's gain and bias are cut to what the smaller layer's norm normalizes: the first k units
    where it sits on the summed inputs, all of X's features (untouched) where it sits on the input."""
    kind, layer = check.layer.kind_spec, check.layer
    c = kind.channels(layer)  # output units, wherever the norm sits (layer.channels: the norm's own)
    k = max(1, min(c, c * SAMPLE_ENTRIES // entries(check)))
    small = replace(check, layer=layer.with_sizes(**{kind.channels_key: k}))
    if kind.input_shape(small.layer) != kind.input_shape(layer):
        return None  # the units also size X (a depthwise conv): no smaller layer keeps X whole
    g = small.layer.channels
    return small, replace(d, w=d.w[:, :k], w2=d.w2[:, :k], g=d.g[:, :g], b=d.b[:, :g], cache={})


def stretch(check: CheckConfig, small: CheckConfig) -> float:
    """How much larger the largest of the whole output's rounding errors is than the sample's."""
    return math.sqrt(math.log(max(entries(check), 2)) / math.log(max(entries(small), 2)))


def describe(check: CheckConfig, small: CheckConfig) -> str:
    what = "cases" if small.layer.cases != check.layer.cases else "units"
    kind = check.layer.kind_spec
    part, whole = (
        (small.layer.cases, check.layer.cases)
        if what == "cases"
        else (kind.channels(small.layer), kind.channels(check.layer))
    )
    if check.norm.module is not None:  # user code: the sample stands for its noise alone
        return (
            f"the noise probes saw {part} of the {whole} {what} (checked: they gave the whole run's outputs "
            f"bit for bit); the float64 runs and the {check.dtype} deviation are over every entry"
        )
    return (
        f"the float64 run and the noise probe saw {part} of the {whole} {what} (each {what[:-1]}'s output "
        f"depends on it alone); the {check.dtype} deviation is over every entry"
    )
