"""YAML spec files -> validated `CheckConfig`s; each error names file:line, the bad value and a fix.

Specs load without torch, so validating them is fast, and with safe YAML: plain data only, so
tags such as `!!python/object` are refused, and so are duplicate keys. `discover` takes files as
given and searches folders for *.yaml and *.yml files (hidden ones skipped, e.g. `.github/`).

A spec file is a mapping with optional `defaults:` (check keys applied to every check in the
file, except `name`) and at least one of: check keys at the top level (one check), `checks:`
(a list of checks), `matrix:` (a table of checks, or a list of tables). Check keys:

    name: my check               # optional
    norm: layer_norm             # a registered norm (names.NORMS), or a mapping:
    # norm: {id: group_norm, groups: 4, eps: 1.0e-5, impl: reference}
    # norm: {id: batch_norm, mode: eval, warmup_batches: 4, momentum: 0.1}
    # norm: {id: layer_norm, impl: torch, api: functional, torch_eps: false}  # api: module | functional
    # norm: {module: "mypkg.norms:MyNorm", kwargs: {features: "{units}"}, role: norm, weight: weight}
    transform: dataset_rescale   # a registered transform (names.TRANSFORMS), or a mapping:
    # transform: {id: case_rescale, scale: [0.1, 10], negative: false, shift: 1.0}
    layer: dense                 # a registered layer kind (names.LAYERS), or a mapping:
    # layer: {kind: dense, cases: 16, inputs: 32, units: 16}
    # layer: {kind: conv, cases: 16, in_channels: 4, out_channels: 8, kernel: 3, size: 8, padding: 0}
    trials: 8                    # >= 1
    seed: 0                      # >= 0
    dtype: float64               # float64 | float32 | float16 | bfloat16
    device: cpu                  # cpu | cuda | auto
    tf32: false
    tolerance: 1.0e-5            # optional: replaces the computed tolerance (> 0)
    max_eps_effect: 0.01         # optional: eps moving the sides apart by more fails (docs/trust.md)
    expect: invariant            # optional: invariant | not_invariant | inconclusive | undefined
    impl: torch                  # shorthand for `norm: {impl: torch}` (reference | torch)

Every check needs a norm and a transform, its own or from `defaults:`. `norm: x` means
`{id: x}`, `transform: x` means `{id: x}`, `layer: x` means `{kind: x}`. A check's keys win
over `defaults:`; norm, transform and layer mappings merge key by key, and a layer that
switches kind drops the inherited keys of the other kind (each kind takes its own sizes,
`LayerKind.sizes`: a dense layer cases, inputs, units; others are errors).
Numbers may be written `1e-5` (YAML reads that as text; float fields accept it); true/false is
not a number. `eps`, `shift`, `warmup_batches`, `padding` >= 0; `momentum` in [0, 1]; sizes and
`groups` >= 1; scale 0 < low <= high. Each norm and layer kind adds its own rules (`problems`:
group_norm's groups must divide the layer's channels, a conv kernel must fit in size + 2 * padding);
`mode: eval` is for the norms that keep running statistics (or a module norm); `api` and `torch_eps` need `impl: torch`
(torch_eps true: eps 0 means torch's default eps). A `module:` norm is user code
("package.module:Name", not imported here): its `id` is free text (default "custom"), `kwargs`
is passed as written ("{units}" and "{channels}" stay text), `role` (norm | layer) and `weight`
apply only to it, and it cannot take `impl: torch`.

A matrix expands into one check per layer x norm x transform, in that order:

    matrix:
      layer: dense               # or `layers: [dense, conv]`, with `expect` nested by layer:
                                 #   expect: {dense: {batch_norm: [...]}, conv: {...}}
      transforms: [weight_matrix_rescale, dataset_rescale]   # default: all six, paper order
      expect:                    # norm -> one verdict per transform, in `transforms` order
        batch_norm: [invariant, ~]                           # ~ (null): no expectation
        layer_norm: {dataset_rescale: invariant}             # a mapping: just these cells
      # or `norms: [batch_norm, layer_norm]` without expectations; or neither, with `norm:`
      # (say a module norm) and optionally `expect: [one verdict per transform]`.
      # Any other check key (dtype, trials, `norm: {eps: 1.0e-5}`) applies to every cell.

Cells are named "layer/norm/transform" (e.g. "dense/layer_norm/dataset_rescale") and carry the
line of their verdict. Every CheckConfig carries `file` (the path as given) and `line`.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, cast

from invcheck import names, rules
from invcheck.display import shown_path
from invcheck.errors import SpecError
from invcheck.layer_kinds import LAYER_KINDS
from invcheck.settings import (
    DEFAULT_KIND,
    CheckConfig,
    LayerConfig,
    NormConfig,
    TransformConfig,
    check_config,
)
from invcheck.spec_values import show
from invcheck.spec_yaml import Report, YList, YMap, id_list, known, parse_yaml, read_yaml, values

# The keys of each section, for reading YAML (their value rules are in rules.py).
_SECTIONS = {
    "norm": rules.NORM_FIELDS,
    "transform": rules.MODULE_TRANSFORM_FIELDS,  # every key; a built-in's are checked in _build
    "layer": rules.layer_fields(None),
}
_LAYER_KEYS = {kind: ("kind", "layout", "placement", *spec.sizes) for kind, spec in LAYER_KINDS.items()}
_SHORTHAND = {"norm": "id", "transform": "id", "layer": "kind"}  # `norm: x` means {id: x}
_CHECK_FIELDS = rules.CHECK_FIELDS
CHECK_KEYS: tuple[str, ...] = (*_CHECK_FIELDS, *_SECTIONS, "impl")
_DEFAULT_KEYS = tuple(key for key in CHECK_KEYS if key != "name")
_FILE_KEYS = ("defaults", "checks", "matrix", "scan", *CHECK_KEYS)  # scan: invcheck/scan/spec.py
_MATRIX_CHECK_KEYS = tuple(key for key in _DEFAULT_KEYS if key != "expect")
_MATRIX_KEYS = ("layers", "norms", "transforms", "expect", *_MATRIX_CHECK_KEYS)
_WHAT_TO_WRITE = "write 'checks:', 'matrix:' or check keys such as 'norm:'"

Transforms = list[tuple[str, int]]  # (id, line) in matrix column order


class _Cell(NamedTuple):
    """One matrix cell before merging; norm None means the matrix's own `norm:`."""

    norm: object
    norm_line: int
    transform: str
    verdict: object
    line: int


