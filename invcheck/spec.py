"""YAML spec files -> validated `CheckConfig`s; each error names file:line, the bad value and a fix.

Specs load with safe YAML and without torch, so validating them is fast.

A spec file is a mapping with optional `defaults:` (check keys applied to every check in the
file, except `name`) and at least one of: check keys at the top level (one check), `checks:`
(a list of checks), `matrix:` (a table of checks, or a list of tables). Check keys:

    name: my check               # optional
    norm: layer_norm             # batch_norm | weight_norm | layer_norm | instance_norm |
                                 # group_norm | rms_norm, or a mapping:
    # norm: {id: group_norm, groups: 4, eps: 1.0e-5, impl: reference}
    # norm: {id: batch_norm, mode: eval, warmup_batches: 4, momentum: 0.1}  # eval: batch_norm only
    # norm: {module: "mypkg.norms:MyNorm", kwargs: {features: "{units}"}, role: norm, weight: weight}
    transform: dataset_rescale   # weight_matrix_rescale | weight_matrix_recenter |
                                 # weight_vector_rescale | dataset_rescale | dataset_recenter |
                                 # case_rescale, or {id: ..., scale: [0.1, 10], negative: false, shift: 1.0}
    layer: dense                 # dense | conv, or a mapping:
    # layer: {kind: dense, cases: 16, inputs: 32, units: 16}
    # layer: {kind: conv, cases: 16, in_channels: 4, out_channels: 8, kernel: 3, size: 8, padding: 0}
    trials: 8                    # >= 1
    seed: 0                      # >= 0
    dtype: float64               # float64 | float32 | float16 | bfloat16
    device: cpu                  # cpu | cuda | auto
    tf32: false
    tolerance: 1.0e-5            # optional: replaces the computed tolerance (> 0)
    expect: invariant            # optional: invariant | not_invariant | inconclusive | undefined
    impl: torch                  # shorthand for `norm: {impl: torch}` (reference | torch)

Every check needs a norm and a transform, its own or from `defaults:`. `norm: x` means
`{id: x}`, `transform: x` means `{id: x}`, `layer: x` means `{kind: x}`. A check's keys win
over `defaults:`; norm, transform and layer mappings merge key by key, and a layer whose kind
differs from the default's drops the default's keys of the other kind. Numbers may be written
`1e-5` (YAML reads that as text; float fields accept it). `eps`, `shift`, `warmup_batches`,
`padding` >= 0; `momentum` in [0, 1]; sizes and `groups` >= 1; group_norm's groups must divide
the layer's channels (units for dense, out_channels for conv); a conv kernel must fit in
size + 2 * padding. A `module:` norm is user code ("package.module:Name", not imported here);
its `id` is free text (default "custom"), `kwargs` is passed as written ("{units}" and
"{channels}" stay text), `role` (norm | layer) and `weight` apply only to it, and it cannot
take `impl: torch`.

A matrix expands into one check per layer x norm x transform, in that order:

    matrix:
      layer: dense               # or `layers: [dense, conv]`, with `expect` nested by layer:
                                 #   expect: {dense: {batch_norm: [...]}, conv: {...}}
      transforms: [weight_matrix_rescale, dataset_rescale]   # default: all six, paper order
      expect:                    # norm -> one verdict per transform, in `transforms` order
        batch_norm: [invariant, invariant]
        layer_norm: {dataset_rescale: invariant}             # or a mapping: just these cells
      # or `norms: [batch_norm, layer_norm]` without expectations; or neither, with `norm:`
      # (say a module norm) and optionally `expect: [one verdict per transform]`.
      # Any other check key (dtype, trials, `norm: {eps: 1.0e-5}`) applies to every cell.

Cells are named "layer/norm/transform" (e.g. "dense/layer_norm/dataset_rescale") and carry the
line of their verdict. Every CheckConfig carries `file` (the path as given) and `line`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import NamedTuple

from invcheck import names
from invcheck.errors import SpecError
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig
from invcheck.spec_yaml import (
    Bad,
    Parser,
    YList,
    YMap,
    choice,
    did_you_mean,
    flag,
    integer,
    kwargs,
    module_path,
    number,
    optional,
    parse_yaml,
    read_yaml,
    scale,
    show,
    text,
)

_NORM_FIELDS = {
    "id": choice(names.NORMS, "norm"),
    "eps": number(0),
    "groups": integer(1),
    "mode": choice(names.MODES, "mode"),
    "warmup_batches": integer(0),
    "momentum": number(0, 1),
    "impl": choice(names.IMPLS, "impl"),
    "module": module_path,
    "kwargs": kwargs,
    "role": choice(("norm", "layer"), "role"),
    "weight": text,
}
_MODULE_NORM_FIELDS = {**_NORM_FIELDS, "id": text}  # user code: the id is only a label
_TRANSFORM_FIELDS = {
    "id": choice(names.TRANSFORMS, "transform"),
    "scale": scale,
    "negative": flag,
    "shift": number(0),
}
_LAYER_FIELDS = {
    "kind": choice(names.LAYERS, "layer"),
    **{key: integer(1) for key in ("cases", "inputs", "units", "in_channels", "out_channels")},
    **{"kernel": integer(1), "size": integer(1), "padding": integer(0)},
}
_LAYER_KEYS = {
    "dense": ("kind", "cases", "inputs", "units"),
    "conv": ("kind", "cases", "in_channels", "out_channels", "kernel", "size", "padding"),
}
_SECTIONS = {"norm": _NORM_FIELDS, "transform": _TRANSFORM_FIELDS, "layer": _LAYER_FIELDS}
_SHORTHAND = {"norm": "id", "transform": "id", "layer": "kind"}
_CHECK_FIELDS = {
    "name": optional(text),
    "trials": integer(1),
    "seed": integer(0),
    "dtype": choice(names.DTYPES, "dtype"),
    "device": choice(names.DEVICES, "device"),
    "tf32": flag,
    "tolerance": optional(number(0, strict=True)),
    "expect": optional(choice(names.VERDICTS, "verdict")),
}
CHECK_KEYS: tuple[str, ...] = (*_CHECK_FIELDS, *_SECTIONS, "impl")
_DEFAULT_KEYS = tuple(key for key in CHECK_KEYS if key != "name")
_FILE_KEYS = ("defaults", "checks", "matrix", *CHECK_KEYS)
_MATRIX_AXES = ("layers", "norms", "transforms", "expect")
_MATRIX_CHECK_KEYS = tuple(key for key in _DEFAULT_KEYS if key != "expect")


class _Report:
    """The errors of one file; parsing goes on after an error so that all of them are listed."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[SpecError] = []

    def add(self, message: str, line: int, value: object = None, hint: str | None = None) -> None:
        self.errors.append(SpecError(message, self.file, line, value, hint))

    def bad(self, exc: Bad, line: int, value: object) -> None:
        self.add(str(exc), line, value, exc.hint)

    def unique(self) -> list[SpecError]:
        """A bad default is met once per check: list it once."""
        seen: dict[str, SpecError] = {}
        for err in self.errors:
            seen.setdefault(str(err), err)
        return sorted(seen.values(), key=lambda err: err.line or 0)


