"""The Python API for test suites: measure with `invariance_error`, judge with `assert_invariant`.

    import invcheck

    def test_my_norm():
        invcheck.assert_invariant("layer_norm", "dataset_rescale")
        invcheck.assert_not_invariant("layer_norm", "dataset_recenter", dtype="float32")
        # user code, by import path or by class (a module-level class is found by its import path):
        invcheck.assert_invariant("mypkg.norms:MyNorm", "case_rescale", kwargs={"features": "{units}"})
        invcheck.assert_invariant(MyNorm, "case_rescale", "conv", kwargs={"features": "{channels}"})
        result = invcheck.invariance_error(MyNorm, "dataset_recenter", kwargs={...})  # numbers only

Every function takes the arguments of `check()`, or a CheckConfig (say from `invcheck.spec.load_file`)
followed by keyword changes. Options name a field of NormConfig, TransformConfig, LayerConfig or
CheckConfig (`groups=4`, `shift=2.0`, `units=32`, `tf32=True`); values are validated by the same
rules as YAML specs, so a typo gets the same "did you mean" as in a spec.

User code is imported here without `--allow-import`: that flag guards specs read from files, while
a caller of this API is Python code that already chose to run it. Only a class or factory that can
be imported by `module:qualname` can be checked (invcheck builds the layer itself, with `kwargs`);
an instance or a class defined inside a function cannot: move it to module level. Each check of
user code has a deadline, 15 s unless `invcheck.set_timeout(seconds)` says otherwise.

torch is imported on first use, not when `invcheck` is imported. Build configs with
`from invcheck.api import check`: once a check has run, `invcheck.check` is the measuring submodule.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from invcheck import rules
from invcheck.errors import InvarianceError, SpecError
from invcheck.evidence import explain
from invcheck.layer_kinds import LAYER_KINDS
from invcheck.scan import scan  # noqa: F401 (re-exported: api.scan)
from invcheck.scan.param_groups import param_groups  # noqa: F401 (re-exported: api.param_groups)
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig
from invcheck.spec_values import did_you_mean

if TYPE_CHECKING:
    from invcheck.evidence import Result

# A norm: a registry id ("layer_norm"), an import path ("pkg.mod:Name"), or a class / factory.
NormArg = str | type | Callable[..., Any] | None

_SECTIONS: dict[str, type] = {"norm": NormConfig, "transform": TransformConfig, "layer": LayerConfig}
_TOP = {f.name for f in dataclasses.fields(CheckConfig)} - {*_SECTIONS, "file", "line"}
_SIZES = {key for kind in LAYER_KINDS.values() for key in kind.sizes}
# option name -> the section holding it (None: CheckConfig itself). `id` and `kind` are reached
# through the norm/transform/layer arguments, where they are not ambiguous.
_ROUTES: dict[str, str | None] = {
    **{f.name: "norm" for f in dataclasses.fields(NormConfig) if f.name != "id"},
    **{f.name: "transform" for f in dataclasses.fields(TransformConfig) if f.name != "id"},
    **{name: "layer" for name in ("layout", "placement", *_SIZES)},
    **{name: None for name in _TOP},
}
_WHERE = "invcheck.check()"  # how API-built checks are named in error messages


# Building checks ------------------------------------------------------------------------------


def check(
    norm: NormArg = None,
    transform: str = "dataset_rescale",
    layer: str = "dense",
    *,
    dtype: str = "float64",
    device: str = "cpu",
    trials: int = 8,
    seed: int = 0,
    eps: float = 0.0,
    tolerance: float | None = None,
    module: str | type | Callable[..., Any] | None = None,
    impl: str = "reference",
    **options: Any,
) -> CheckConfig:
    """A validated CheckConfig from plain arguments.

    `norm` defaults to "layer_norm", or to the label "custom" when `module` names user code (an
    import path, or a module-level class or factory); a registry id given with `module` labels
    it (`check("layer_norm", "dataset_rescale", module=MyLayerNorm)`): invcheck measures user
    code's rounding noise and eps itself, so it needs no hint about its statistics.
    Raises TypeError for an unknown option and SpecError for a bad value.
    """
    module = None if module is None else import_path(module)
    changes = dict(
        norm=norm,
        transform=transform,
        layer=layer,
        dtype=dtype,
        device=device,
        trials=trials,
        seed=seed,
        eps=eps,
        tolerance=tolerance,
        module=module,
        impl=impl,
        **options,
    )
    return _validated(_apply(CheckConfig(), changes), _given(options))


def _apply(base: CheckConfig, changes: dict[str, Any]) -> CheckConfig:
    """`base` with `changes` routed to the section that owns each name; unknown names: TypeError."""
    unknown = [name for name in changes if name not in _ROUTES and name not in _SECTIONS]
    if unknown:
        hints = "; ".join(f"{name!r}: {did_you_mean(name, [*_ROUTES, *_SECTIONS])}" for name in unknown)
        raise TypeError(f"unknown check option(s) {', '.join(map(repr, unknown))} ({hints})")
    sections: dict[str, dict[str, Any]] = {key: {} for key in _SECTIONS}
    top: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in _SECTIONS:
            (top if _ROUTES[name] is None else sections[_ROUTES[name]])[name] = value
    for name in _SECTIONS.keys() & changes.keys():  # after `module=`, which a norm class sets
        _ids(name, changes[name], changes, sections[name])
    top["norm"] = dataclasses.replace(base.norm, **sections["norm"])
    if isinstance(sections["transform"].get("scale"), list):  # a range, as YAML gives it: [low, high]
        sections["transform"]["scale"] = tuple(sections["transform"]["scale"])
    top["transform"] = dataclasses.replace(base.transform, **sections["transform"])
    top["layer"] = _layer(base.layer, sections["layer"])
    return dataclasses.replace(base, **top)


def _layer(base: LayerConfig, changes: dict[str, Any]) -> LayerConfig:
    """base with changes; a layer that switches kind keeps none of the old kind's sizes."""
    kind = changes.pop("kind", base.kind)
    options = {key: changes.pop(key, getattr(base, key)) for key in ("layout", "placement")}
    if not isinstance(kind, str):
        raise TypeError(f"layer must be a layer kind (one of {', '.join(LAYER_KINDS)}), got {kind!r}")
    return LayerConfig(kind, sizes=base.sizes if kind == base.kind else (), **options, **changes)