# Public API -----------------------------------------------------------------------------------


def discover(paths: Sequence[str | Path]) -> list[Path]:
    """Spec files: files as given; folders searched for *.yaml and *.yml, hidden ones skipped.

    Anything in a folder named *.yaml that is not a folder is listed, FIFOs and broken links
    included, so that reading it reports what is wrong instead of skipping it silently."""
    found: list[Path] = []
    for path in map(Path, paths):
        for look in (os.lstat, os.stat):  # the path, then where a link leads
            try:
                look(path)
            except (FileNotFoundError, NotADirectoryError):
                pass  # said below
            except OSError as err:  # a name the file system cannot hold (ENAMETOOLONG), a denied folder
                if err.errno != errno.ELOOP:  # a link loop: said below
                    raise SpecError(
                        f"cannot read spec file: {err.strerror or err}",
                        shown_path(path, relative=False, limit=120),
                        value=str(path),
                    ) from None
        if path.is_symlink() and not path.exists():
            raise SpecError("a symbolic link that leads nowhere (or loops)", str(path), value=str(path))
        if not path.exists():
            raise SpecError("no such spec file or folder", str(path), value=str(path))
        files = sorted(_yaml_files(path)) if path.is_dir() else [path]
        if not files:
            raise SpecError("no spec files (*.yaml, *.yml) in this folder", str(path), value=str(path))
        found += files
    # one run per file however it is spelled (`ok.yaml sub/../ok.yaml`, a link to it, a hard link):
    # the first spelling
    first: dict[object, Path] = {}
    for p in found:
        first.setdefault(file_identity(p), p)
    return list(first.values())


def file_identity(path: Path) -> object:
    """One value per file however it is named: its (device, inode), where it can be read."""
    try:
        info = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (info.st_dev, info.st_ino)


MAX_ENTRIES = 100_000  # files and folders searched for specs: `invcheck validate /` ends, quickly