class _Cell(NamedTuple):
    """One matrix cell before merging: norm None means the matrix's own `norm:`."""

    norm: object
    norm_line: int
    transform: str
    verdict: object
    line: int


# Public API ---------------------------------------------------------------------------------


def discover(paths: Sequence[str | Path]) -> list[Path]:
    """Spec files: files as given, folders searched for *.yaml / *.yml (hidden ones skipped)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(
                f for f in path.rglob("*.y*ml")
                if f.suffix in (".yaml", ".yml") and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(path).parts)
            )
            if not files:
                raise SpecError("no spec files (*.yaml, *.yml) in this folder", str(path), value=str(path))
            found += files
        elif path.exists():
            found.append(path)
        else:
            raise SpecError("no such spec file or folder", str(path), value=str(path))
    return list(dict.fromkeys(found))


def load_text(text: str, file: str = "<spec>") -> list[CheckConfig]:
    """The checks of YAML text; raises the first SpecError."""
    report = _Report(file)
    checks = _file_checks(report, parse_yaml(text, file))
    _raise_first(report.unique())
    return checks


def load_file(path: str | Path) -> list[CheckConfig]:
    """The checks of one spec file; raises the first SpecError."""
    checks, errors = _load(Path(path), str(path))
    _raise_first(errors)
    return checks


def load_specs(paths: Sequence[str | Path]) -> list[CheckConfig]:
    """The checks of every spec file under `paths`, in file order; raises the first SpecError."""
    checks: list[CheckConfig] = []
    errors: list[SpecError] = []
    for path in discover(paths):
        found, bad = _load(path, str(path))
        checks += found
        errors += bad
    _raise_first(errors)
    return checks


def validate(paths: Sequence[str | Path]) -> list[SpecError]:
    """Every error in the specs under `paths` (one per bad value); empty when all is well."""
    errors: list[SpecError] = []
    for given in paths:
        try:
            files = discover([given])
        except SpecError as err:
            errors.append(err)
            continue
        for path in files:
            errors += _load(path, str(path))[1]
    return errors


def _raise_first(errors: list[SpecError]) -> None:
    if errors:
        raise errors[0]


def _load(path: Path, file: str) -> tuple[list[CheckConfig], list[SpecError]]:
    report = _Report(file)
    try:
        checks = _file_checks(report, read_yaml(path, file))
    except SpecError as err:  # unreadable or not YAML: nothing more to say about this file
        return [], [err]
    return checks, report.unique()


# Files, checks and matrices -----------------------------------------------------------------


def _file_checks(r: _Report, doc: object) -> list[CheckConfig]:
    """All checks one file declares (those with errors left out, their errors in `r`)."""
    if not isinstance(doc, YMap):
        what = "empty" if doc is None else f"not a mapping (got {show(doc)})"
        r.add(f"spec file is {what}", getattr(doc, "line", None), doc, _WHAT_TO_WRITE)
        return []
    known = _known(r, doc, _FILE_KEYS, "the file")
    defaults = _defaults(r, known)
    single = known.pick(CHECK_KEYS)
    checks: list[CheckConfig] = []
    if single and ("checks" in known or "matrix" in known):
        key = next(iter(single))
        where = f"check key {key!r} at the top level beside 'checks:'/'matrix:'"
        r.add(where, single.key_line(key), key, "move it under 'defaults:'")
    elif single:
        checks += _kept([_build(r, _merge(defaults, _normalize(r, single)))])
    elif "checks" not in known and "matrix" not in known:
        r.add("no checks in this file", doc.line, None, _WHAT_TO_WRITE)
    if "checks" in known:
        checks += _check_list(r, known, defaults)
    if "matrix" in known:
        checks += _matrices(r, known, defaults)
    return checks


_WHAT_TO_WRITE = "write 'checks:', 'matrix:' or check keys such as 'norm:'"


def _kept(checks: list[CheckConfig | None]) -> list[CheckConfig]:
    return [check for check in checks if check is not None]


def _defaults(r: _Report, doc: YMap) -> YMap:
    value = doc.get("defaults")
    if value is None:
        return YMap(doc.line)
    if not isinstance(value, YMap):
        r.add(f"defaults must be a mapping of check keys, got {show(value)}", doc.line_of("defaults"), value)
        return YMap(doc.line)
    return _normalize(r, _known(r, value, _DEFAULT_KEYS, "defaults"))


def _check_list(r: _Report, doc: YMap, defaults: YMap) -> list[CheckConfig]:
    items = doc["checks"]
    if not isinstance(items, YList) or not items:
        r.add(f"checks must be a non-empty list of checks, got {show(items)}", doc.line_of("checks"), items)
        return []
    checks = []
    for index, item in enumerate(items):
        if not isinstance(item, YMap):
            r.add(f"a check must be a mapping of check keys, got {show(item)}", items.line_of(index), item)
            continue
        checks.append(_build(r, _merge(defaults, _normalize(r, _known(r, item, CHECK_KEYS, "a check")))))
    return _kept(checks)


def _matrices(r: _Report, doc: YMap, defaults: YMap) -> list[CheckConfig]:
    value = doc["matrix"]
    tables, lines = (value, value.lines) if isinstance(value, YList) and value else ([value], [doc.line_of("matrix")])
    checks = []
    for table, line in zip(tables, lines):
        if isinstance(table, YMap):
            checks += _expand(r, table, defaults)
        else:
            r.add(f"a matrix must be a mapping, got {show(table)}", line, table)
    return checks


def _expand(r: _Report, table: YMap, defaults: YMap) -> list[CheckConfig]:
    """One check per layer x norm x transform cell, named layer/norm/transform."""
    known = _known(r, table, (*_MATRIX_AXES, *_MATRIX_CHECK_KEYS), "matrix")
    base = _merge(defaults, _normalize(r, known.pick(_MATRIX_CHECK_KEYS)))
    layers = _ids(r, known, "layers", names.LAYERS, "layer") if "layers" in known else [(None, known.line)]
    transforms = (
        _ids(r, known, "transforms", names.TRANSFORMS, "transform")
        if "transforms" in known
        else [(transform, known.line) for transform in names.TRANSFORMS]
    )
    checks = []
    for kind, kind_line in layers if transforms else []:
        for cell in _cells(r, known, kind, [k for k, _ in layers], transforms):
            check = _build(r, _merge(base, _cell_map(cell, kind, kind_line)))
            checks += [check.with_(name=check.title)] if check else []
    return checks


def _ids(r: _Report, m: YMap, key: str, options: Sequence[str], what: str) -> list[tuple[str, int]]:
    """A list of ids such as `transforms:`, each with its line; empty after an error."""
    items = m[key]
    if not isinstance(items, YList) or not items:
        r.add(f"{key} must be a non-empty list of {what} ids, got {show(items)}", m.line_of(key), items)
        return []
    before, parse, out = len(r.errors), choice(options, what), []
    for index, item in enumerate(items):
        line = items.line_of(index)
        try:
            value = parse(item, key)
        except Bad as exc:
            r.bad(exc, line, item)
            continue
        if value in dict(out):
            r.add(f"{what} {value!r} is listed twice in {key}", line, value)
        out.append((value, line))
    return out if len(r.errors) == before else []


def _cells(r: _Report, m: YMap, kind: str | None, kinds: list[str], transforms: list[tuple[str, int]]) -> list[_Cell]:
    """The norm x transform cells of one layer of a matrix."""
    if "norms" in m and "expect" in m:
        r.add("a matrix takes norms or expect, not both", m.key_line("norms"), None, "expect's rows name the norms")
        return []
    if "norms" in m:
        norms = _ids(r, m, "norms", names.NORMS, "norm")
        return [_Cell(norm, line, transform, None, line) for norm, line in norms for transform, _ in transforms]
    if "expect" not in m:
        return [_Cell(None, line, transform, None, line) for transform, line in transforms]
    if kind is None:
        return _rows(r, m["expect"], m.line_of("expect"), transforms)
    by_layer = m["expect"]
    if not isinstance(by_layer, YMap):
        r.add(f"with layers, expect must be a mapping {{layer: rows}}, got {show(by_layer)}", m.line_of("expect"), by_layer)
        return []
    _known(r, by_layer, kinds, "expect (its keys are the layers)")
    if kind not in by_layer:
        r.add(f"expect has no rows for layer {kind!r}", m.line_of("expect"), kind, f"add '{kind}:' under expect")
        return []
    return _rows(r, by_layer[kind], by_layer.line_of(kind), transforms)


def _rows(r: _Report, expect: object, line: int, transforms: list[tuple[str, int]]) -> list[_Cell]:
    """Cells of `expect`: {norm: row}, or one row for the matrix's own `norm:`."""
    if not isinstance(expect, YMap):
        return _row(r, None, line, expect, line, transforms)
    cells = []
    for norm, row in expect.items():
        cells += _row(r, norm, expect.key_line(norm), row, expect.line_of(norm), transforms)
    return cells


