"""`scan:` entries of a spec file: a whole model scanned in CI, with expectations by name glob.

    scan:
      - name: resnet, batch statistics          # optional (default: the model string)
        model: examples/scan_resnet.py:build    # path.py:factory (beside the spec) or pkg.mod:factory
        kwargs: {width: 8}                      # passed to the factory
        mode: train                             # eval (default) | train
        input_shape: [4, 3, 16, 16]             # when the factory returns a model without inputs
        output: logits                          # a field of a tuple/dict/ModelOutput output
        seed: 0
        trials: 2
        expect:                                 # fnmatch glob of parameter names -> {transform: verdict}
          "layer*.conv*.weight": {weight_matrix_rescale: invariant, weight_vector_rescale: invariant}
          "fc.weight": {weight_matrix_rescale: not_invariant}

A glob's `*` crosses dots (`layer*.conv*.weight` matches `layer1.0.conv1.weight`). Every tensor a
glob matches must have the verdict it expects; a glob that matches no parameter of the model is an
error (exit 2 in `invcheck run`, an error in pytest), never a silent pass. The factory returns a
model or `(model, inputs)`. Importing it runs user code, so a scan entry needs the permission a
`module:` norm needs (`--allow-import`, `--invcheck-allow-import`, or `allow-import = true`).

Loading and validating are torch-free; `run_entry` imports torch and the engine.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from invcheck.errors import ImportRefused, InvcheckError, SpecError, UserCodeError
from invcheck.rules import MAX_SEED
from invcheck.scan.report import TRANSFORMS, VERDICTS, ScanReport
from invcheck.spec_values import (
    Bad,
    Parser,
    check_name,
    choice,
    described,
    integer,
    kwargs,
    optional,
    show,
    text,
)
from invcheck.spec_yaml import Report, YList, YMap, known, read_yaml

MODES = ("eval", "train")
MAX_DIMS, MAX_SIZE = 8, 1_000_000
MAX_TRIALS = 64
_MODEL_PATTERN = r"^[^:\s][^:]*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$"


@described({"type": "string", "pattern": _MODEL_PATTERN})
def model_path(value: Any, key: str) -> str:
    """`pkg.mod:factory` or `path/to/file.py:factory`; checked for shape only, never imported here."""
    import re

    if not isinstance(value, str) or not re.fullmatch(_MODEL_PATTERN, value):
        raise Bad(
            f"{key} {show(value)} names no factory", "write 'package.module:factory' or 'file.py:factory'"
        )
    target = value.rpartition(":")[0]
    if not target.endswith(".py") and not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", target):
        raise Bad(f"{key} {show(value)}: {target!r} is neither a module path nor a .py file")
    return value


@described(
    {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_DIMS,
        "items": {"type": "integer", "minimum": 1, "maximum": MAX_SIZE},
    }
)
def input_shape(value: Any, key: str) -> tuple[int, ...]:
    size = integer(1, MAX_SIZE)
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_DIMS:
        raise Bad(f"{key} must be a list of 1 to {MAX_DIMS} sizes, got {show(value)}", "say [4, 3, 16, 16]")
    return tuple(size(v, key) for v in value)


SCAN_FIELDS: dict[str, Parser] = {
    "name": optional(check_name),
    "model": model_path,
    "kwargs": kwargs,
    "mode": choice(MODES, "mode"),
    "input_shape": input_shape,
    "output": text,
    "seed": integer(0, MAX_SEED),
    "trials": integer(1, MAX_TRIALS),
}
SCAN_KEYS: tuple[str, ...] = (*SCAN_FIELDS, "expect")
_VERDICT = choice(VERDICTS, "verdict")


@dataclass(frozen=True)
class Expectation:
    """One (glob, transform) -> verdict of `expect:`, at its line."""

    glob: str
    transform: str
    verdict: str
    line: int


@dataclass(frozen=True)
class ScanEntry:
    """One `scan:` entry, validated."""

    model: str
    expect: tuple[Expectation, ...]
    name: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    mode: str = "eval"
    input_shape: tuple[int, ...] | None = None
    output: str | None = None
    seed: int = 0
    trials: int = 2
    file: str | None = None
    line: int | None = None

    @property
    def title(self) -> str:
        return self.name or f"{self.model} ({self.mode})"

    @property
    def location(self) -> str:
        return f"{self.file or '<spec>'}:{self.line}" if self.line else (self.file or "<spec>")


# Reading ----------------------------------------------------------------------------------------


def entries(r: Report, doc: YMap) -> list[ScanEntry]:
    """The `scan:` entries of a spec file's mapping; errors go to `r` (bad entries left out)."""
    if "scan" not in doc:
        return []
    value, line = doc["scan"], doc.key_line("scan")
    if r.file == "<stdin>":
        r.add("scan entries are read from spec files, not stdin", line, hint="save the spec to a file")
        return []
    items = list(zip(value, value.lines)) if isinstance(value, YList) else [(value, line)]
    if isinstance(value, YList) and not value:
        r.add("scan must be a scan entry or a non-empty list of them, got []", line, value)
    out = []
    for item, at in items:
        if not isinstance(item, YMap):
            hint = "write {model: 'pkg.mod:factory', expect: {...}}"
            r.add(f"a scan entry must be a mapping, got {show(item)}", at, item, hint)
            continue
        entry = _entry(r, item)
        if entry is not None:
            out.append(entry)
    return out