def _yaml_files(folder: Path) -> list[Path]:
    """*.yaml/*.yml below `folder`; linked folders are not followed (no cycles, no file twice)."""
    out, seen = [], 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # .github/...
        seen += len(dirs) + len(files)
        if seen > MAX_ENTRIES:
            raise SpecError(
                f"more than {MAX_ENTRIES} entries below this folder",
                str(folder),
                value=str(folder),
                hint="name the folder that holds the specs",
            )
        here = Path(root)
        out += [
            here / name
            for name in [*files, *_linked_dirs(here, dirs)]
            if name.endswith((".yaml", ".yml")) and not name.startswith(".")
        ]
    return out


def _linked_dirs(here: Path, dirs: list[str]) -> list[str]:
    """os.walk lists a link to a folder among folders; a link is not searched, only reported
    when it is named like a spec."""
    return [d for d in dirs if (here / d).is_symlink()]


def load_text(text: str, file: str = "<spec>") -> list[CheckConfig]:
    """The checks of YAML text; raises the first SpecError."""
    report = Report(file)
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
    loaded = [_load(path, str(path)) for path in discover(paths)]
    _raise_first([err for _, errors in loaded for err in errors])
    return [check for checks, _ in loaded for check in checks]


def validate(paths: Sequence[str | Path]) -> list[SpecError]:
    """Every error in the specs under `paths` (one per bad value); empty when all is well."""
    errors: list[SpecError] = []
    for path in paths:
        try:
            errors += [err for file in discover([path]) for err in _load(file, str(file))[1]]
        except SpecError as err:  # a missing path: the other paths are still worth checking
            errors.append(err)
    return errors


def key_line(check: CheckConfig, key: str) -> int | None:
    """The line of a check's `key` (its own, else the file's or its defaults'), read again from
    its file: for errors only found at run time (`device: cuda` on a machine without one)."""
    try:
        doc = read_yaml(Path(check.file), check.file) if check.file else None
    except SpecError:
        return None
    if not isinstance(doc, YMap):
        return None
    checks = doc.get("checks")
    own = [item for item in (checks if isinstance(checks, YList) else []) if isinstance(item, YMap)]
    defaults = doc.get("defaults")
    for where in [*(m for m in own if m.line == check.line), doc, defaults, doc.get("matrix")]:
        if isinstance(where, YMap) and key in where:
            return where.line_of(key)
    return None


def _raise_first(errors: list[SpecError]) -> None:
    if errors:
        raise errors[0]


def _load(path: Path, file: str) -> tuple[list[CheckConfig], list[SpecError]]:
    report = Report(file)
    try:
        checks = _file_checks(report, read_yaml(path, file))
    except SpecError as err:  # unreadable or not YAML: nothing more to say about this file
        return [], [err]
    return checks, report.unique()


# Files and checks ------------------------------------------------------------------------------


def _file_checks(r: Report, doc: object) -> list[CheckConfig]:
    """All checks one file declares; those with errors are left out, their errors are in `r`."""
    if not isinstance(doc, YMap):
        what = "empty" if doc is None else f"not a mapping (got {show(doc)})"
        r.add(f"spec file is {what}", getattr(doc, "line", None), doc, _WHAT_TO_WRITE)
        return []
    doc = known(r, doc, _FILE_KEYS, "the file")
    defaults, single = _defaults(r, doc), doc.pick(CHECK_KEYS)
    listed = "checks" in doc or "matrix" in doc
    if single and listed:
        key = next(iter(single))
        hint = "move it under 'defaults:'"
        r.add(f"check key {key!r} beside 'checks:'/'matrix:'", single.key_line(key), key, hint)
    elif not single and not listed and "scan" not in doc:
        r.add("no checks in this file", doc.line, None, _WHAT_TO_WRITE)
    if "scan" in doc:  # whole-model scans: validated here, run by invcheck.scan.spec
        from invcheck.scan.spec import entries

        entries(r, doc)
    clean = not r.errors  # no misspelt key: a missing norm or transform is really missing
    checks = [_build(r, _merge(defaults, _normalize(r, single)), clean)] if single and not listed else []
    checks += _check_list(r, doc, defaults) if "checks" in doc else []
    checks += _matrices(r, doc, defaults) if "matrix" in doc else []
    return [check for check in checks if check is not None]