def _row(r: _Report, norm: object, norm_line: int, row: object, line: int, transforms: list[tuple[str, int]]) -> list[_Cell]:
    """One norm's verdicts: a list in `transforms` order, or a mapping {transform: verdict}."""
    order = [transform for transform, _ in transforms]
    label = "expect" if norm is None else f"expect row {show(norm)}"
    if isinstance(row, YList):
        if len(row) != len(order):
            hint = "one verdict per transform: " + ", ".join(order)
            r.add(f"{label} has {len(row)} verdicts but transforms has {len(order)}", line, row, hint)
            return []
        return [_Cell(norm, norm_line, t, verdict, row.line_of(i)) for i, (t, verdict) in enumerate(zip(order, row))]
    if isinstance(row, YMap):
        _known(r, row, order, label)
        return [_Cell(norm, norm_line, t, row[t], row.line_of(t)) for t in order if t in row]
    r.add(f"{label} must be a list of verdicts or a mapping {{transform: verdict}}, got {show(row)}", line, row)
    return []


def _cell_map(cell: _Cell, kind: str | None, kind_line: int) -> YMap:
    """The keys a matrix cell sets, located where the matrix says them."""
    over = YMap(cell.line)
    if cell.norm is not None:
        over.put("norm", YMap.one("id", cell.norm, cell.norm_line), cell.norm_line)
    over.put("transform", YMap.one("id", cell.transform, cell.line), cell.line)
    if kind is not None:
        over.put("layer", YMap.one("kind", kind, kind_line), kind_line)
    if cell.verdict is not None:
        over.put("expect", cell.verdict, cell.line)
    return over


