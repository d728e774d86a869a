"""Scan a whole model: which of its parameter tensors the output is invariant to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invcheck.scan.report import TRANSFORMS, GroupVerdict, ParamVerdict, ScanReport

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["TRANSFORMS", "GroupVerdict", "ParamVerdict", "ScanReport", "scan"]


def scan(
    model: Any,
    inputs: Any = None,
    *,
    mode: str = "eval",
    input_shape: Sequence[int] | None = None,
    output: str | None = None,
    seed: int = 0,
    trials: int = 2,
    transforms: Sequence[str] = TRANSFORMS,
    dtype: Any = None,
    name: str | None = None,
    max_memory: int | None = 4 << 30,
    progress: bool = False,
) -> ScanReport:
    """Scan every parameter tensor of `model` (an nn.Module, never modified: a float64 copy is
    scanned) on `inputs` (a tensor, a tuple of positional tensors or a dict of keyword tensors;
    else drawn from `input_shape`) under each transform; see invcheck.scan.engine.

    mode: "eval", or "train" (batch statistics, running statistics untouched, no dropout);
    output: the output field to check (default: the tensor; logits, else last_hidden_state, else
    the first tensor); trials: trials at the model's values for what looks invariant (the second
    on the other side of 1); dtype: the scan's arithmetic (default float64); name: the report's;
    max_memory: bytes the scan may need by its estimate (invcheck.scan.memory; default 4 GiB, None:
    no bound), refused before the model is copied; progress: a bar on stderr where it is a terminal.
    A model with no floating parameter gives an empty report and a UserWarning."""
    from invcheck.scan.engine import scan as _scan

    trials, seed = _checked("trials", trials), _checked("seed", seed)
    return _scan(
        model,
        inputs,
        mode=mode,
        input_shape=input_shape,
        output=output,
        seed=seed,
        trials=trials,
        transforms=transforms,
        dtype=dtype,
        name=name,
        max_memory=max_memory,
        progress=progress,
    )


def _checked(key: str, value: Any) -> int:
    """`value` held to the bounds a spec's and the rest of the API's `key` is (rules.py): one rule."""
    from invcheck.errors import SpecError
    from invcheck.rules import CHECK_FIELDS
    from invcheck.spec_values import Bad

    try:
        return int(CHECK_FIELDS[key](value, key))
    except Bad as bad:
        raise SpecError(str(bad), "scan()", None, value, bad.hint) from None
