"""The Python API for test suites: measure with `invariance_error`, judge with `assert_invariant`.

    import invcheck

    def test_my_norm():
        invcheck.assert_invariant("layer_norm", "dataset_rescale")
        invcheck.assert_not_invariant("layer_norm", "dataset_recenter", dtype="float32")
        # what you hold: a module instance, any callable a -> y, a class (built with kwargs)
        invcheck.assert_invariant(nn.LayerNorm(16, eps=0.0), "case_rescale")
        invcheck.assert_invariant(lambda a: a / a.norm(dim=1, keepdim=True), "dataset_rescale")
        invcheck.assert_invariant(MyNorm, "case_rescale", "conv", kwargs={"features": "{channels}"})
        invcheck.assert_invariant("mypkg.norms:MyNorm", "case_rescale", kwargs={"features": "{units}"})
        # a transform of your own: (X, W, generator) -> (X', W')
        invcheck.assert_invariant("layer_norm", lambda x, w, gen: (2.5 * x, w))
        result = invcheck.invariance_error(MyNorm, "dataset_recenter", kwargs={...})  # numbers only

Every function takes the arguments of `check()`, or a CheckConfig (say from `invcheck.spec.load_file`)
followed by keyword changes. `norm` (or `module=`) and `transform` are required: a measurement of
what the caller never named is no test. Options name a field of NormConfig, TransformConfig, LayerConfig or
CheckConfig (`groups=4`, `shift=2.0`, `units=32`, `tf32=True`); values are validated by the same
rules as YAML specs, so a typo gets the same "did you mean" as in a spec.

A module instance is used as it is (its parameters, its eps, its train/eval mode), deep-copied for
every trial: the instance you pass is never modified. A callable that takes no argument, or one
given with `kwargs`, is a factory that builds the norm; any other callable is the norm itself.
User code is imported here without `--allow-import`: that flag guards specs read from files, while
a caller of this API is Python code that already chose to run it. Each check of user code has a
deadline, 15 s unless `invcheck.set_timeout(seconds)` says otherwise.

torch is imported on first use, not when `invcheck` is imported. Build configs with
`from invcheck.api import check`: once a check has run, `invcheck.check` is the measuring submodule.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from invcheck import rules, timeouts
from invcheck.errors import InvarianceError, InvcheckError, SpecError
from invcheck.evidence import explain
from invcheck.layer_kinds import LAYER_KINDS
from invcheck.scan import scan  # noqa: F401 (re-exported: api.scan)
from invcheck.scan.param_groups import param_groups  # noqa: F401 (re-exported: api.param_groups)
from invcheck.settings import OPTIONS, CheckConfig, LayerConfig, NormConfig, TransformConfig, check_config
from invcheck.spec_values import did_you_mean, schema_of
from invcheck.user_objects import UserObject, features, norm_object, transform_object

if TYPE_CHECKING:
    import torch

    from invcheck.evidence import Result

# A norm: a registry id ("layer_norm"), an import path ("pkg.mod:Name"), a class or factory, a
# module instance, or a callable a -> y.
NormArg = str | type | Callable[..., Any] | Any
# A transform: a registry id, an import path, or a callable (X, W, generator) -> (X', W').
TransformArg = str | Callable[..., Any]


class _Default:
    """The norm not given: layer_norm (or user code's label beside module=). Not None: a None norm
    (a test's class variable left unset) is a TypeError, never a silent layer_norm."""

    def __repr__(self) -> str:
        return "<layer_norm>"


DEFAULT_NORM: Any = _Default()

_SECTIONS = ("norm", "transform", "layer")
# Options a call may name (settings.OPTIONS says where each goes), in the order a "did you mean" lists
# them: user code's object comes through `norm=`, not as an option.
_OPTIONS = [
    *(name for name, section in OPTIONS.items() if section is not None and name != "obj"),
    *dict.fromkeys(key for kind in LAYER_KINDS.values() for key in kind.sizes),
    *(name for name, section in OPTIONS.items() if section is None and name not in ("file", "line")),
]
# How API-built checks are named in error messages: the public function the user called.
_CALLER: ContextVar[str] = ContextVar("invcheck_api_caller", default="invcheck.api.check")
# Where invcheck refuses arguments with a TypeError on purpose (elsewhere a TypeError is a bug,
# whose frames are worth seeing).
_ARGUMENT_CHECKS = {Path(__file__).with_name(name) for name in ("api.py", "rules.py", "user_objects.py")}
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _public(name: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """A public entry point: errors name it ("invcheck.assert_invariant(): ..."), and what invcheck
    raises about the call (TypeError, SpecError, UserCodeError) comes out of it with invcheck's frames
    cut, so that pytest shows the user's line and the one-line message, as for InvarianceError."""

    def wrap(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(fn)
        def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            __tracebackhide__ = True
            token = _CALLER.set(name)
            try:
                return fn(*args, **kwargs)
            except (InvcheckError, TypeError) as err:
                if not _about_the_call(err):
                    raise
                err.__suppress_context__ = True
                raise err.with_traceback(None) from None
            finally:
                _CALLER.reset(token)

        return call

    return wrap


def _about_the_call(err: BaseException) -> bool:
    if isinstance(err, InvcheckError):
        return True
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and Path(frames[-1].filename) in _ARGUMENT_CHECKS


def _where() -> str:
    return f"{_CALLER.get()}()"


# Building checks ------------------------------------------------------------------------------


def check(
    norm: NormArg = DEFAULT_NORM,
    transform: TransformArg = "dataset_rescale",
    layer: str = "dense",
    *,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device = "cpu",
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
    import path, a class or factory, an instance, a callable); a registry id given with `module`
    labels it (`check("layer_norm", "dataset_rescale", module=MyLayerNorm)`): invcheck measures user
    code's rounding noise and eps itself, so it needs no hint about its statistics.
    Raises TypeError for an unknown option or a None norm, transform or layer, and SpecError for a
    bad value.
    """
    if module is not None:  # as if given as the norm, keeping a registry id as its label
        label = norm
        norm, module = module, None
        if label is not DEFAULT_NORM and not (isinstance(label, str) and ":" not in label):
            raise TypeError("give user code once: as `norm` or as `module`, not both")
        options["_label"] = label
    if isinstance(transform, Mapping):  # as a spec writes it: {"id": "dataset_rescale", "negative": True}
        transform, options["_transform"] = _unfolded(transform, options)
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
        impl=impl,
        **options,
    )
    return _validated(_apply(CheckConfig(), changes), _given(options))


def _apply(base: CheckConfig, changes: dict[str, Any]) -> CheckConfig:
    """`base` with `changes`, built by settings.check_config; unknown names: TypeError."""
    label = changes.pop("_label", DEFAULT_NORM)
    unfolded = changes.pop("_transform", None)  # what a transform mapping set on its config (_unfolded)
    options = {name: _named(name, value) for name, value in changes.items()}
    unknown = [name for name in options if name not in _OPTIONS and name not in _SECTIONS]
    if unknown:
        hints = "; ".join(f"{name!r}: {did_you_mean(name, [*_OPTIONS, *_SECTIONS])}" for name in unknown)
        raise TypeError(f"unknown check option(s) {', '.join(map(repr, unknown))} ({hints})")
    given = {key: options.pop(key) for key in _SECTIONS if key in options}
    for key, value in given.items():
        if value is None:  # a test's variable left unset: never a silent default
            raise TypeError(f"{key} is None: {_WANTED[key]}")
    norm = _norm(base.norm, given["norm"], options, label) if "norm" in given else base.norm
    transform = _transform(base.transform, given["transform"]) if "transform" in given else base.transform
    transform = replace(transform, **unfolded) if unfolded else transform
    layer = _layer(base.layer, given.get("layer", base.layer.kind))
    if "norm" in given and isinstance(norm.obj, UserObject) and norm.obj.how == "instance":
        _as_instance(norm.obj.value, options, layer)
    if isinstance(options.get("scale"), list):  # a range, as YAML gives it: [low, high]
        options["scale"] = tuple(options["scale"])
    kept = {name: getattr(base, name) for name, section in OPTIONS.items() if section is None}
    return check_config(norm, transform, layer, **{**kept, **options})


def _named(name: str, value: Any) -> Any:
    """A torch.dtype or torch.device given as `dtype`/`device`, as its name (torch.float32 ->
    "float32", torch.device("cuda", 0) -> "cuda:0"): the rules then judge it as a spec's string.
    Recognised by type, so that importing invcheck still imports no torch."""
    kind = type(value)
    if name in ("dtype", "device") and kind.__module__ == "torch" and kind.__name__ == name:
        return str(value).removeprefix("torch.")
    return value


def _layer(base: LayerConfig, kind: Any) -> LayerConfig:
    """The layer of kind `kind`: `base` where it is that kind, else a fresh one (a layer that switches
    kind keeps none of the old kind's sizes)."""
    if not isinstance(kind, str):
        raise TypeError(f"layer must be a layer kind (one of {', '.join(LAYER_KINDS)}), got {kind!r}")
    return base if kind == base.kind else LayerConfig(kind, layout=base.layout, placement=base.placement)


def _norm(base: NormConfig, value: Any, options: dict[str, Any], label: Any) -> NormConfig:
    """The norm argument: an id, or user code (labelled `label` where check() was given one)."""
    if value is DEFAULT_NORM:
        return replace(base, id="layer_norm")
    if isinstance(value, str) and ":" not in value:
        return replace(base, id=value)
    if options.get("module"):
        raise TypeError("give user code once: as `norm` or as `module`, not both")
    if isinstance(value, str):
        module, obj = value, None
    else:
        module, obj = norm_object(value, kwargs=bool(options.get("kwargs")))
    # check("layer_norm", module=...): the id labels user code
    return replace(base, id="custom" if label is DEFAULT_NORM else label, module=module, obj=obj)


_WANTED = {
    "norm": "give a norm id ('layer_norm'), an import path ('pkg.mod:Name'), a class, a module "
    "instance or a callable a -> y",
    "transform": "give a transform id ('dataset_rescale'), an import path ('pkg.mod:fn') or a "
    "callable (X, W, generator) -> (X', W')",
    "layer": "give a layer kind (" + ", ".join(LAYER_KINDS) + ")",
}


def _transform(base: TransformConfig, value: Any) -> TransformConfig:
    """A transform id, or the user's own: its label, where it is (module), the object itself."""
    if isinstance(value, str) and ":" not in value:
        return replace(base, id=value, module=None, kwargs={}, obj=None)
    if isinstance(value, str):
        return replace(base, id=value, module=value, obj=None)
    label, module, obj = transform_object(value)
    return replace(base, id=label, module=module, obj=obj)


def _unfolded(value: Mapping[Any, Any], options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A transform given as a mapping, as a spec writes it: its id (or module, labelled by its id),
    its options added to the call's `options` (so that check_config routes them and the rules see
    them named), and what goes on its config itself (a module transform's kwargs and label). The
    keys a spec's transform takes, and no others."""
    rest = dict(value)
    name, module = rest.pop("id", None), rest.pop("module", None)
    if name is None and module is None:
        raise TypeError(
            f"transform {value!r:.80} names neither an id nor a module: add 'id' (say 'dataset_rescale')"
        )
    extra: dict[str, Any] = {}
    if "kwargs" in rest:
        if module is None:
            raise TypeError("transform kwargs apply only to a 'module' transform")
        extra["kwargs"] = rest.pop("kwargs")
    if module is not None and name is not None:
        extra["id"] = name
    for key, item in rest.items():
        if OPTIONS.get(key) != "transform" or key in ("module", "kwargs"):
            keys = [k for k, section in OPTIONS.items() if section == "transform"]
            raise TypeError(
                f"transform {key!r} is not a transform key ({did_you_mean(str(key), ['id', 'module', 'kwargs', *keys])})"
            )
        if key in options:
            raise TypeError(f"transform {key!r} given twice: in the transform mapping and as {key}=")
        options[key] = item
    return (module if module is not None else name), extra


def _as_instance(instance: Any, options: dict[str, Any], layer: LayerConfig) -> None:
    """A module instance used as it is: its own train/eval mode, and the layer's normalized units
    its own size (nn.LayerNorm(64): a layer of 64 units), unless the call says otherwise."""
    options.setdefault("mode", "train" if getattr(instance, "training", True) else "eval")
    size = features(instance)
    kind = LAYER_KINDS.get(layer.kind)
    if size is None or kind is None or options.get("placement", layer.placement) == "input":
        return
    key = kind.channels_key
    given = key in options or key in dict(layer.sizes)
    if not given and kind.sizes[key].low <= size <= kind.sizes[key].high:
        options[key] = size


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
        section: {name for name in changes if OPTIONS.get(name) == section}
        for section in ("norm", "transform")
    }


def _validated(c: CheckConfig, given: dict[str, set[str]] | None = None) -> CheckConfig:
    """`c` once it passes the rules specs pass (rules.py): one set of rules for both."""
    rules.refuse_wrong_types(c)
    if not isinstance(c.norm.kwargs, dict):
        raise TypeError(f"kwargs must be a dict of argument names to values, got {c.norm.kwargs!r}")
    if c.norm.kwargs and c.norm.module is None:
        raise TypeError("kwargs apply only to user code: give norm='pkg.mod:Name' or module=...")
    fields = rules.field_problems(c)
    for p in fields:  # a value no spelling of the field could be (dtype=3): the caller's type error
        wanted = _wanted_type(c, p)
        if wanted is not None:
            raise TypeError(f"{p.key} must be {wanted}, got {type(p.value).__name__} {p.value!r:.60}")
    found = fields or rules.problems(c, given)
    if found:
        p = found[0]
        raise SpecError(p.message, _where(), None, p.value, p.hint)
    return _whole_numbers(c)


# What each JSON-Schema type of a field admits in Python (an integral float is an integer, as in a spec)
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int, float),
    "number": (int, float),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (dict,),
    "array": (list, tuple),
}
_TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "string": "text",
    "boolean": "True or False",
    "object": "a dict",
    "array": "a [low, high] pair",
}
_TORCH_TYPES = {"dtype": " or a torch.dtype", "device": " or a torch.device"}


def _wanted_type(c: CheckConfig, p: rules.Problem) -> str | None:
    """What field `p.key` takes, where `p.value` is of a type its schema admits nowhere; else None
    (a value of the right type the rules refuse is the spec's SpecError: unknown name, out of range)."""
    if p.section == "layer":
        parser = rules.layer_fields(c.layer.kind).get(p.key)
    else:
        module = {"norm": c.norm.module, "transform": c.transform.module}.get(p.section or "")
        parser = {
            "norm": rules.MODULE_NORM_FIELDS if module is not None else rules.NORM_FIELDS,
            "transform": rules.MODULE_TRANSFORM_FIELDS if module is not None else rules.TRANSFORM_FIELDS,
        }.get(p.section or "", rules.CHECK_FIELDS).get(p.key)
    if parser is None:
        return None
    kinds: list[str] = []
    words: list[str] = []

    def read(schema: dict[str, Any]) -> None:
        for alternative in schema.get("anyOf", ()):
            read(alternative)
        if "enum" in schema:
            kinds.append("string")
            words.append("one of " + ", ".join(map(str, schema["enum"])))
        elif schema.get("type") in _PYTHON_TYPES:
            kinds.append(schema["type"])
            words.append(_TYPE_WORDS.get(schema["type"], schema["type"]))

    read(schema_of(parser))
    admitted = tuple(t for kind in kinds for t in _PYTHON_TYPES[kind])
    if not kinds or (
        isinstance(p.value, admitted) and not (isinstance(p.value, bool) and "boolean" not in kinds)
    ):
        return None
    named = [w for w in dict.fromkeys(words) if w != "null"]
    shown = [w for w in named if w != "text" or len(named) == 1]  # a number's text is YAML's spelling
    return " or ".join(shown) + _TORCH_TYPES.get(p.key, "") + (" (or None)" if "null" in kinds else "")


def _whole_numbers(c: CheckConfig) -> CheckConfig:
    """`trials=8.0` passed the rules as the integer 8 (as in a spec): given to torch as 8, not 8.0,
    which torch's samplers and generators refuse."""

    def whole(v: Any) -> Any:
        return int(v) if isinstance(v, float) and v.is_integer() else v

    top = {
        name: whole(getattr(c, name)) for name in ("trials", "seed") if isinstance(getattr(c, name), float)
    }
    sizes = tuple((k, whole(v)) for k, v in c.layer.sizes)
    if not top and sizes == c.layer.sizes:
        return c
    layer = LayerConfig(c.layer.kind, layout=c.layer.layout, placement=c.layer.placement, sizes=sizes)
    return replace(c, layer=layer, **top)


def _config(args: tuple[Any, ...], changes: dict[str, Any], where: str) -> CheckConfig:
    """A CheckConfig (with keyword changes) or check()'s arguments -> CheckConfig. Measuring and
    judging take no default norm or transform: a call that names neither would check something
    its author never chose (`assert_invariant(nn.LayerNorm(16))` passing on dataset_rescale)."""
    if args and isinstance(args[0], CheckConfig):
        if len(args) > 1:
            raise TypeError("after a CheckConfig, give changes by keyword (transform='...', dtype='...')")
        if isinstance(changes.get("transform"), Mapping):
            changes["transform"], changes["_transform"] = _unfolded(changes["transform"], changes)
        return _validated(_apply(args[0], changes) if changes else args[0], _given(changes))
    for i, name in enumerate(("norm", "transform")):
        given = len(args) > i or name in changes or (name == "norm" and changes.get("module") is not None)
        if not given:
            raise TypeError(f"{where}() missing required argument {name!r}: {_WANTED[name]}")
    return check(*args, **changes)


# Measure, then judge ----------------------------------------------------------------------------


@_public("invcheck.invariance_error")
def invariance_error(*args: Any, **changes: Any) -> Result:
    """Run one check and return its Result: verdict, deviation, tolerance, bound, where.

    Never raises on the math (a degenerate output is the verdict `undefined`); bad arguments raise
    TypeError or SpecError, user code that cannot run raises UserCodeError.
    """
    return _measure(args, changes, "invcheck.invariance_error")


def _measure(args: tuple[Any, ...], changes: dict[str, Any], where: str) -> Result:
    """The Result of the check the public function `where` was called with."""
    from invcheck.runner import run_check  # imports torch

    return run_check(_config(args, changes, where), checked=True)  # _config held it to the rules


@_public("invcheck.assert_invariant")
def assert_invariant(*args: Any, **changes: Any) -> Result:
    """Raise InvarianceError (an AssertionError) with the evidence unless the verdict is invariant."""
    __tracebackhide__ = True
    return _assert("invariant", args, changes)


@_public("invcheck.assert_not_invariant")
def assert_not_invariant(*args: Any, **changes: Any) -> Result:
    """Raise InvarianceError with the evidence unless the verdict is not_invariant.

    `inconclusive` and `undefined` fail both assertions: neither is evidence either way.
    """
    __tracebackhide__ = True
    return _assert("not_invariant", args, changes)


def _assert(wanted: str, args: tuple[Any, ...], changes: dict[str, Any]) -> Result:
    __tracebackhide__ = True  # pytest shows the user's call and the evidence, not invcheck's frames
    if "expect" in changes:  # the assertion's name is its expectation: a second one would be ignored
        raise TypeError(
            f"assert_{wanted}() takes no expect= (it asserts {wanted}); use invariance_error() "
            "and read .verdict, or the other assertion"
        )
    result = _measure(args, changes, f"invcheck.assert_{wanted}")
    if result.verdict != wanted:
        raise InvarianceError(explain(result, wanted), result)
    return result


@_public("invcheck.set_timeout")
def set_timeout(seconds: float) -> None:
    """The deadline of each check of user code in this process (default 15 s): one that runs longer
    raises UserCodeError; one that defeats the deadline is stopped at twice it."""
    if not timeouts.within_bounds(seconds):
        raise SpecError(
            f"timeout must be a number of seconds in {timeouts.BOUNDS}, got {seconds!r}", _where()
        )
    timeouts.set_timeout(seconds, "invcheck.set_timeout(seconds)")


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

    if norm is None or (isinstance(norm, str) and ":" not in norm):
        raise TypeError(f"layer_row takes user code (a class, an instance, a callable), not {norm!r}")
    for kind in layers:  # the same rules as a spec's module and kwargs, with each kind's placeholders
        c = check(norm, kwargs=kwargs or {}, layer=kind)
    return table.build(list(layers), module=c.norm.module, kwargs=kwargs or {}, obj=c.norm.obj, **options)