def _defaults(r: Report, doc: YMap) -> YMap:
    value = doc.get("defaults")
    if isinstance(value, YMap):
        return _normalize(r, known(r, value, _DEFAULT_KEYS, "defaults"))
    if value is not None:
        r.add(f"defaults must be a mapping of check keys, got {show(value)}", doc.key_line("defaults"))
    return YMap(doc.line)


def _check_list(r: Report, doc: YMap, defaults: YMap) -> list[CheckConfig | None]:
    items = doc["checks"]
    if not isinstance(items, YList) or not items:
        r.add(f"checks must be a non-empty list of checks, got {show(items)}", doc.key_line("checks"), items)
        return []
    checks = []
    for item, line in zip(items, items.lines):
        if isinstance(item, YMap):
            before = len(r.errors)
            own = _normalize(r, known(r, item, CHECK_KEYS, "a check"))
            checks.append(_build(r, _merge(defaults, own), require=len(r.errors) == before))
        else:
            r.add(f"a check must be a mapping of check keys, got {show(item)}", line, item)
    return checks


def _normalize(r: Report, m: YMap) -> YMap:
    """Check keys with `norm: x` read as {id: x} (and so on), a check-level `impl` put into the norm."""
    out = YMap(m.line)
    for key, value in m.items():
        value = _section(r, m, key) if key in _SECTIONS else value
        if key != "impl":
            out.put(key, value, m.line_of(key), m.key_line(key))
    if "impl" in m:
        norm = out.get("norm", YMap(m.line_of("impl")))
        if "impl" in norm:
            r.add("impl is given twice, for the check and under norm", m.key_line("impl"), m["impl"])
        norm.put("impl", m["impl"], m.line_of("impl"), m.key_line("impl"))
        out.put("norm", norm, out.line_of("norm") if "norm" in out else norm.line)
    return out


def _section(r: Report, m: YMap, key: str) -> YMap:
    """A norm, transform or layer value as a mapping of known keys (empty after an error)."""
    value, line = m[key], m.line_of(key)
    if isinstance(value, str):
        return YMap.one(_SHORTHAND[key], value, line)
    if isinstance(value, YMap):
        return known(r, value, _SECTIONS[key], key)
    hint = f"a matrix takes several as '{key}s: [...]'" if isinstance(value, YList) else None
    r.add(f"{key} must be an id or a mapping, got {show(value)}", m.key_line(key), value, hint)
    return YMap(line)


def _merge(base: YMap, over: YMap) -> YMap:
    """`over` wins key by key; norm, transform and layer mappings merge one level down."""
    out = base.pick(base)
    out.line = over.line
    for key, value in over.items():
        if key in _SECTIONS and isinstance(base.get(key), YMap):
            value = _merge(_same_kind(base[key], value) if key == "layer" else base[key], value)
        out.put(key, value, over.line_of(key), over.key_line(key))
    return out


def _same_kind(base: YMap, over: YMap) -> YMap:
    """A layer that switches kind keeps none of the inherited keys of the other kind."""
    kind = over.get("kind")
    if isinstance(kind, str) and kind in _LAYER_KEYS and kind != base.get("kind"):
        kept = [
            key
            for key in _LAYER_KEYS[kind]
            if key != "layout" or base.get("layout") in LAYER_KINDS[kind].layouts
        ]  # conv's layout
        return base.pick(kept)
    return base


# Matrices --------------------------------------------------------------------------------------


def _matrices(r: Report, doc: YMap, defaults: YMap) -> list[CheckConfig | None]:
    value = doc["matrix"]
    many = isinstance(value, YList) and value
    tables = zip(value, value.lines) if many else [(value, doc.key_line("matrix"))]
    checks = []
    for table, line in tables:
        if isinstance(table, YMap):
            checks += _expand(r, table, defaults)
        else:
            r.add(f"a matrix must be a mapping, got {show(table)}", line, table)
    return checks


