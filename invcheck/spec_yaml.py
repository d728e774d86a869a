"""Reading spec YAML: a safe loader that remembers lines, and parsers for typed values.

Mappings load as `YMap` and sequences as `YList`: plain dicts and lists that also know the
1-based line of themselves, of each key and of each value, so that spec errors can point at
file:line. Only plain data is built (a SafeLoader subclass); other tags and duplicate keys are
refused with their line. The value parsers turn YAML values into settings fields or raise `Bad`
with a message that names the bad value; `Report` collects such errors so that all are listed.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from invcheck.errors import SpecError

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YMap(dict):
    """A mapping that remembers the line of itself, of each key and of each value."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}

    @classmethod
    def one(cls, key: str, value: Any, line: int) -> "YMap":
        """A one-key mapping written by code (`norm: x` read as `{id: x}`)."""
        out = cls(line)
        out.put(key, value, line)
        return out

    def put(self, key: Any, value: Any, line: int, key_line: int | None = None) -> None:
        self[key] = value
        self.value_lines[key] = line
        self.key_lines[key] = key_line or line

    def line_of(self, key: Any) -> int:
        """Line of the value at `key`, or of the mapping itself when the key is absent."""
        return self.value_lines.get(key, self.line)

    def key_line(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)

    def pick(self, keys: Iterable[Any]) -> "YMap":
        """A copy holding only `keys` (those present), lines included."""
        wanted = set(keys)
        out = YMap(self.line)
        for key, value in self.items():
            if key in wanted:
                out.put(key, value, self.line_of(key), self.key_line(key))
        return out


class YList(list):
    """A sequence that remembers the line of itself and of each item."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.lines[index]


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _refuse_duplicates(node: MappingNode) -> None:
    """YAML keeps the last of two equal keys silently; a spec with both is a mistake."""
    first: dict[str, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
            continue
        if key_node.value in first:
            problem = f"duplicate key {key_node.value!r} (first at line {first[key_node.value]})"
            raise ConstructorError(None, None, problem, key_node.start_mark)
        first[key_node.value] = _line(key_node)


class _Loader(yaml.SafeLoader):
    """SafeLoader building YMap/YList; every tag beyond plain data is refused."""

    def construct_ymap(self, node: MappingNode) -> YMap:
        _refuse_duplicates(node)
        self.flatten_mapping(node)  # `<<: *anchor` merge keys
        out = YMap(_line(node))
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (YMap, YList)):
                raise ConstructorError(None, None, "a key must be a plain value", key_node.start_mark)
            value = self.construct_object(value_node, deep=True)
            out.put(key, value, _line(value_node), _line(key_node))
        return out

    def construct_ylist(self, node: SequenceNode) -> YList:
        out = YList(_line(node))
        for item in node.value:
            out.append(self.construct_object(item, deep=True))
            out.lines.append(_line(item))
        return out

    def refuse_tag(self, node: Node) -> None:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        problem = f"refused YAML tag {tag!r}: specs are loaded as plain data (safe YAML only)"
        raise ConstructorError(None, None, problem, node.start_mark)


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_ymap)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_ylist)
_Loader.add_constructor(None, _Loader.refuse_tag)


def parse_yaml(text: str, file: str) -> Any:
    """The data of one YAML document, or SpecError at the line of the first problem."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = exc.problem or "invalid YAML"
        if not isinstance(exc, ConstructorError):
            detail = f"YAML syntax error: {detail}"
        hint = None
        if exc.context and exc.context_mark and exc.context_mark is not mark:
            hint = f"{exc.context} at line {exc.context_mark.line + 1}"
        raise SpecError(detail, file, mark.line + 1 if mark else None, hint=hint) from None
    except yaml.YAMLError as exc:  # reader errors (bad characters) carry a position, no mark
        raise SpecError(f"invalid YAML: {str(exc).splitlines()[0]}", file) from None


