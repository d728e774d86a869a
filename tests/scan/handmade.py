"""Hand-built scan reports for tests of what renders and compares them (no engine needed)."""

from __future__ import annotations

import math

from invcheck.scan.report import TRANSFORMS, GroupVerdict, ParamVerdict, ScanReport

VIA = "bn (BatchNorm1d, batch statistics)"


def verdict(
    name: str,
    shape: tuple[int, ...],
    transform: str,
    verdict: str,
    *,
    module: str = "",
    module_type: str = "",
    only_here: bool = False,
    via: str | None = None,
) -> ParamVerdict:
    invariant = verdict == "invariant"
    return ParamVerdict(
        name=name,
        shape=shape,
        transform=transform,
        verdict=verdict,
        deviation=1e-16 if invariant else (math.nan if verdict == "undefined" else 0.3),
        tolerance=1e-12,
        why="hand-built",
        via=via if via is not None else (VIA if invariant else None),
        at_these_values_only=only_here,
        module=module,
        module_type=module_type,
    )


def report(rows: dict[str, tuple[tuple[int, ...], str, str, tuple[str, str, str]]], **kw) -> ScanReport:
    """rows: name -> (shape, module, module_type, verdicts in TRANSFORMS order)."""
    params = [
        verdict(name, shape, t, v, module=module, module_type=kind)
        for name, (shape, module, kind, verdicts) in rows.items()
        for t, v in zip(TRANSFORMS, verdicts)
    ]
    groups = kw.pop("groups", ())
    return ScanReport(
        model=kw.pop("model", "tiny"),
        mode=kw.pop("mode", "train"),
        parameters=tuple(params),
        groups=tuple(groups),
    )


def group(
    names: tuple[str, ...], transform: str = "weight_matrix_rescale", verdict: str = "invariant"
) -> GroupVerdict:
    return GroupVerdict(names, transform, verdict, 1e-16, 1e-12, "hand-built", "ln (LayerNorm)")