def _expand(r: Report, table: YMap, defaults: YMap) -> list[CheckConfig | None]:
    """One check per layer x norm x transform cell, named layer/norm/transform."""
    table = known(r, table, _MATRIX_KEYS, "matrix")
    base = _merge(defaults, _normalize(r, table.pick(_MATRIX_CHECK_KEYS)))
    layers: Sequence[tuple[str | None, int]] = [(None, table.line)]  # None: the kind from `layer:`
    transforms = [(transform, table.line) for transform in names.PAPER_TRANSFORMS]
    if "layers" in table:
        layers = id_list(r, table, "layers", names.LAYERS, "layer")
        kind = table.get("layer")
        if isinstance(kind, (str, YMap)) and (isinstance(kind, str) or "kind" in kind):
            r.add(
                "a matrix takes layer (one kind) or layers (a list), not both",
                table.key_line("layer"),
                hint="put the sizes under 'layer:' without 'kind:', or drop 'layers:'",
            )
    if "transforms" in table:
        transforms = id_list(r, table, "transforms", names.TRANSFORMS, "transform")
    if not {"norms", "expect"} & set(table) and "norm" not in base:
        r.add("matrix has no norms", table.line, hint="add 'expect:' rows, 'norms: [...]' or 'norm:'")
        return []
    checks = []
    for kind, kind_line in layers if transforms else []:
        for cell in _cells(r, table, kind, [k for k, _ in layers], transforms):
            if cell.norm is not None and "module" in base.get("norm", ()):
                hint = "give a module norm one row, `expect: [...]`, without a norm id"
                r.add("rows by norm id do not apply to a 'module:' norm", cell.norm_line, cell.norm, hint)
                continue
            check = _build(r, _merge(base, _cell_map(cell, kind, kind_line)))
            checks.append(check and check.with_(name=check.title))
    return checks


def _cells(r: Report, table: YMap, kind: str | None, kinds: list, transforms: Transforms) -> list[_Cell]:
    """The norm x transform cells of one layer of a matrix."""
    if "norms" in table and "expect" in table:
        hint = "expect's rows name the norms"
        r.add("a matrix takes norms or expect, not both", table.key_line("norms"), hint=hint)
        return []
    if "norms" in table:
        norms = id_list(r, table, "norms", names.NORMS, "norm")
        return [_Cell(norm, line, t, None, line) for norm, line in norms for t, _ in transforms]
    if "expect" not in table:
        return [_Cell(None, line, transform, None, line) for transform, line in transforms]
    if kind is None:
        return _rows(r, table["expect"], table.key_line("expect"), transforms)
    by_layer = table["expect"]
    if not isinstance(by_layer, YMap) or kind not in by_layer:
        hint = "nest expect by layer: {dense: {norm: [...]}, conv: {...}}"
        message = f"with layers, expect needs rows for each layer ({kind!r} has none)"
        r.add(message, table.key_line("expect"), kind, hint)
        return []
    known(r, by_layer, kinds, "expect by layer")
    return _rows(r, by_layer[kind], by_layer.key_line(kind), transforms)


def _rows(r: Report, expect: object, line: int, transforms: Transforms) -> list[_Cell]:
    """Cells of `expect`: {norm: row}, or one row (a list) for the matrix's own `norm:`."""
    if isinstance(expect, YMap):
        rows = [(norm, expect.key_line(norm), row) for norm, row in expect.items()]
    else:
        rows = [(None, line, expect)]
    return [cell for norm, at, row in rows for cell in _row(r, norm, at, row, transforms)]


def _row(r: Report, norm: object, line: int, row: object, transforms: Transforms) -> list[_Cell]:
    """One norm's verdicts (its key at `line`): a list in `transforms` order, or {transform: verdict}."""
    order = [transform for transform, _ in transforms]
    label = "expect" if norm is None else f"expect row {show(norm)}"
    if isinstance(row, YList) and len(row) == len(order):
        return [_Cell(norm, line, *cell) for cell in zip(order, row, row.lines)]
    if isinstance(row, YList):
        hint = "one verdict per transform: " + ", ".join(order)
        r.add(f"{label} has {len(row)} verdicts but transforms has {len(order)}", line, row, hint)
    elif isinstance(row, YMap):
        known(r, row, order, label)
        return [_Cell(norm, line, t, row[t], row.line_of(t)) for t in order if t in row]
    else:
        wanted = "a list of verdicts or a mapping {transform: verdict}"
        r.add(f"{label} must be {wanted}, got {show(row)}", line, row)
    return []


