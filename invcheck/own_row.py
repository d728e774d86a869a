"""Your own layer's row: a user module checked over the layer kinds it accepts and every transform,
beside the built-in rows, with the built-in norm whose row it matches ("behaves like").

A kind the module cannot run in (a shape it does not accept) is left out with the reason; a module
that keeps running statistics (buffers named running_*) gets an eval-mode row too. Where one mode
runs and the other does not (a tutorial BatchNorm that subtracts [C] statistics from [N, C, H, W]
in eval mode), the row that runs is kept and the failing mode is named with its reason.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from invcheck.errors import UserCodeError
from invcheck.layer_kinds import LAYER_KINDS
from invcheck.placements import get_placement
from invcheck.runner import run_check
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig
from invcheck.transforms import TRANSFORMS, get_transform
from invcheck.user_objects import features


def cells(
    module: str,
    kwargs: dict[str, Any],
    layers: list[str],
    placements: tuple[str, ...],
    base: CheckConfig,
    make_cell: Any,
    failed_modes: dict[str, dict[str, str]] | None = None,
    obj: Any = None,
) -> tuple[list[Any], dict[str, str]]:
    """The module's cells for every layer it accepts (in every placement asked for, as the built-in
    rows beside it), and why the others were left out. A module that runs in none of them (it does
    not import, its class is misspelt) raises its first error: there is no row to show.
    `failed_modes`, where given, gets {layer: {mode: reason}} for a mode that fails where another runs."""
    out, skipped, first = [], {}, None
    for placement in placements:
        for layer in layers:
            if layer in skipped or get_placement(placement).refusal(LAYER_KINDS[layer]) is not None:
                continue
            ran = False
            for mode in _modes(module, kwargs, layer, base, obj):
                label = module if mode == "train" else f"{module} (eval)"
                try:
                    out += [
                        make_cell(
                            layer,
                            label,
                            t,
                            run_check(_check(module, kwargs, layer, t, mode, base, placement, obj)),
                            placement,
                        )
                        for t in _transforms(layer)
                    ]
                except UserCodeError as err:
                    first = first or err
                    if ran and failed_modes is not None:  # the other mode's row stands: say which failed
                        failed_modes.setdefault(layer, {})[mode] = err.reason
                        continue
                    skipped[layer] = err.reason
                    break
                ran = True
    if not out and first is not None:
        raise first
    return out, skipped


def _transforms(layer: str) -> list[str]:
    return [t for t in TRANSFORMS if get_transform(t).undefined_reason(LAYER_KINDS[layer]) is None]


def _check(
    module: str,
    kwargs: dict[str, Any],
    layer: str,
    transform: str,
    mode: str,
    base: CheckConfig,
    placement: str = "summed",
    obj: Any = None,
) -> CheckConfig:
    norm = NormConfig(id="custom", module=module, kwargs=kwargs, mode=mode, obj=obj)
    kind = LAYER_KINDS[layer]
    layout = base.layer.layout if base.layer.layout in kind.layouts else "channels_first"
    size = features(obj.value) if obj is not None and obj.how == "instance" else None
    key = kind.channels_key
    sizes = (
        {key: size}
        if size and placement != "input" and kind.sizes[key].low <= size <= kind.sizes[key].high
        else {}
    )
    return replace(
        base,
        norm=norm,
        transform=TransformConfig(id=transform),
        layer=LayerConfig(layer, layout=layout, placement=placement, **cast(dict[str, Any], sizes)),
    )


def _modes(module: str, kwargs: dict[str, Any], layer: str, base: CheckConfig, held: Any = None) -> list[str]:
    """train, and eval where one instance keeps running statistics."""
    from invcheck.impls import user
    from invcheck.runner import run_user

    check = _check(module, kwargs, layer, "dataset_rescale", "train", base, "summed", held)
    try:  # as a check runs user code: its instance's __del__ runs inside the deadline and guards
        return (
            ["train", "eval"]
            if run_user(check, lambda: _keeps_running_stats(user.probe_instance(check)))
            else ["train"]
        )
    except UserCodeError:
        return ["train"]  # the error is reported by the cells themselves


def _keeps_running_stats(obj: Any) -> bool:
    buffers = [name for name, _ in getattr(obj, "named_buffers", lambda: [])()]
    return any(n.split(".")[-1].startswith("running_") for n in buffers)


def likeness(row: dict[str, str], builtin: dict[str, dict[str, str]]) -> str:
    """'behaves like: layer_norm' (every built-in row equal to this one), or 'like no built-in norm'."""
    same = [norm for norm, verdicts in builtin.items() if verdicts == row]
    return "behaves like: " + ", ".join(same) if same else "like no built-in norm"
