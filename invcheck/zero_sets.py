"""Which output entries are 0/0: their statistic's set has zero spread, so with eps off the norm divides 0 by 0.

A ReLU before the norm zeroes whole sets (a conv's per-position norm over few channels, an instance
norm over few tokens); zero padding and groups of one entry do too. Such an entry has no normalized
value, but the entries beside it do: they count, the 0/0 entries are left out. One rule for every
implementation (reference, PyTorch's layers, user code that names a built-in norm), decided from
what the norm sees, computed here the way every implementation's layer computes it (`kind.summed`):
an entry is 0/0 when its set has zero spread in float64 (the exact math) or in the checked dtype
(whose rounding can zero a set that float64 does not: that NaN is no overflow), on either side.
Trials whose every entry is 0/0 are degenerate (measure.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

import torch

from invcheck.norms import NORMS
from invcheck.placements import get_placement
from invcheck.runtime import DTYPES

if TYPE_CHECKING:
    from invcheck.impls import Draw
    from invcheck.settings import CheckConfig

Tensor = torch.Tensor


def applies(check: CheckConfig) -> bool:
    """Whether entries can be told apart: a built-in data norm in train mode (statistics of the
    batch), whose output is the norm's own (not the input placement's norm(X) W^T, where one 0/0
    set reaches every output of its case)."""
    norm = NORMS.get(check.norm.id)
    return (
        norm is not None
        and norm.acts_on == "data"
        and check.norm.mode == "train"
        and check.layer.placement != "input"
        and check.tolerance is None
        # a recurrent layer's summed inputs depend on its norm (no seen without running it):
        # its trials follow the output rule (measure._degenerate)
        and not check.layer.kind_spec.activation_inside
    )


def user_rule(check: CheckConfig) -> bool:
    """Whether user code's 0/0 entries are told apart: read from its outputs (NaN with eps off,
    finite with eps), where the output is the norm's own."""
    return (
        check.norm.module is not None
        and check.layer.placement != "input"
        and check.tolerance is None
        and not check.layer.kind_spec.activation_inside
    )


def input_rule(check: CheckConfig) -> bool:
    """A built-in data norm on the layer's input: one 0/0 set reaches several outputs through W, so
    its entries are read from the outputs (not finite where X has a set of zero spread)."""
    return _built_in_batch_statistics(check) and check.layer.placement == "input"


def inside_rule(check: CheckConfig) -> bool:
    """A built-in data norm inside a recurrent layer (train mode): its summed inputs depend on its
    own earlier outputs, so its sets cannot be named before it runs; a set that the run's dtype
    rounds to one value (bfloat16: two cases' summed inputs) is 0/0 with eps 0, and the NaN reaches
    every later step: such trials are told apart by running them again with a tiny eps (measure.py)."""
    return _built_in_batch_statistics(check) and check.layer.kind_spec.activation_inside


def _built_in_batch_statistics(check: CheckConfig) -> bool:
    """A built-in data norm (no user code) in train mode, judged by invcheck's own tolerance."""
    norm = NORMS.get(check.norm.id)
    return (
        check.norm.module is None
        and norm is not None
        and norm.acts_on == "data"
        and check.norm.mode == "train"
        and check.tolerance is None
    )


def _inside_key(check: CheckConfig) -> tuple[str, ...]:
    return ("zero_inside", repr(check.norm), repr(check.layer), check.dtype)


def note_inside(check: CheckConfig, d: Draw, trials: Tensor) -> None:
    """Remember trials [T] (CPU bool) that a run of the check found 0/0 inside (inside_rule)."""
    key = _inside_key(check)
    d.cache[key] = trials if key not in d.cache else d.cache[key] | trials


def zero_inside(check: CheckConfig, d: Draw) -> list[bool]:
    """Per trial: whether a run of the check found a set of zero spread inside (note_inside)."""
    found = d.cache.get(_inside_key(check))
    return [False] * d.trials if found is None else found.tolist()


def trials_with_zero_set(check: CheckConfig, inputs: Iterable[tuple[Tensor, Tensor]], trials: int) -> Tensor:
    """Per trial [T]: whether what the norm sees has a set of zero spread at any of `inputs`
    ([k T, ...] each, in their dtype)."""
    found = torch.zeros(trials, dtype=torch.bool)
    for x, w in inputs:
        zero = _zero_spread(check, x, w).flatten(1).any(1).cpu()
        found |= zero.reshape(-1, trials).any(0)
    return found


