"""Optimizer-ready parameter groups from a scan: the scale-invariant tensors, and the rest.

    groups = invcheck.api.param_groups(model, inputs, weight_decay=0.05)
    optimizer = torch.optim.AdamW(groups, lr=1e-3)

A scale-invariant tensor (the model's output unchanged when the tensor is multiplied by any δ > 0)
has a gradient orthogonal to it that shrinks as 1/‖w‖: weight decay on it does not regularize, it
only shrinks ‖w‖ and so raises its effective learning rate η/‖w‖². Give that group
`weight_decay=0.0` (the default here) to leave its norm to the gradient steps alone, or a decay of
its own to use decay as the learning-rate control it is (`invariant_weight_decay=...`). The rest get
`weight_decay`. Groups carry a `name` key (optimizers keep unknown keys; handy for logging) and no
other option, so an optimizer's own defaults (lr, betas) apply.
"""

from __future__ import annotations

from typing import Any

from invcheck.scan.heuristics import exact_scale_invariant
from invcheck.scan.report import ScanReport

SCALE_INVARIANT = "scale_invariant"
REST = "rest"


def split(model: Any, report: ScanReport) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """(scale-invariant, rest) as (name, parameter) pairs in the model's order. Scale-invariant:
    `weight_matrix_rescale` invariant at generic values, alone or jointly (every tensor of a joint
    group that is: one decay coefficient on all of them rescales them together, which leaves the
    output as it is); a tensor with an inconclusive or undefined verdict, or invariant at these
    values only, is in the rest. Frozen tensors are left out."""
    jointly = {
        name
        for g in report.groups
        if g.transform == "weight_matrix_rescale" and g.verdict == "invariant" and not g.at_these_values_only
        for name in g.names
    }
    invariant: list[tuple[str, Any]] = []
    rest: list[tuple[str, Any]] = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (invariant if name in jointly or exact_scale_invariant(report, name) else rest).append((name, p))
    return invariant, rest


def groups_from_report(
    model: Any,
    report: ScanReport,
    *,
    weight_decay: float = 0.01,
    invariant_weight_decay: float = 0.0,
) -> list[dict[str, Any]]:
    """The two groups (an empty one left out) for `model` as `report` scanned it."""
    invariant, rest = split(model, report)
    groups = [
        {
            "params": [p for _, p in invariant],
            "weight_decay": invariant_weight_decay,
            "name": SCALE_INVARIANT,
        },
        {"params": [p for _, p in rest], "weight_decay": weight_decay, "name": REST},
    ]
    return [g for g in groups if g["params"]]


def param_groups(
    model: Any,
    inputs: Any = None,
    *,
    weight_decay: float = 0.01,
    invariant_weight_decay: float = 0.0,
    mode: str = "train",
    **scan_kwargs: Any,
) -> list[dict[str, Any]]:
    """Scan `model` (in `mode`: "train" by default, as the optimizer will see it) and return
    optimizer-ready groups: [{"params": [...scale-invariant...], "weight_decay":
    invariant_weight_decay, "name": "scale_invariant"}, {"params": [...the rest...],
    "weight_decay": weight_decay, "name": "rest"}]. `scan_kwargs` go to `invcheck.scan.scan`
    (input_shape, output, seed, ...). Only the scale-invariant group changes what decay means."""
    from invcheck.scan import scan

    report = scan(model, inputs, mode=mode, **scan_kwargs)
    return groups_from_report(
        model, report, weight_decay=weight_decay, invariant_weight_decay=invariant_weight_decay
    )