def _entry(r: Report, m: YMap) -> ScanEntry | None:
    before = len(r.errors)
    m = known(r, m, SCAN_KEYS, "a scan entry")
    parsed: dict[str, Any] = {}
    for key, parser in SCAN_FIELDS.items():
        if key in m:
            try:
                parsed[key] = parser(m[key], key)
            except Bad as exc:
                r.add(str(exc), m.line_of(key), m[key], exc.hint)
    if "model" not in m:
        r.add("scan entry has no model", m.line, None, "add model: 'package.module:factory'")
    if "expect" not in m:
        r.add(
            "scan entry has no expect",
            m.line,
            None,
            'add expect: {"layer*.weight": {weight_matrix_rescale: invariant}}',
        )
    expect = _expectations(r, m) if "expect" in m else []
    if len(r.errors) > before:
        return None
    return ScanEntry(expect=tuple(expect), file=r.file, line=m.line, **parsed)


def _expectations(r: Report, m: YMap) -> list[Expectation]:
    value = m["expect"]
    if not isinstance(value, YMap) or not value:
        hint = 'say {"layer*.conv*.weight": {weight_matrix_rescale: invariant}}'
        r.add(
            f"expect must be a mapping of name globs to {{transform: verdict}}, got {show(value)}",
            m.line_of("expect"),
            value,
            hint,
        )
        return []
    out = []
    for glob, row in value.items():
        at = value.key_line(glob)
        if not isinstance(glob, str) or not glob.strip():
            r.add(f"an expect key must be a parameter-name glob, got {show(glob)}", at, glob)
            continue
        if not isinstance(row, YMap) or not row:
            r.add(
                f"expect {glob!r} must be a mapping {{transform: verdict}}, got {show(row)}",
                value.line_of(glob),
                row,
            )
            continue
        for transform, verdict in known(r, row, TRANSFORMS, f"expect {glob!r}").items():
            try:
                out.append(Expectation(glob, transform, _VERDICT(verdict, transform), row.line_of(transform)))
            except Bad as exc:
                r.add(str(exc), row.line_of(transform), verdict, exc.hint)
    return out


def load_file(path: str | Path) -> list[ScanEntry]:
    """The scan entries of one spec file; raises its first SpecError."""
    r = Report(str(path))
    doc = read_yaml(Path(path), str(path))
    found = entries(r, doc) if isinstance(doc, YMap) else []
    if r.errors:
        raise r.unique()[0]
    return found


def load_files(files: Sequence[Path]) -> list[ScanEntry]:
    """The scan entries of spec files (found by spec.discover, as `invcheck run` finds them)."""
    return [e for file in files for e in load_file(file)]


def item_names(found: Sequence[ScanEntry], taken: set[str]) -> list[str]:
    """Test ids of scan entries (pytest's items, JUnit's testcases): `scan: TITLE`, '@line' added
    until unique among `taken` (the ids of the file's checks), which grows."""
    names = []
    for entry in found:
        name = f"scan: {entry.title}"
        while name in taken:
            name += f"@{entry.line}"
        taken.add(name)
        names.append(name)
    return names


# Permission and loading the model --------------------------------------------------------------


def refused(entry: ScanEntry, flag: str) -> ImportRefused:
    hint = "or set allow-import = true under [tool.invcheck] in pyproject.toml"
    return ImportRefused(
        f"{entry.location}: scan model '{entry.model}' would import and run user code; pass {flag} ({hint})"
    )


def _user_error(entry: ScanEntry, message: str) -> UserCodeError:
    return UserCodeError(f"{entry.location}: model {entry.model!r}: {message}", message)