def read_yaml(path: Path, file: str) -> Any:
    """`parse_yaml` of a file; unreadable files are SpecErrors too."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read spec file: {exc}", file) from None
    return parse_yaml(text, file)


# Typed values --------------------------------------------------------------------------------

Parser = Callable[[Any, str], Any]  # (value, key) -> parsed value, or raises Bad

# Each parser describes what it accepts as a JSON-Schema fragment, its `schema` attribute:
# `invcheck schema` assembles the spec format's schema from these, so no rule is written twice.
_NUMERIC_TEXT = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"  # YAML reads `1e-5` as text


def described(schema: dict[str, Any]) -> Callable[[Parser], Parser]:
    """Attach `schema` (a JSON-Schema fragment) to a parser."""

    def attach(parser: Parser) -> Parser:
        parser.schema = schema  # type: ignore[attr-defined]
        return parser

    return attach


def schema_of(parser: Parser) -> dict[str, Any]:
    """The JSON-Schema fragment a parser accepts ({} (anything) for one that does not say)."""
    return dict(getattr(parser, "schema", {}))

_IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


class Bad(ValueError):
    """A bad value; the message names it, the caller adds file and line."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def show(value: Any) -> str:
    """A value as YAML spells it, short enough for a one-line message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 128:  # repr refuses ints of 4300+ digits
        return f"an integer of {len(format(value.bit_length() * 0.30103, '.0f'))}+ digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def did_you_mean(value: Any, options: Iterable[str]) -> str:
    options = list(options)
    close = difflib.get_close_matches(str(value), options, n=1)
    return f"did you mean {close[0]!r}?" if close else "expected one of: " + ", ".join(options)


MAX_VALUES = 10_000  # because YAML aliases can nest into billions of values from a few lines


def plain(value: Any, budget: list[int] | None = None) -> Any:
    """YMap/YList as plain dicts and lists, for values handed on as written (kwargs)."""
    budget = [MAX_VALUES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise Bad(f"more than {MAX_VALUES} values (nested YAML aliases?)")
    if isinstance(value, dict):
        return {key: plain(item, budget) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item, budget) for item in value]
    return value


def to_float(value: Any) -> float | None:
    """A finite float from an int, a float or numeric text (YAML reads `1e-5` as text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        result = float(value)
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def integer(low: int, high: int | None = None) -> Parser:
    """An integer in [low, high]: bounds keep a spec from asking for more memory than exists."""
    wanted = f">= {low}" if high is None else f"in [{low}, {high}]"

    def parse(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            raise Bad(f"{key} must be an integer {wanted}, got {show(value)}")
        return value

    bounds = {"minimum": low} | ({} if high is None else {"maximum": high})
    return described({"type": "integer", **bounds})(parse)


_DEVICE = re.compile(r"cpu|cuda|auto|cuda:\d{1,3}")


@described({"type": "string", "pattern": f"^({_DEVICE.pattern})$"})
def device(value: Any, key: str) -> str:
    """cpu, cuda, cuda:N or auto (cuda when there is one); whether it exists is checked at run time."""
    if isinstance(value, str) and _DEVICE.fullmatch(value):
        return value
    close = difflib.get_close_matches(str(value), ["cpu", "cuda", "auto"], n=1)
    raise Bad(f"unknown device {show(value)}", f"did you mean {close[0]!r}?" if close else "use cpu, cuda, cuda:N or auto")


def number(low: float, high: float = math.inf, strict: bool = False) -> Parser:
    """A finite number >= low (> low when strict) and <= high."""
    wanted = f"> {low:g}" if strict else f">= {low:g}" if high == math.inf else f"in [{low:g}, {high:g}]"

    def parse(value: Any, key: str) -> float:
        result = to_float(value)
        if result is None or result < low or (strict and result == low) or result > high:
            raise Bad(f"{key} must be a number {wanted}, got {show(value)}")
        return result

    bounds = {"exclusiveMinimum" if strict else "minimum": low} | ({} if high == math.inf else {"maximum": high})
    return described({"anyOf": [{"type": "number", **bounds}, {"type": "string", "pattern": _NUMERIC_TEXT}]})(parse)


def choice(options: Sequence[str], what: str) -> Parser:
    def parse(value: Any, key: str) -> str:
        if isinstance(value, str) and value in options:
            return value
        raise Bad(f"unknown {what} {show(value)}", did_you_mean(value, options))

    return described({"enum": list(options)})(parse)


def optional(parser: Parser) -> Parser:
    """`parser`, with null meaning "not set"."""
    schema = {"anyOf": [schema_of(parser), {"type": "null"}]}
    return described(schema)(lambda value, key: None if value is None else parser(value, key))


@described({"type": "boolean"})
def flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise Bad(f"{key} must be true or false, got {show(value)}")
    return value


@described({"type": "string", "pattern": r"\S"})
def text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Bad(f"{key} must be non-empty text, got {show(value)}")
    return value


@described({"type": "string", "pattern": f"^{_IMPORT_PATH.pattern}$"})
def module_path(value: Any, key: str) -> str:
    """An import path `package.module:Name`; checked for shape only, never imported here."""
    if not isinstance(value, str) or not _IMPORT_PATH.fullmatch(value):
        raise Bad(f"{key} {show(value)} is not an import path", "write it as 'package.module:Name'")
    return value


@described({"type": "object"})
def kwargs(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(name, str) for name in value):
        raise Bad(f"{key} must be a mapping of argument names to values, got {show(value)}")
    return plain(value)


@described({"type": "array", "minItems": 2, "maxItems": 2,
            "items": {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "pattern": _NUMERIC_TEXT}]}})