# Keys and merging -----------------------------------------------------------------------------


def _known(r: _Report, m: YMap, allowed: Collection[str], where: str) -> YMap:
    """`m` without its unknown keys, each of them reported with a suggestion."""
    for key in m:
        if key not in allowed:
            r.add(f"unknown key {show(key)} in {where}", m.key_line(key), key, did_you_mean(key, allowed))
    return m.pick(allowed)


def _normalize(r: _Report, m: YMap) -> YMap:
    """Check keys with `norm: x` read as {id: x} (and so on) and a check-level `impl` put into the norm."""
    out = YMap(m.line)
    for key, value in m.items():
        if key in _SECTIONS:
            value = _section(r, m, key)
        if key != "impl" and value is not None:
            out.put(key, value, m.line_of(key), m.key_line(key))
    if "impl" in m:
        norm = out.get("norm", YMap(m.line_of("impl")))
        if "impl" in norm:
            r.add("impl is given twice: for the check and under norm", m.key_line("impl"), m["impl"], "keep one")
        norm.put("impl", m["impl"], m.line_of("impl"), m.key_line("impl"))
        out.put("norm", norm, out.line_of("norm") if "norm" in out else norm.line)
    return out


def _section(r: _Report, m: YMap, key: str) -> YMap | None:
    """A norm, transform or layer value as a mapping with known keys only."""
    value, line = m[key], m.line_of(key)
    if isinstance(value, str):
        return YMap.one(_SHORTHAND[key], value, line)
    if isinstance(value, YMap):
        return _known(r, value, _SECTIONS[key], key)
    r.add(f"{key} must be an id or a mapping, got {show(value)}", line, value)
    return None