def load_factory(entry: ScanEntry) -> Callable[..., Any]:
    """The factory `entry.model` names: a .py file (relative to the spec's folder, else the working
    directory) or a module (the working directory, the spec's folder and its project's root are
    appended to sys.path, as for a `module:` norm)."""
    from invcheck.impls.user_load import contained, first_line, guarded, raised_at

    target, _, attr = entry.model.rpartition(":")
    try:
        with guarded():
            module = _import_file(entry, target) if target.endswith(".py") else _import_module(entry, target)
    except UserCodeError:
        raise
    except SyntaxError as exc:
        raise _user_error(entry, f"syntax error in {exc.filename}:{exc.lineno}: {exc.msg}") from None
    except BaseException as exc:
        contained(exc)
        raise _user_error(entry, f"importing {target!r} raised {first_line(exc)}{raised_at(exc)}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = [n for n in dir(obj) if not n.startswith("_")]
            raise _user_error(
                entry,
                f"{target!r} has no attribute {part!r} (it has: {', '.join(public[:12]) or 'nothing public'})",
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise _user_error(entry, f"{attr!r} is a {type(obj).__name__}, not a factory")
    return obj


def _folders(entry: ScanEntry) -> list[Path]:
    from invcheck.project_config import find_pyproject

    folders = [Path.cwd()]
    if entry.file:
        spec_path = Path(entry.file).resolve()
        project = find_pyproject(spec_path)
        folders += [spec_path.parent] + ([project.parent] if project else [])
    return folders


def _import_file(entry: ScanEntry, target: str) -> Any:
    base = Path(entry.file).resolve().parent if entry.file else Path.cwd()
    path = Path(target) if Path(target).is_absolute() else base / target
    if not path.is_file() and not Path(target).is_absolute() and (Path.cwd() / target).is_file():
        path = Path.cwd() / target  # a path written from where the command runs
    if not path.is_file():
        raise _user_error(
            entry, f"no file {target} (looked beside the spec, in {base}, and in the working directory)"
        )
    name = f"invcheck_scan_model_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    loader_spec = importlib.util.spec_from_file_location(name, path)
    assert loader_spec is not None and loader_spec.loader is not None
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    folder = str(path.parent)
    added = folder not in sys.path
    if added:  # its own helpers import from beside it; appended, never shadowing an installed module
        sys.path.append(folder)
    try:
        loader_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _import_module(entry: ScanEntry, target: str) -> Any:
    for folder in _folders(entry):
        if all(os.path.abspath(p or os.curdir) != str(folder) for p in sys.path):
            sys.path.append(str(folder))
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and (target == exc.name or target.startswith(exc.name + ".")):
            raise _user_error(
                entry,
                f"no module named {exc.name!r} (looked in the working directory, the spec's folder, its project's root and sys.path)",
            ) from None
        raise


def build(entry: ScanEntry) -> tuple[Any, Any]:
    """(model, inputs) from the factory: it returns a model, or (model, inputs); inputs None
    means `input_shape` (said missing by the engine when that is missing too)."""
    from torch import nn

    from invcheck.impls.user_load import contained, deadline, first_line, guarded, raised_at
    from invcheck.settings import CheckConfig, NormConfig

    factory = load_factory(entry)
    named = CheckConfig(norm=NormConfig(module=entry.model), file=entry.file, line=entry.line)
    try:
        with deadline(named), guarded():  # a factory that hangs: one line after the timeout
            made = factory(**entry.kwargs)
    except InvcheckError:  # the deadline's own line (file:line: module '...': did not finish ...)
        raise
    except BaseException as exc:
        contained(exc)
        raise _user_error(entry, f"the factory raised {first_line(exc)}{raised_at(exc)}") from None
    model, inputs = made if isinstance(made, tuple) and len(made) == 2 else (made, None)
    if not isinstance(model, nn.Module):
        raise _user_error(
            entry,
            f"the factory returned a {type(model).__name__}, not a torch.nn.Module (or (model, inputs))",
        )
    return model, inputs


# Running and judging ----------------------------------------------------------------------------


@dataclass
class Outcome:
    """A scan entry run: its report, and each expectation that did not hold."""

    entry: ScanEntry
    report: ScanReport | None
    mismatches: list[str]
    error: str | None = None  # the one-line error of an entry that could not run
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and not self.mismatches

    def to_json(self) -> dict[str, Any]:
        e = self.entry
        status = "error" if self.error is not None else ("passed" if self.passed else "failed")
        return {
            "name": e.title,
            "model": e.model,
            "mode": e.mode,
            "spec": e.location,
            "status": status,
            "mismatches": list(self.mismatches),
            "error": self.error,
            "seconds": self.seconds,
            "report": None if self.report is None else self.report.to_json(),
        }

    def line(self) -> str:
        e = self.entry
        if self.error is not None:
            return f"ERROR scan {e.title}: {self.error}"
        checked = len(e.expect)
        if self.passed:
            tensors = len({p.name for p in self.report.parameters}) if self.report else 0
            return f"PASS  scan {e.title}: {checked} expectation(s) held on {tensors} tensors"
        return f"FAIL  scan {e.title}: {len(self.mismatches)} verdict(s) differ\n" + "\n".join(
            f"  {m}" for m in self.mismatches
        )


def judge(entry: ScanEntry, report: ScanReport) -> list[str]:
    """Each expected verdict that differs, as one line; a glob matching no parameter is a SpecError."""
    names = list(dict.fromkeys(p.name for p in report.parameters))
    out = []
    for x in entry.expect:
        matched = [n for n in names if fnmatch.fnmatchcase(n, x.glob)]
        if not matched:
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise SpecError(
                f"expect glob {x.glob!r} matches no parameter of the model",
                entry.file,
                x.line,
                x.glob,
                f"it has: {shown}",
            )
        for name in matched:
            try:
                p = report.verdict_of(name, x.transform)
            except KeyError:
                out.append(f"{entry.file}:{x.line}: {name} {x.transform}: expected {x.verdict}, not scanned")
                continue
            if p.verdict != x.verdict:
                out.append(
                    f"{entry.file}:{x.line}: {name} {x.transform}: expected {x.verdict}, got {p.verdict} "
                    f"(deviation {p.deviation:.3g}, tolerance {p.tolerance:.3g}; {p.why})"
                )
    return out


def run_entry(entry: ScanEntry) -> Outcome:
    """Build the model, scan it, hold it to the expectations (an InvcheckError where it cannot run)."""
    from invcheck.scan import scan

    model, inputs = build(entry)
    report = scan(
        model,
        inputs,
        mode=entry.mode,
        input_shape=entry.input_shape,
        output=entry.output,
        seed=entry.seed,
        trials=entry.trials,
        name=entry.model,
    )
    return Outcome(entry, report, judge(entry, report))


def run_or_error(entry: ScanEntry) -> Outcome:
    import time

    from invcheck.errors import one_line

    started = time.perf_counter()
    try:
        outcome = run_entry(entry)
    except InvcheckError as err:
        message = one_line(str(err).splitlines()[0] if str(err) else type(err).__name__)
        outcome = Outcome(entry, None, [], message)
    outcome.seconds = time.perf_counter() - started
    return outcome


@dataclass
class ScanRun:
    """The scan entries of one `invcheck run`, run."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(o.error is None and not o.passed for o in self.outcomes)

    @property
    def errors(self) -> int:
        return sum(o.error is not None for o in self.outcomes)

    def to_json(self) -> list[dict[str, Any]]:
        """One object per entry, for `invcheck run --format json` (its "scans" key)."""
        return [o.to_json() for o in self.outcomes]


# Hooks for `invcheck run` ----------------------------------------------------------------------


def planned(files: Sequence[Path], allow_import: bool) -> list[ScanEntry]:
    """The scan entries of `invcheck run`'s spec files (discovered), refused before anything runs
    when importing user code is not allowed (the flag, or allow-import in the project's pyproject.toml)."""
    found = load_files(files)
    if found and not allow_import:
        from invcheck.cli.common import config_allows_import

        if not config_allows_import(list(files)):
            raise refused(found[0], "--allow-import")
    return found


def run_all(found: Sequence[ScanEntry], *, to_stdout: bool, quiet: bool = False) -> ScanRun:
    """Run each entry, printing its line (stdout when the report streams there, else stderr, so
    that a JSON report stays JSON), then a summary line."""
    import typer

    done = ScanRun()
    for entry in found:
        outcome = run_or_error(entry)
        done.outcomes.append(outcome)
        if not (quiet and outcome.passed):
            typer.echo(outcome.line(), err=not to_stdout)
    if found:
        passed = len(found) - done.failed - done.errors
        typer.echo(
            f"scans: {passed} passed, {done.failed} failed, {done.errors} could not run", err=not to_stdout
        )
    return done


def schema() -> dict[str, Any]:
    """The JSON Schema of `scan:` (one entry or a list), for `invcheck schema`."""
    from invcheck.spec_values import schema_of

    verdicts = {"type": "object", "propertyNames": {"enum": list(TRANSFORMS)}, "minProperties": 1}
    verdicts["additionalProperties"] = {"enum": list(VERDICTS)}
    entry = {
        "type": "object",
        "properties": {
            **{key: schema_of(parser) for key, parser in SCAN_FIELDS.items()},
            "expect": {"type": "object", "minProperties": 1, "additionalProperties": verdicts},
        },
        "required": ["model", "expect"],
        "additionalProperties": False,
    }
    return {"anyOf": [entry, {"type": "array", "minItems": 1, "items": entry}]}
