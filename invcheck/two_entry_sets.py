"""Norms whose statistic sets have two entries: a centered norm's output is then ±1 per set (and
sets of one entry of a norm that only scales, as rms_norm: its output is the entry's sign; a weight
norm's sets are each unit's incoming weights).

With two entries a1, a2 a centered norm outputs ±(a1 - a2)/|a1 - a2| = ±1 (times g, plus b): the
output is piecewise constant in its inputs, and a transform shows a violation only where it swaps
the order of a set's two entries. A check of few such sets (layer_norm over 2 units, one case, two
trials: 2 sets) often draws no swap and reads invariant, a verdict that flips with the seed. So a
check compares at least MIN_SETS sets: where its trials hold fewer, it runs more trials, and says so.
And such an output moves at no probe step but jumps: it is no sign of a coarser precision inside.
Built-in norms only (user code's sets have no name); imported where the check is measured (torch).
"""

from __future__ import annotations

import math

import torch

from invcheck.norms import NORMS
from invcheck.norms.arrays import TORCH
from invcheck.settings import CheckConfig

# because a swap shows in a few percent of the sets for the weakest transforms measured (a recurrent
# batch_norm over 2 cases under dataset_rescale: 24 sets read invariant, 96 not_invariant): 256 sets
# leave a miss below 1e-3 there, and far below for the rest.
MIN_SETS = 256


_SEEN: dict[tuple[str, str], int | None] = {}  # (norm, layer) -> sets_per_trial: asked at every probe


def sets_per_trial(check: CheckConfig) -> int | None:
    """How many statistic sets one trial's norm call has, where each has two entries and the norm
    centers (its output is ±1 per set); None elsewhere."""
    norm = NORMS.get(check.norm.id)
    if (
        check.norm.module is not None
        or norm is None
        or norm.acts_on not in ("data", "weights")
        or check.norm.mode != "train"
    ):
        return None
    key = (repr(check.norm), repr(check.layer))
    if key not in _SEEN:
        if len(_SEEN) > 4096:
            _SEEN.clear()
        _SEEN[key] = _two_entry_sets(check)
    return _SEEN[key]


def _two_entry_sets(check: CheckConfig) -> int | None:
    norm = NORMS[check.norm.id]
    kind, layer = check.layer.kind_spec, check.layer
    # what the norm sees: a trial's summed inputs, or its weights (a unit's set: its fan-in)
    if norm.acts_on == "weights":
        shape: tuple[int, ...] = tuple(kind.weight_shape(layer))
    else:
        shape = (layer.cases, layer.channels, *kind.norm_positions(layer))
    a = torch.randn(1, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    stats = norm.statistics(a, TORCH, check.norm, kind.per_token_statistics)
    if stats is None:
        return None
    mean, var = (torch.as_tensor(s) for s in stats)
    sets = torch.unique(var).numel()  # a norm may give its statistics expanded (group_norm per channel)
    centered = bool((mean != 0).any())
    # ±1 per set: a centered norm over two entries, or one that only scales (rms_norm) over one
    if a.numel() != (2 if centered else 1) * sets:
        return None
    return sets


def enough(check: CheckConfig) -> tuple[CheckConfig, str | None]:
    """The check with enough trials to compare MIN_SETS two-entry sets, and a note saying why; the
    check itself where its sets are not two-entry or already enough."""
    sets = sets_per_trial(check)
    if sets is None or sets * check.trials >= MIN_SETS:
        return check, None
    trials = math.ceil(MIN_SETS / sets)
    note = (
        f"its statistic sets have 2 entries, so its output is ±1 per set (piecewise constant: a violation "
        f"shows only where a transform swaps a set's order); {check.trials} trials hold {sets * check.trials} "
        f"sets, so {trials} trials ran, {MIN_SETS} sets at least"
    )
    return check.with_(trials=trials), note