def scale(value: Any, key: str) -> tuple[float, float]:
    """A range [low, high] of positive scale factors."""
    if isinstance(value, list) and len(value) == 2:
        low, high = (to_float(item) for item in value)
        if low is not None and high is not None and 0 < low <= high and (low, high) != (1.0, 1.0):
            return (low, high)
    raise Bad(f"{key} must be [low, high] with 0 < low <= high, not [1, 1] (the identity), got {show(value)}")


# Validating mappings -------------------------------------------------------------------------


class Report:
    """The errors of one file; validation goes on after an error so that all of them are listed."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[SpecError] = []

    def add(self, message: str, line: int | None, value: Any = None, hint: str | None = None) -> None:
        self.errors.append(SpecError(message, self.file, line, value, hint))

    def unique(self) -> list[SpecError]:
        """The errors in line order, each once (a bad default is met once per check)."""
        seen: dict[str, SpecError] = {}
        for err in self.errors:
            seen.setdefault(str(err), err)
        return sorted(seen.values(), key=lambda err: err.line or 0)


def known(r: Report, m: YMap, allowed: Collection[str], where: str) -> YMap:
    """`m` without its unknown keys, each of them reported with a suggestion."""
    for key in m:
        if key not in allowed:
            r.add(f"unknown key {show(key)} in {where}", m.key_line(key), key, did_you_mean(key, allowed))
    return m.pick(allowed)


def values(r: Report, m: YMap, parsers: dict[str, Parser]) -> dict[str, Any]:
    """The parsed values of the keys of `m` that `parsers` knows; bad ones reported and left out."""
    out = {}
    for key, value in m.items():
        try:
            if key in parsers:
                out[key] = parsers[key](value, key)
        except Bad as exc:
            r.add(str(exc), m.line_of(key), value, exc.hint)
    return out


def id_list(r: Report, m: YMap, key: str, options: Sequence[str], what: str) -> list[tuple[str, int]]:
    """A list of ids such as `transforms: [...]`, each with its line; empty after an error."""
    items, before = m[key], len(r.errors)
    if not isinstance(items, YList) or not items:
        r.add(f"{key} must be a non-empty list of {what} ids, got {show(items)}", m.key_line(key), items)
    out: list[tuple[str, int]] = []
    for item, line in zip(items, getattr(items, "lines", [])):
        try:
            value = choice(options, what)(item, key)
        except Bad as exc:
            r.add(str(exc), line, item, exc.hint)
            continue
        if value in dict(out):
            r.add(f"{what} {value!r} is listed twice in {key}", line, value)
        out.append((value, line))
    return out if len(r.errors) == before else []