def _ids(section: str, value: Any, changes: dict[str, Any], out: dict[str, Any]) -> None:
    """The norm/transform/layer argument: an id (or kind), or for the norm user code."""
    if section == "layer":
        out["kind"] = value
    elif section == "transform":
        out["id"] = value
    elif value is None:
        out["id"] = "custom" if changes.get("module") else "layer_norm"
    elif isinstance(value, str) and ":" not in value:
        out["id"] = value
    else:
        if changes.get("module"):
            raise TypeError("give user code once: as `norm` or as `module`, not both")
        out["id"], out["module"] = "custom", import_path(value)


def import_path(obj: Any) -> str:
    """ "pkg.mod:Name" for an import path (as given) or a module-level class or factory."""
    if isinstance(obj, str):
        return obj
    qualname = getattr(obj, "__qualname__", None) if callable(obj) else None
    if not isinstance(qualname, str):  # an nn.Module instance, say: invcheck builds one per check
        raise TypeError(f"norm {obj!r} is not a class or factory: pass its class (and kwargs=...)")
    path = f"{obj.__module__}:{qualname}"
    if _resolve(obj.__module__, qualname) is not obj:
        raise TypeError(f"{obj!r} cannot be imported as {path!r}: define it at module level")
    return path


def _resolve(module: str, qualname: str) -> Any:
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found


def _given(changes: dict[str, Any]) -> dict[str, set[str]]:
    """The norm's and transform's keys named in a call: as a spec's, refused where they do not
    apply even at their default value (`groups=2` on layer_norm)."""
    return {
        section: {name for name in changes if _ROUTES.get(name) == section}
        for section in ("norm", "transform")
    }