def mask(check: CheckConfig, d: Draw, device: torch.device) -> Tensor | None:
    """Per entry of the output [T, N, C, *positions], on `device`: True where the set is 0/0 in
    float64 or in the checked dtype, on either side; None where nothing is 0/0 (or the rule does
    not apply). Kept with the draw: every run of the check leaves out the same entries."""
    user = user_rule(check)
    if not applies(check) and not user:
        return None
    # a draw is shared by the checks of a table (every norm of a layer): the key says whose sets
    key = ("zero_sets", str(device), repr(check.norm), repr(check.layer), check.dtype)
    if key not in d.cache:
        found = _user_zero_sets(check, d, device) if user else None
        for dtype in dict.fromkeys((torch.float64, DTYPES[check.dtype])) if not user else ():
            for x, w in ((d.x, d.w), (d.x2, d.w2)):
                zero = _zero_spread(check, x.to(device, dtype), w.to(device, dtype), d)
                found = zero if found is None else found | zero
        d.cache[key] = found if found is not None and bool(found.any()) else None
    return d.cache[key]


def at_points(
    check: CheckConfig, inputs: Iterable[tuple[Tensor, Tensor]], trials: int, d: Draw | None = None
) -> Tensor | None:
    """Where a set is 0/0 at any of a probe's inputs ([k T, ...] each, in the run's dtype):
    [T, N, C, *pos]. A dither of several units of a coarse dtype (bfloat16's 3%) zeroes sets the
    drawn inputs do not: a rounding remainder there is no noise of the layer. With the draw `d`, the
    summed inputs of inputs it keeps (its stacked copies) are computed once for this and the run."""
    if not applies(check):
        return None
    found = None
    for x, w in inputs:
        zero = _zero_spread(check, x, w, d)
        zero = zero.reshape(-1, trials, *zero.shape[1:]).any(0)
        found = zero if found is None else found | zero
    return found


def _user_zero_sets(check: CheckConfig, d: Draw, device: torch.device) -> Tensor | None:
    """_from_outputs, where the layer runs in float64 at all: one that refuses it (float32 only) has
    no float64 run to read 0/0 from; its checks say so where they need that run."""
    from invcheck.errors import UserCodeError

    try:
        return _from_outputs(check, d, device)
    except UserCodeError:
        return None


def _from_outputs(check: CheckConfig, d: Draw, device: torch.device) -> Tensor | None:
    """User code, whose sets invcheck cannot name: the entries its float64 run with eps off
    returns as NaN or inf on either side (the definition's 0/0), where with its eps they are
    finite (else the layer itself returns NaN: no 0/0 to leave out). With no eps to switch off,
    every entry that is not finite (0/0, or the layer's own NaN: the report says which it may be)."""
    from invcheck.impls import build_forward

    def bad(eps_off: bool) -> Tensor:
        fwd = build_forward(check, d, torch.float64, device, eps_off=eps_off, eps_dtype=DTYPES[check.dtype])
        ys = [
            fwd(x.to(device, torch.float64), w.to(device, torch.float64))
            for x, w in ((d.x, d.w), (d.x2, d.w2))
        ]
        return ~torch.isfinite(ys[0].double()) | ~torch.isfinite(ys[1].double())

    with_eps = bad(False)
    probe = build_forward(check, d, torch.float64, device, eps_dtype=DTYPES[check.dtype]).eps_info
    if probe.value and probe.switchable:
        return bad(True) & ~with_eps
    return with_eps


def _zero_spread(check: CheckConfig, x: Tensor, w: Tensor, d: Draw | None = None) -> Tensor:
    """Where what the norm sees for X, W (in their dtype) has a set of zero spread: [T, N, C, *pos]."""
    kind, layer = check.layer.kind_spec, check.layer
    norm = NORMS[check.norm.id]
    summed = None if d is None else partial(d.summed, kind)
    a = get_placement(layer.placement).seen(kind, layer, x, w, summed).double()
    from invcheck.norms.arrays import TORCH

    stats = norm.statistics(a, TORCH, check.norm, kind.per_token_statistics)
    if stats is None:  # no statistics (dyt): no set to be 0/0
        return torch.zeros(a.shape, dtype=torch.bool, device=a.device)
    return (torch.as_tensor(stats[1]) == 0).expand(a.shape)


def left_out(zero: Tensor | None, trials: int) -> list[int]:
    """Per trial, how many entries are 0/0."""
    if zero is None:
        return [0] * trials
    return zero.flatten(1).sum(1).tolist()