def _merge(base: YMap, over: YMap) -> YMap:
    """`over` wins key by key; norm, transform and layer mappings merge one level down."""
    out = base.pick(base)
    out.line = over.line
    for key, value in over.items():
        if key in _SECTIONS and isinstance(base.get(key), YMap):
            inherited = _same_kind(base[key], value) if key == "layer" else base[key]
            value = _merge(inherited, value)
        out.put(key, value, over.line_of(key), over.key_line(key))
    return out


def _same_kind(base: YMap, over: YMap) -> YMap:
    """A layer that switches kind keeps none of the inherited keys of the other kind."""
    kind = over.get("kind")
    if isinstance(kind, str) and kind in _LAYER_KEYS and kind != base.get("kind"):
        return base.pick(_LAYER_KEYS[kind])
    return base


# Building and cross-checking --------------------------------------------------------------------


def _build(r: _Report, m: YMap) -> CheckConfig | None:
    """One merged check -> CheckConfig, or None once its errors are reported."""
    before = len(r.errors)
    for key in ("norm", "transform"):
        if key not in m:
            r.add(f"check has no {key}", m.line, None, f"add '{key}:' to the check or to 'defaults:'")
    norm_map, layer_map = m.get("norm", YMap(m.line)), m.get("layer", YMap(m.line))
    norm = _values(r, norm_map, _MODULE_NORM_FIELDS if "module" in norm_map else _NORM_FIELDS)
    layer = _layer_values(r, layer_map)
    transform = _values(r, m.get("transform", YMap(m.line)), _TRANSFORM_FIELDS)
    top = _values(r, m, _CHECK_FIELDS)
    if len(r.errors) > before:
        return None
    if "module" in norm:
        norm.setdefault("id", "custom")
    check = CheckConfig(
        norm=NormConfig(**norm), transform=TransformConfig(**transform), layer=LayerConfig(**layer),
        file=r.file, line=m.line, **top,
    )
    _check_norm(r, norm_map, check)
    _check_layer(r, layer_map, check.layer)
    return check if len(r.errors) == before else None