def _validated(c: CheckConfig, given: dict[str, set[str]] | None = None) -> CheckConfig:
    """`c` unchanged, once it passes the rules specs pass (rules.py): one set of rules for both."""
    rules.refuse_wrong_types(c)
    if not isinstance(c.norm.kwargs, dict):
        raise TypeError(f"kwargs must be a dict of argument names to values, got {c.norm.kwargs!r}")
    if c.norm.kwargs and c.norm.module is None:
        raise TypeError("kwargs apply only to user code: give norm='pkg.mod:Name' or module=...")
    found = rules.field_problems(c) or rules.problems(c, given)
    if found:
        p = found[0]
        raise SpecError(p.message, _WHERE, None, p.value, p.hint)
    return c


def _config(args: tuple[Any, ...], changes: dict[str, Any]) -> CheckConfig:
    """A CheckConfig (with keyword changes) or check()'s arguments -> CheckConfig."""
    if args and isinstance(args[0], CheckConfig):
        if len(args) > 1:
            raise TypeError("after a CheckConfig, give changes by keyword (transform='...', dtype='...')")
        return _validated(_apply(args[0], changes) if changes else args[0], _given(changes))
    return check(*args, **changes)


# Measure, then judge ----------------------------------------------------------------------------


def invariance_error(*args: Any, **changes: Any) -> Result:
    """Run one check and return its Result: verdict, deviation, tolerance, bound, where.

    Never raises on the math (a degenerate output is the verdict `undefined`); bad arguments raise
    TypeError or SpecError, user code that cannot run raises UserCodeError.
    """
    from invcheck.runner import run_check  # imports torch

    return run_check(_config(args, changes))


def assert_invariant(*args: Any, **changes: Any) -> Result:
    """Raise InvarianceError (an AssertionError) with the evidence unless the verdict is invariant."""
    return _assert("invariant", args, changes)


def assert_not_invariant(*args: Any, **changes: Any) -> Result:
    """Raise InvarianceError with the evidence unless the verdict is not_invariant.

    `inconclusive` and `undefined` fail both assertions: neither is evidence either way.
    """
    return _assert("not_invariant", args, changes)


def _assert(wanted: str, args: tuple[Any, ...], changes: dict[str, Any]) -> Result:
    if "expect" in changes:  # the assertion's name is its expectation: a second one would be ignored
        raise TypeError(
            f"assert_{wanted}() takes no expect= (it asserts {wanted}); use invariance_error() "
            "and read .verdict, or the other assertion"
        )
    result = invariance_error(*args, **changes)
    if result.verdict != wanted:
        raise InvarianceError(explain(result, wanted), result)
    return result


def set_timeout(seconds: float) -> None:
    """The deadline of each check of user code in this process (default 15 s): one that runs longer
    raises UserCodeError; one that defeats the deadline is stopped at twice it."""
    from invcheck.impls.user_load import set_timeout as set_deadline  # imports torch

    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0.1 <= seconds <= 86400:
        raise SpecError(f"timeout must be a number of seconds in [0.1, 86400], got {seconds!r}", _WHERE)
    set_deadline(float(seconds), "invcheck.set_timeout(seconds)")


def layer_row(
    norm: NormArg,
    kwargs: dict[str, Any] | None = None,
    layers: tuple[str, ...] = ("dense", "conv"),
    **options: Any,
) -> Any:
    """Your layer's row beside the built-in rows: a table.TableReport over `layers` (every kind the
    layer accepts), whose meta says which built-in row each of its rows matches ("behaves_like").

        report = invcheck.api.layer_row(MyNorm, kwargs={"features": "{channels}"}, layers=("dense", "conv"))
        report.meta["behaves_like"]["dense"]     # {"mymod:MyNorm": "behaves like: layer_norm"}
    """
    from invcheck import table

    path = import_path(norm)
    for kind in layers:  # the same rules as a spec's module and kwargs, with each kind's placeholders
        check(module=path, kwargs=kwargs or {}, layer=kind)
    return table.build(list(layers), module=path, kwargs=kwargs or {}, **options)