def _cell_map(cell: _Cell, kind: str | None, kind_line: int) -> YMap:
    """The keys one matrix cell sets, located where the matrix says them."""
    over = YMap(cell.line)
    if cell.norm is not None:
        over.put("norm", YMap.one("id", cell.norm, cell.norm_line), cell.norm_line)
    over.put("transform", YMap.one("id", cell.transform, cell.line), cell.line)
    if kind is not None:
        over.put("layer", YMap.one("kind", kind, kind_line), kind_line)
    if cell.verdict is not None:
        over.put("expect", cell.verdict, cell.line)
    return over


# Building and cross-checking -------------------------------------------------------------------


def _build(r: Report, m: YMap, require: bool = True) -> CheckConfig | None:
    """One merged check -> CheckConfig, or None once its errors are reported.

    `require` False: a misspelt key was reported, so "check has no transform" would be noise."""
    before = len(r.errors)
    for key in ("norm", "transform") if require else ():
        if key not in m:
            r.add(f"check has no {key}", m.line, None, f"add '{key}:' to the check or to 'defaults:'")
    maps = {key: m.get(key, YMap(m.line)) for key in _SECTIONS}
    module = "module" in maps["norm"]
    said = {err.line for err in r.errors}  # a section refused as a whole (`norm: 5`) is one error, not two
    if (
        "norm" in m
        and not {"id", "module"} & set(maps["norm"])
        and not {m.line_of("norm"), m.key_line("norm")} & said
    ):
        r.add(
            "norm names neither an id nor a module",
            m.line_of("norm"),
            None,
            "add id: (say layer_norm) or module: 'package.module:Name'",
        )
    fields = values(r, maps["norm"], rules.MODULE_NORM_FIELDS if module else rules.NORM_FIELDS)
    norm = NormConfig(**({"id": "custom"} | fields if module else fields))
    layer = _layer(r, maps["layer"])
    transform = _transform(r, m, maps["transform"])
    top = values(r, m, _CHECK_FIELDS)
    if len(r.errors) > before:  # else the values to cross-check may be stand-in defaults
        return None
    check = check_config(norm, transform, layer, file=r.file, line=m.line, **top)
    for p in rules.problems(check, {key: set(maps[key]) for key in ("norm", "transform")}):
        where = maps[p.section] if p.section else m
        r.add(p.message, where.line_of(p.key) if p.key in where else where.line, p.value, p.hint)
    return None if len(r.errors) > before else check


def _transform(r: Report, check: YMap, m: YMap) -> TransformConfig:
    """A built-in transform by id, or the user's own by `module:` (its id a label, default its path);
    never dataset_rescale by default. A value refused as a whole (`transform: [1]`) was said once."""
    said = {err.line for err in r.errors}
    refused = bool({check.line_of("transform"), check.key_line("transform")} & said)
    if "transform" in check and not {"id", "module"} & set(m) and not refused:
        r.add(
            "transform names neither an id nor a module",
            check.line_of("transform"),
            None,
            "add id: (say dataset_rescale) or module: 'package.module:function'",
        )
    if "module" not in m:
        for key in ("kwargs",):
            if key in m:
                r.add(f"{key} applies only to a 'module:' transform", m.key_line(key), key, "remove it")
        return TransformConfig(**values(r, m, rules.TRANSFORM_FIELDS))
    parsed = values(r, m, rules.MODULE_TRANSFORM_FIELDS)
    return TransformConfig(**cast(dict[str, Any], {"id": parsed.get("module") or "custom"} | parsed))


def _layer(r: Report, m: YMap) -> LayerConfig:
    """Layer fields; a key of another kind would go unused silently, so it is an error."""
    kind = m.get("kind", DEFAULT_KIND)
    known_kind = kind if isinstance(kind, str) and kind in LAYER_KINDS else None
    parsed = values(r, m, rules.layer_fields(known_kind))
    for key in m if known_kind else ():
        if key not in _LAYER_KEYS[kind]:
            r.add(
                f"{key!r} is not a {kind} layer key",
                m.key_line(key),
                key,
                f"a {kind} layer takes " + ", ".join(_LAYER_KEYS[kind][1:]),
            )
    options = {key: parsed.pop(key) for key in ("layout", "placement") if key in parsed}
    parsed.pop("kind", None)
    sizes = {key: value for key, value in parsed.items() if known_kind and key in _LAYER_KEYS[kind]}
    return LayerConfig(known_kind or DEFAULT_KIND, **options, **sizes)
