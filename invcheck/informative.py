"""Trials that can show a violation: where a norm's small sets leave its output piecewise constant.

A norm's output over a set of entries is constant in them where the set has one degree of freedom
left after the norm takes out its statistics: an uncentered norm (rms_norm, scale_norm) over a set
with one nonzero entry (a ReLU zeroed the other: (c, 0) -> (sqrt(2), 0) whatever c), a centered one
over a set of two values. A trial whose every set is such moves at no probe step and shows a
violation only where a transform changes which entries are zero; a check of few small sets draws
many such trials (rms_norm after a ReLU, one case, 2 units: about 2 in 3), and a verdict from the
one or two left read `invariant` at 1-3 of 24 seeds where the norm is not. So where fewer than
MIN_INFORMATIVE trials respond, the check runs more trials (at most MAX_TRIALS), and says so; the
trials that do not respond still count (a changed pattern is a violation), but their stillness is no
sign of a coarser precision inside. Built-in data norms only, where zero_sets names their sets
(two-entry centered sets, ±1 always, follow two_entry_sets' rule instead).
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

import torch

from invcheck import two_entry_sets, zero_sets
from invcheck.norms import NORMS
from invcheck.norms.arrays import TORCH
from invcheck.placements import get_placement

if TYPE_CHECKING:
    from invcheck.impls import Draw
    from invcheck.settings import CheckConfig

Tensor = torch.Tensor

# the default number of trials: a check of small sets sees at least as many that can show a violation
MIN_INFORMATIVE = 8
MAX_TRIALS = 256
# sets of more entries almost never leave a trial without a responding set (after a ReLU, a set of
# 9 entries keeps at most one nonzero in 2% of draws): not looked at, so the usual check costs nothing
MAX_SET = 8
# the relative step at which a responding set moves (by about STEP) and a constant one does not (by
# rounding, 1e-16): a response below RESPONDS x its output counts as none
STEP, RESPONDS = 1e-4, 1e-8

_SET_SIZE: dict[tuple[str, str], int] = {}  # (norm, layer) -> entries per statistic set


def constant_trials(check: CheckConfig, d: Draw) -> Tensor | None:
    """Per trial [T] (CPU bool): True where no entry of the norm's output responds to its inputs
    on either side, or every entry is 0/0; None where the rule does not apply (kept with the draw)."""
    if not _applies(check):
        return None
    key = ("constant_trials", repr(check.norm), repr(check.layer))
    if key not in d.cache:
        d.cache[key] = ~_responds(check, d, d.x, d.w) & ~_responds(check, d, d.x2, d.w2) | _all_zero(check, d)
    found: Tensor = d.cache[key]
    return found if bool(found.any()) else None


def enough(check: CheckConfig, d: Draw) -> tuple[CheckConfig, str | None]:
    """The check with enough trials that at least MIN_INFORMATIVE can show a violation (judged on
    `d`, its draw), and a note saying why; the check itself where they already do."""
    constant = constant_trials(check, d)
    if constant is None:
        return check, None
    responding = int((~constant).sum())
    if responding >= MIN_INFORMATIVE:
        return check, None
    trials = min(MAX_TRIALS, math.ceil(check.trials * MIN_INFORMATIVE / max(responding, 1)))
    if trials <= check.trials:
        return check, None
    note = (
        f"only {responding} of {check.trials} trials have a statistic set whose output responds to its inputs "
        f"(sets of {_set_size(check)} entries: with one nonzero entry, or none, an output is constant), "
        f"so {trials} trials ran"
    )
    return check.with_(trials=trials), note


def _applies(check: CheckConfig) -> bool:
    norm = NORMS.get(check.norm.id)
    if norm is None or not zero_sets.applies(check) or two_entry_sets.sets_per_trial(check):
        return False
    return _set_size(check) <= MAX_SET


def _set_size(check: CheckConfig) -> int:
    """Entries per statistic set of the norm in this layer (the largest; huge where it has none)."""
    key = (repr(check.norm), repr(check.layer))
    if key not in _SET_SIZE:
        if len(_SET_SIZE) > 4096:
            _SET_SIZE.clear()
        kind, layer = check.layer.kind_spec, check.layer
        shape = (1, layer.cases, layer.channels, *kind.norm_positions(layer))
        a = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        stats = NORMS[check.norm.id].statistics(a, TORCH, check.norm, kind.per_token_statistics)
        if stats is None:  # no statistics (dyt): no sets
            _SET_SIZE[key] = 1 << 62
        else:
            _, counts = torch.unique(torch.as_tensor(stats[1]).expand(a.shape), return_counts=True)
            _SET_SIZE[key] = int(counts.max())
    return _SET_SIZE[key]


def _seen(check: CheckConfig, d: Draw, x: Tensor, w: Tensor) -> Tensor:
    kind, layer = check.layer.kind_spec, check.layer
    return get_placement(layer.placement).seen(kind, layer, x, w, partial(d.summed, kind)).double()


def _normalized(check: CheckConfig, a: Tensor) -> Tensor:
    norm, kind = NORMS[check.norm.id], check.layer.kind_spec
    stats = norm.statistics(a, TORCH, check.norm, kind.per_token_statistics)
    return torch.as_tensor(norm.normalized(a, stats, 0.0, TORCH))


def _responds(check: CheckConfig, d: Draw, x: Tensor, w: Tensor) -> Tensor:
    """Per trial: whether some finite entry of the norm's output (eps 0) moves when what it sees
    is moved by about STEP (relative, random sizes from a generator of its own)."""
    a = _seen(check, d, x, w)
    # random sizes, not signs alone: two entries moved by the same factor are a rescaling, which a
    # scale-invariant norm does not see; zeros stay zero (a ReLU's do, for small moves of its input)
    factors = torch.randn(a.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0x1F0))
    z0, z1 = _normalized(check, a), _normalized(check, a * (1 + STEP * factors))
    moved = (z1 - z0).abs() > RESPONDS * z0.abs().clamp_min(1.0)
    return (moved & z0.isfinite() & z1.isfinite()).flatten(1).any(1)


def _all_zero(check: CheckConfig, d: Draw) -> Tensor:
    """Per trial: whether every entry's set is 0/0 on one side or the other (a degenerate trial)."""
    zero = zero_sets.mask(check, d, torch.device("cpu"))
    if zero is None:
        return torch.zeros(d.trials, dtype=torch.bool)
    return zero.flatten(1).all(1).cpu()