def _values(r: _Report, m: YMap, parsers: dict[str, Parser]) -> dict[str, object]:
    """The parsed values of the keys of `m` that `parsers` knows; bad ones reported and left out."""
    out = {}
    for key, value in m.items():
        if key in parsers:
            try:
                out[key] = parsers[key](value, key)
            except Bad as exc:
                r.bad(exc, m.line_of(key), value)
    return out


def _layer_values(r: _Report, m: YMap) -> dict[str, object]:
    """Layer fields; a key of the other kind would be silently unused, so it is an error."""
    values = _values(r, m, _LAYER_FIELDS)
    kind = values.get("kind", "dense" if "kind" not in m else None)
    for key in m if kind else ():
        if key not in _LAYER_KEYS[kind]:
            hint = f"a {kind} layer takes " + ", ".join(_LAYER_KEYS[kind][1:])
            r.add(f"{key!r} is not a {kind} layer key", m.key_line(key), key, hint)
    return values


def _check_norm(r: _Report, m: YMap, check: CheckConfig) -> None:
    """Norm settings that are fine alone but impossible together, or with the layer."""
    norm, channels = check.norm, check.layer.channels
    if norm.module is not None:
        if norm.impl == "torch":
            hint = "impl picks how a built-in norm is computed; remove it"
            r.add(f"impl 'torch' cannot run module {norm.module!r}", m.line_of("impl"), "torch", hint)
        return
    for key in ("kwargs", "role", "weight"):
        if key in m:
            r.add(f"{key} applies only to a 'module:' norm", m.key_line(key), m[key], "add module: or remove it")
    if norm.mode == "eval" and norm.id != "batch_norm":
        r.add(f"mode 'eval' applies only to batch_norm, not {norm.id!r}", m.line_of("mode"), "eval", "remove mode")
    if norm.id == "group_norm" and channels % norm.groups:
        divisors = ", ".join(str(d) for d in range(1, channels + 1) if channels % d == 0)
        field = "units" if check.layer.kind == "dense" else "out_channels"
        message = f"groups {norm.groups} does not divide the layer's {channels} channels ({field}: {channels})"
        r.add(message, m.line_of("groups"), norm.groups, f"use one of {divisors}")


def _check_layer(r: _Report, m: YMap, layer: LayerConfig) -> None:
    if layer.kind == "conv" and layer.out_size < 1:
        message = f"kernel {layer.kernel} does not fit in size {layer.size} + 2 * padding {layer.padding}"
        r.add(message, m.line_of("kernel"), layer.kernel, "use a smaller kernel, a larger size or padding")
