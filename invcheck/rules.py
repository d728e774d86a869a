"""Every rule a check must satisfy, written once: for YAML specs, the Python API and the CLI.

Two kinds of rule:
- field rules: each value on its own (`FIELDS`: a parser per key, which names the bad value);
- cross-field rules (`problems`): settings that are fine alone but impossible together.
Each problem names the section ("norm", "transform", "layer", or None for the check itself) and
the key it is about, so that spec.py can point at the YAML line and the API can name the argument.
No torch here: validation runs before anything is imported or allocated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any

from invcheck import names
from invcheck.display import short_repr
from invcheck.errors import SpecError
from invcheck.layer_kinds import LAYER_KINDS, LayerKind
from invcheck.norms import NORMS
from invcheck.placements import PLACEMENTS
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig
from invcheck.spec_values import (
    Bad,
    Parser,
    braced,
    check_name,
    choice,
    device,
    did_you_mean,
    flag,
    integer,
    kwargs,
    module_path,
    number,
    optional,
    scale,
    text,
)
from invcheck.transforms import TRANSFORMS

# because a check allocates X, W and the outputs for every trial, several times over (the
# dithered runs, the float64 run): beyond this many entries it would not fit in memory.
MAX_ELEMENTS = 1 << 28
MAX_TRIALS = 100_000
MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes at most a 64-bit signed seed
MAX_WARMUP = 1000
MIN_SHIFT = 1e-3
# because a 2048-wide dense layer of 2048 cases must run (benchmarks/bench_size.py: 2048^3 x 4
# trials), and more takes hours on a CPU: multiply-adds of one forward pass over all trials, 3.4e10
# (the one bound, documented in docs/trust.md; the README once said 4.3e9)
MAX_WORK = 1 << 35
NUMBER_KEYS = (
    "eps",
    "momentum",
    "shift",
    "tolerance",
    "max_eps_effect",
)  # numbers: text only from YAML (`1e-5`)

NORM_FIELDS: dict[str, Parser] = {
    "id": choice(names.NORMS, "norm"),
    "eps": number(0, 1e3),
    "groups": integer(1, 1 << 20),
    "mode": choice(names.MODES, "mode"),
    "warmup_batches": integer(0, MAX_WARMUP),
    "momentum": number(0, 1),
    "impl": choice(names.IMPLS, "impl"),
    "api": choice(names.APIS, "api"),
    "torch_eps": flag,
    "module": optional(module_path),
    "eps_attr": optional(text),
    "kwargs": kwargs,
    "role": choice(names.ROLES, "role"),
    "weight": text,
}
MODULE_NORM_FIELDS: dict[str, Parser] = {
    **NORM_FIELDS,
    "id": check_name,
}  # user code: its id is a label (in test ids)
TRANSFORM_FIELDS: dict[str, Parser] = {
    "id": choice(names.TRANSFORMS, "transform"),
    "scale": scale,
    "negative": flag,
    # 0 would make re-centering the identity (invariant by construction), and so would a shift lost
    # in rounding next to entries of size ~1 (1e-300 + 1.0 == 1.0)
    "shift": number(MIN_SHIFT, 1e6),
}
# A transform of the user's own (`module: "pkg.mod:fn"`, `kwargs`): its id is a label, as a module norm's.
MODULE_TRANSFORM_FIELDS: dict[str, Parser] = {
    **TRANSFORM_FIELDS,
    "id": check_name,
    "module": optional(module_path),
    "kwargs": kwargs,
}
CHECK_FIELDS: dict[str, Parser] = {
    "name": optional(check_name),
    "trials": integer(1, MAX_TRIALS),
    "seed": integer(0, MAX_SEED),
    "dtype": choice(names.DTYPES, "dtype"),
    "device": device,
    "tf32": flag,
    "tolerance": optional(number(0, 1e3, strict=True)),
    # what eps may move the two sides apart by, relative to the output, before an invariance that
    # holds with eps off counts as broken (unset: reported with the verdict, never a failure)
    "max_eps_effect": optional(number(0, 1e3, strict=True)),
    "expect": optional(choice(names.VERDICTS, "verdict")),
}


def layer_fields(kind: str | None) -> dict[str, Parser]:
    """The keys of a layer of this kind (every kind's when unknown), each with its bounds."""
    kinds = [LAYER_KINDS[kind]] if kind in LAYER_KINDS else list(LAYER_KINDS.values())
    out: dict[str, Parser] = {
        "kind": choice(names.LAYERS, "layer"),
        "layout": choice(names.LAYOUTS, "layout"),
        "placement": choice(names.PLACEMENTS, "placement"),
    }
    for k in kinds:
        out.update({key: integer(size.low, size.high) for key, size in k.sizes.items()})
    return out


@dataclass(frozen=True)
class Problem:
    section: str | None  # "norm", "transform", "layer", or None: the check's own keys
    key: str
    message: str
    value: Any = None
    hint: str | None = None


@dataclass(frozen=True)
class Scope:
    """A key that applies only where a sibling key of its section (`field`) is one of `values` (not
    one of them, with `negate`; set at all, with `values` None). With `value`, only that value of
    the key is restricted (mode: eval). `norms`: the rule is for built-in norms, module norms, or any.
    Written once: the validator reads it (`_scoped`), and so does the JSON Schema (schema.py), there
    where both keys stand in one mapping."""

    section: str | None  # "norm", "transform", or None: the check's own keys
    key: str
    field: str
    values: tuple[Any, ...] | None
    message: str  # {key}; {actual}: the sibling's value; {uses}: the transform's own keys
    hint: str
    value: Any = None
    negate: bool = False
    norms: str = "any"  # "builtin" | "module" | "any"


def _reading(param: str) -> tuple[str, ...]:
    """The norms that read a NormConfig field of their own (`Norm.params`): mode, groups."""
    return tuple(n.id for n in NORMS.values() if param in n.params)


def _either(ids: tuple[str, ...]) -> str:
    return " or ".join(ids)


SCOPES: tuple[Scope, ...] = (
    *(
        Scope(
            "norm",
            key,
            "impl",
            ("torch",),
            "{key} applies only to impl 'torch'",
            "add impl: torch or remove it",
        )
        for key in ("api", "torch_eps")
    ),
    *(
        Scope(
            "norm",
            key,
            "module",
            None,
            "{key} applies only to a 'module:' norm",
            "remove it",
            norms="builtin",
        )
        for key in ("kwargs", "role", "weight", "eps_attr")
    ),
    Scope(
        "norm",
        "mode",
        "id",
        _reading("mode"),
        f"mode 'eval' applies only to {_either(_reading('mode'))}, not {{actual!r}}",
        f"only {_either(_reading('mode'))} keeps running statistics",
        value="eval",
        norms="builtin",
    ),
    Scope(
        "norm",
        "groups",
        "id",
        _reading("groups"),
        f"groups applies only to {_either(_reading('groups'))}, not {{actual!r}}",
        "remove it",
        norms="builtin",
    ),
    Scope(
        "norm",
        "weight",
        "role",
        ("layer",),
        "weight applies only to role 'layer' (a layer that owns W)",
        "add role: layer or remove it",
        norms="module",
    ),
    Scope(
        "norm",
        "groups",
        "id",
        _reading("groups"),
        f"groups applies only to a norm labelled id: {_either(_reading('groups'))}",
        "remove it (a module norm's statistics are measured, not named)",
        norms="module",
    ),
    *(
        Scope(
            "norm",
            key,
            "mode",
            ("eval",),
            "{key} applies only in mode 'eval' (running statistics)",
            "add mode: eval or remove it",
        )
        for key in ("warmup_batches", "momentum")
    ),
    *(
        Scope(
            "transform",
            key,
            "id",
            tuple(t for t, spec in TRANSFORMS.items() if key in spec.params),
            "{key} does not apply to {actual} (it uses {uses})",
            "remove it",
        )
        for key in ("scale", "negative", "shift")
    ),
    Scope(
        None,
        "tf32",
        "device",
        ("cpu",),
        "tf32 applies only on a CUDA device, not on {actual!r}",
        "use device: cuda (or auto), or remove it",
        value=True,
        negate=True,
    ),
)


def _scoped(
    section: str | None, obj: Any, given: set[str], keys: tuple[str, ...], norms: str = "any"
) -> list[Problem]:
    """The SCOPES of these keys that `obj` (a section's config) breaks, in the table's order."""
    out = []
    for scope in SCOPES:
        if scope.section != section or scope.key not in keys or scope.norms not in (norms, "any"):
            continue
        actual = getattr(obj, scope.field)
        allowed = actual is not None if scope.values is None else (actual in scope.values) != scope.negate
        used = _set(obj, scope.key, given) if scope.value is None else getattr(obj, scope.key) == scope.value
        if used and not allowed:
            uses = (
                ", ".join(TRANSFORMS[actual].params)
                if section == "transform" and actual in TRANSFORMS
                else ""
            )
            out.append(
                Problem(
                    section,
                    scope.key,
                    scope.message.format(key=scope.key, actual=actual, uses=uses),
                    getattr(obj, scope.key),
                    scope.hint,
                )
            )
    return out


# Field rules on a built config (the API; specs parse their values on the way in) ----------------


def field_problems(check: CheckConfig) -> list[Problem]:
    """Each value of a CheckConfig checked by its field's parser, as a spec's would be."""
    out = []
    norm_fields = MODULE_NORM_FIELDS if check.norm.module is not None else NORM_FIELDS
    transform_fields = MODULE_TRANSFORM_FIELDS if check.transform.module is not None else TRANSFORM_FIELDS
    sections: list[tuple[str | None, Any, dict[str, Parser]]] = [
        ("norm", check.norm, norm_fields),
        ("transform", check.transform, transform_fields),
        (None, check, CHECK_FIELDS),
    ]
    for section, obj, parsers in sections:
        for f in fields(obj):
            value = getattr(obj, f.name)
            if f.name in NUMBER_KEYS and isinstance(value, str):  # in Python a number is a number
                out.append(
                    Problem(
                        section,
                        f.name,
                        f"{f.name} must be a number, got {value!r}",
                        value,
                        f"write {f.name}={value} without quotes",
                    )
                )
            elif f.name == "module" and getattr(obj, "obj", None) is not None:
                continue  # an object the API holds: `module` is its label, not an import path
            elif f.name in parsers:
                out += _parsed(section, f.name, value, parsers[f.name])
    layer = check.layer
    parsers = layer_fields(layer.kind)
    out += _parsed("layer", "kind", layer.kind, parsers["kind"])
    for key, value in (("layout", layer.layout), ("placement", layer.placement), *layer.sizes):
        if key in parsers:
            out += _parsed("layer", key, value, parsers[key])
        else:
            out.append(_not_a_key(layer.kind, key))
    return out


def refuse_wrong_types(check: CheckConfig) -> None:
    """A CheckConfig built by hand whose section is not its config class: a TypeError that says
    what to write, before any field is read."""
    for name, cls in (("norm", NormConfig), ("transform", TransformConfig), ("layer", LayerConfig)):
        value = getattr(check, name)
        if not isinstance(value, cls):
            raise TypeError(
                f"CheckConfig {name} must be a {cls.__name__}, got {value!r:.60} "
                f"(write {name}={cls.__name__}(...), or use invcheck.check({name}=...))"
            )


def _parsed(section: str | None, key: str, value: Any, parser: Parser) -> list[Problem]:
    try:
        parser(list(value) if isinstance(value, tuple) else value, key)
    except Bad as exc:
        return [Problem(section, key, str(exc), value, exc.hint)]
    return []


def _not_a_key(kind: str, key: str) -> Problem:
    spec = LAYER_KINDS.get(kind)
    hint = f"a {kind} layer takes " + ", ".join(spec.sizes) if spec else None
    return Problem("layer", key, f"{key!r} is not a {kind} layer key", key, hint)


# Cross-field rules ------------------------------------------------------------------------------


def problems(check: CheckConfig, given: dict[str, set[str]] | None = None) -> list[Problem]:
    """Settings that are fine alone but impossible together, or with the layer. `given`: the keys
    a spec names per section, so that `groups: 2` on layer_norm is refused although 2 is the default."""
    given = given or {}
    norm_keys, transform_keys = given.get("norm", set()), given.get("transform", set())
    kind = LAYER_KINDS.get(check.layer.kind)
    sized = kind.problems(check.layer) if kind is not None else []  # the kind's own rules, asked once
    sound = kind if kind is not None and not sized else None  # the rules that read its sizes wait for them
    return [
        *_norm_problems(check.norm, check.layer, sound, norm_keys),
        *_layer_problems(check.layer, check.norm, kind, sized),
        *_transform_problems(check.transform, check.layer, transform_keys),
        *_size_problems(check, sound),
        *_device_problems(check),
    ]


def _set(obj: Any, key: str, given: set[str]) -> bool:
    """Whether `key` was set: named in the spec, or (from Python) other than its default."""
    return key in given or getattr(obj, key) != getattr(type(obj)(), key)


def _device_problems(check: CheckConfig) -> list[Problem]:
    return _scoped(None, check, set(), ("tf32",))


def _norm_problems(
    norm: NormConfig, layer: LayerConfig, sound: LayerKind | None, given: set[str]
) -> list[Problem]:
    out = _scoped("norm", norm, given, ("api", "torch_eps"))
    if norm.module is not None:
        return out + _module_problems(norm, layer, sound, given)
    out += _scoped("norm", norm, given, ("kwargs", "role", "weight", "eps_attr"), norms="builtin")
    if norm.id not in NORMS:
        return out
    out += _scoped("norm", norm, given, ("mode", "groups"), norms="builtin")
    if sound is not None:  # the norm's own rules (`Norm.problems`)
        out += [Problem("norm", *p) for p in NORMS[norm.id].problems(norm, sound, layer)]
    return out + _eval_problems(norm, given)


def _module_problems(
    norm: NormConfig, layer: LayerConfig, sound: LayerKind | None, given: set[str]
) -> list[Problem]:
    out = []
    if norm.impl == "torch":
        out.append(
            Problem(
                "norm",
                "impl",
                f"impl 'torch' cannot run module {norm.module!r}",
                "torch",
                "impl picks how a built-in norm is computed; remove it",
            )
        )
    out += _scoped("norm", norm, given, ("weight", "groups"), norms="module")
    out += _placeholder_problems(norm, layer, sound)
    if norm.role == "layer" and layer.placement != "summed":
        out.append(
            Problem(
                "layer",
                "placement",
                "a role 'layer' module places its own norm",
                layer.placement,
                "remove placement, or give the norm alone (role: norm)",
            )
        )
    return out + _eval_problems(norm, given)


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _texts(value: Any) -> list[str]:
    """Every string in kwargs, at any depth (keys too)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*_texts(k), *_texts(v))]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _texts(v)]
    return []


def _placeholder_problems(norm: NormConfig, layer: LayerConfig, sound: LayerKind | None) -> list[Problem]:
    """A "{name}" in kwargs must be a number of the layer: checked here, before importing anything."""
    if sound is None:
        return []
    known = sound.placeholders(layer)
    for written in _texts(norm.kwargs):
        for name in _PLACEHOLDER.findall(written):
            if name not in known:
                hint = did_you_mean(name, known, "known: " + ", ".join(known), spelled=braced)
                return [
                    Problem(
                        "norm",
                        "kwargs",
                        f"kwargs: unknown placeholder '{{{name}}}' in {short_repr(written, 63)}",
                        written,
                        hint,
                    )
                ]
    return []


def _eval_problems(norm: NormConfig, given: set[str]) -> list[Problem]:
    """warmup_batches and momentum shape running statistics: meaningless in train mode."""
    return _scoped("norm", norm, given, ("warmup_batches", "momentum"))


def _layer_problems(
    layer: LayerConfig, norm: NormConfig, kind: LayerKind | None, sized: list
) -> list[Problem]:
    if kind is None:
        return []
    out = [Problem("layer", key, message, value, hint) for key, message, value, hint in sized]
    if layer.layout not in kind.layouts:
        out.append(
            Problem(
                "layer",
                "layout",
                f"a {kind.id} layer has no layout {layer.layout!r}",
                layer.layout,
                "use one of " + ", ".join(kind.layouts),
            )
        )
    out += _placement_problems(layer, kind)
    if norm.mode == "eval" and kind.activation_inside:
        out.append(
            Problem(
                "norm",
                "mode",
                "mode 'eval' is not supported in a recurrent layer",
                "eval",
                "check eval mode in a dense or sequence layer",
            )
        )
    return out


def _placement_problems(layer: LayerConfig, kind: Any) -> list[Problem]:
    """A placement the layer kind has no place for (an RNN's norm already feeds its tanh)."""
    placement = PLACEMENTS.get(layer.placement)
    reason = placement.refusal(kind) if placement else None
    if placement is None or not reason:
        return []
    where = [k.id for k in LAYER_KINDS.values() if placement.refusal(k) is None]
    return [
        Problem(
            "layer",
            "placement",
            f"placement {layer.placement!r}: {reason}",
            layer.placement,
            "use placement: summed, or a layer of kind " + ", ".join(where),
        )
    ]


def _transform_problems(transform: TransformConfig, layer: LayerConfig, given: set[str]) -> list[Problem]:
    spec = TRANSFORMS.get(transform.id)
    if transform.module is not None:  # the user's own: the keys it takes are its signature's (at run time)
        return []
    if transform.kwargs:
        return [
            Problem("transform", "kwargs", "kwargs apply only to a 'module:' transform", None, "remove it")
        ]
    if spec is None:
        return []
    out = _scoped("transform", transform, given, ("scale", "negative", "shift"))
    kind = LAYER_KINDS.get(layer.kind)
    reason = spec.undefined_reason(kind) if kind else None
    if reason:
        with_tokens = [k.id for k in LAYER_KINDS.values() if k.token_axis is not None]
        out.append(
            Problem(
                "transform", "id", reason, transform.id, "use a layer with tokens: " + ", ".join(with_tokens)
            )
        )
    return out


def _size_problems(check: CheckConfig, kind: LayerKind | None) -> list[Problem]:
    """What the check would allocate, checked before anything is (`kind`: None where the layer's
    sizes are wrong). Blamed on the layer when even one trial of it is too big, else on the number
    of trials."""
    if kind is None:
        return []
    per_trial = kind.elements(check.layer)
    total = check.trials * per_trial
    if total <= MAX_ELEMENTS:
        return _memory_problems(check) or _work_problems(check)
    if check.layer.sizes and per_trial * min(check.trials, CheckConfig().trials) > MAX_ELEMENTS:
        key, value = max(check.layer.sizes, key=lambda item: item[1])
        return [
            Problem(
                "layer",
                key,
                f"a {kind.id} layer with {key} {value} needs {per_trial:.3g} entries of X, W "
                f"and outputs per trial ({total:.3g} for {check.trials} trials), above the limit of "
                f"{MAX_ELEMENTS:.3g}",
                value,
                "use a smaller layer",
            )
        ]
    return [
        Problem(
            None,
            "trials",
            f"{check.trials} trials of this layer need {total:.3g} entries of X, W and "
            f"outputs, above the limit of {MAX_ELEMENTS:.3g}",
            check.trials,
            "use fewer trials or a smaller layer",
        )
    ]


def _memory_problems(check: CheckConfig) -> list[Problem]:
    """The memory the check needs, estimated from its shapes (bounds.py), before it allocates any."""
    from invcheck import bounds

    need = bounds.memory(check)
    if need <= bounds.MAX_MEMORY:
        return []
    return [
        Problem(
            None,
            "layer",
            f"{check.trials} trial{'s' if check.trials != 1 else ''} of this {check.layer.kind} layer need{'s' if check.trials == 1 else ''} about {bounds.shown(need)} of memory "
            f"(estimated from its shapes), above the limit of {bounds.shown(bounds.MAX_MEMORY)}",
            check.trials,
            "use a smaller layer or fewer trials",
        )
    ]


def _work_problems(check: CheckConfig) -> list[Problem]:
    """Multiply-adds of the summed inputs (outputs x fan-in): a 255-wide kernel over a large
    image fits in memory but would run for hours."""
    kind = check.layer.kind_spec
    work = check.trials * math.prod(kind.output_shape(check.layer)) * kind.fan_in(check.layer)
    if work <= MAX_WORK:
        return []
    return [
        Problem(
            None,
            "layer",
            f"{check.trials} trials of this {kind.id} layer need {work:.3g} multiply-adds "
            f"per pass, above the limit of {MAX_WORK:.3g}",
            check.trials,
            "use a smaller layer or fewer trials",
        )
    ]


# Raising -----------------------------------------------------------------------------------------


def refuse_impossible(check: CheckConfig) -> None:
    """Raise the first problem of a config built in Python (specs are checked as they load)."""
    found = field_problems(check)
    found = found or problems(check)
    if found:
        p = found[0]
        raise SpecError(
            p.message, check.file or "invcheck.check()", check.line if check.file else None, p.value, p.hint
        )
