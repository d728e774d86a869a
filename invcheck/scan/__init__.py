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
) -> ScanReport:
    """Scan every parameter tensor of `model` under each transform (see invcheck.scan.engine)."""
    from invcheck.scan.engine import scan as _scan

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
    )
