"""Reading spec YAML: a safe loader that remembers lines, and the checks of a file's mappings.

Mappings load as `YMap` and sequences as `YList`: plain dicts and lists that also know the
1-based line of themselves, of each key and of each value, so that spec errors can point at
file:line. Only plain data is built (a SafeLoader subclass); other tags and duplicate keys are
refused with their line. The value parsers (`spec_values.py`) turn YAML values into settings fields or
raise `Bad` with a message that names the bad value; `Report` collects such errors so that all are
listed.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from invcheck.display import short_repr
from invcheck.errors import SpecError
from invcheck.spec_values import Bad, Parser, choice, did_you_mean, show

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YMap(dict):
    """A mapping that remembers the line of itself, of each key and of each value."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}

    @classmethod
    def one(cls, key: str, value: Any, line: int) -> YMap:
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

    def pick(self, keys: Iterable[Any]) -> YMap:
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


MAX_DEPTH = 64  # a spec nests a few levels; thousands would exhaust Python's recursion
MAX_NODES = 100_000  # values after aliases are expanded: a "billion laughs" stops here
MAX_SPEC_BYTES = 1 << 20  # a spec is a few kB; reading more is a mistake (or /dev/zero)


def _refused(node: Node, problem: str) -> ConstructorError:
    return ConstructorError(None, None, problem, node.start_mark)


def _conversion_problem(node: Node, exc: BaseException) -> str:
    """Why a scalar PyYAML accepted cannot become a value (bad date, 5000-digit int, ...)."""
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    value = node.value if isinstance(node, ScalarNode) else ""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, KeyError):
        reason = "not a value of this type"
    if "int" in tag and "digits" in reason:
        reason = f"an integer of {len(value)} digits is far too large"
    if tag == "!!timestamp":
        return f"{short_repr(value, 40)} reads as a date or time but is no valid one ({reason}); quote it if it is text"
    return f"cannot read {short_repr(value, 40)} as {tag} ({reason})"


class _Loader(yaml.SafeLoader):
    """SafeLoader building YMap/YList; every tag beyond plain data is refused, and so is every
    value it cannot convert, each at its line; nesting and alias expansion are bounded."""

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise ConstructorError(
                    None, None, f"values nested more than {MAX_DEPTH} deep", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Node | None:
        node = super().compose_document()
        if node is not None:
            _expanded_size(node, {}, set())
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            value = super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise _refused(node, _conversion_problem(node, exc)) from None
        if isinstance(value, str) and not _encodable(value):
            raise _refused(node, f"text {value!r} holds a lone surrogate, which no file can store")
        return value

    def construct_ymap(self, node: MappingNode) -> YMap:
        if not isinstance(node, MappingNode):
            raise _refused(
                node, f"!!map on a {type(node).__name__.removesuffix('Node').lower()}, not a mapping"
            )
        own = {id(key) for key, _ in node.value if key.tag != _MERGE_TAG}
        self.flatten_mapping(node)  # `<<: *anchor` merge keys: merged pairs first, own keys win
        out = YMap(_line(node))
        first: dict[Any, int] = {}  # a key -> the line it first appeared on
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (YMap, YList)) or not _hashable(key):
                raise _refused(key_node, "a key must be a plain value")
            if id(key_node) in own:
                if key in first:  # YAML keeps the last of two equal keys silently: a mistake in a spec
                    raise _refused(key_node, f"duplicate key {show(key)} (first at line {first[key]})")
                first[key] = _line(key_node)
            value = self.construct_object(value_node, deep=True)
            out.put(key, value, _line(value_node), _line(key_node))
        return out

    def construct_ylist(self, node: SequenceNode) -> YList:
        if not isinstance(node, SequenceNode):
            raise _refused(
                node, f"!!seq on a {type(node).__name__.removesuffix('Node').lower()}, not a sequence"
            )
        out = YList(_line(node))
        for item in node.value:
            out.append(self.construct_object(item, deep=True))
            out.lines.append(_line(item))
        return out

    def refuse_tag(self, node: Node) -> None:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise _refused(node, f"refused YAML tag {tag!r}: specs are loaded as plain data (safe YAML only)")


# A number in exponent notation without a dot (`1e3`, `80e-1`) or without the exponent's sign
# (`1.0e3`) is text to YAML 1.1, a number to YAML 1.2 and JSON: read as the number the docs say it is
# (`trials: 1e3` is the integer 1000, as 8.0 is 8); one beyond float64 (`1e400`) stays the text it was.
_EXPONENT = "tag:invcheck:exponent"


def _exponent(loader: yaml.SafeLoader, node: ScalarNode) -> float | str:
    text = loader.construct_scalar(node)
    value = float(text.replace("_", ""))
    return value if math.isfinite(value) else text


_Loader.add_implicit_resolver(
    _EXPONENT,
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
_Loader.add_constructor(_EXPONENT, _exponent)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _expanded_size(node: Node, sizes: dict[int, int], open_: set[int]) -> int:
    """How many values `node` stands for once aliases are expanded; refuses cycles and bombs."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise _refused(node, "a recursive alias (a value that contains itself)")
    open_.add(key)
    children: list[Node] = []
    if isinstance(node, SequenceNode):
        children = node.value
    elif isinstance(node, MappingNode):
        children = [n for pair in node.value for n in pair]
    total = 1 + sum(_expanded_size(child, sizes, open_) for child in children)
    open_.discard(key)
    if total > MAX_NODES:
        written = len(sizes) + 1  # the values written out; aliases make the rest
        why = "nested YAML aliases" if written < total / 2 else "split the spec into several files"
        raise _refused(node, f"this value expands to more than {MAX_NODES} values ({why})")
    sizes[key] = total
    return total


def _no_base_60(kind: str) -> Any:
    """YAML 1.1 reads `1:30` as the base-60 number 90 (YAML 1.2 and JSON as text): refused, never a
    number nobody wrote."""
    plain = getattr(yaml.SafeLoader, f"construct_yaml_{kind}")

    def construct(loader: yaml.SafeLoader, node: ScalarNode) -> Any:
        if isinstance(node.value, str) and ":" in node.value:
            raise _refused(
                node,
                f"{node.value!r} is a YAML 1.1 base-60 number ({plain(loader, node)}): "
                "write the number itself, or quote it as text",
            )
        return plain(loader, node)

    return construct


_Loader.add_constructor("tag:yaml.org,2002:int", _no_base_60("int"))
_Loader.add_constructor("tag:yaml.org,2002:float", _no_base_60("float"))
_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_ymap)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_ylist)
_Loader.add_constructor(None, _Loader.refuse_tag)


def parse_yaml(text: str, file: str) -> Any:
    """The data of one YAML document, or SpecError at the line of the first problem."""
    if len(text) > MAX_SPEC_BYTES:  # text handed over by the API; files are capped as they are read
        raise SpecError(
            f"spec text is larger than the limit of {MAX_SPEC_BYTES // 1024} KiB",
            file,
            hint="a spec is a few kB of YAML",
        )
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = exc.problem or "invalid YAML"
        if not isinstance(exc, ConstructorError):
            detail = f"YAML syntax error: {detail}"
        hint = None
        if exc.context and exc.context_mark and exc.context_mark is not mark:
            hint = f"{exc.context} at line {exc.context_mark.line + 1}"
        raise SpecError(detail, file, mark.line + 1 if mark else None, hint=hint) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: no mark, a position
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise SpecError(
            f"invalid YAML: character U+{code:04X} is not allowed in a spec", file, line
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {str(exc).splitlines()[0]}", file) from None
    except RecursionError:  # the scanner's own recursion on pathological flow text
        raise SpecError(f"invalid YAML: values nested more than {MAX_DEPTH} deep", file) from None


def read_yaml(path: Path, file: str) -> Any:
    """`parse_yaml` of a file: a regular file of at most MAX_SPEC_BYTES of UTF-8 text."""
    return parse_yaml(decode(read_spec_bytes(path, file), file), file)


def read_spec_bytes(path: Path, file: str) -> bytes:
    """The bytes of a spec file; never blocks on a FIFO, never reads on from /dev/zero."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise SpecError(f"cannot read spec file: {exc.strerror or exc}", file) from None
    with os.fdopen(fd, "rb") as stream:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SpecError(f"cannot read spec file: it is {_file_kind(mode)}, not a regular file", file)
        return read_limited(stream, file, "spec file")


def read_limited(stream: BinaryIO, file: str, what: str) -> bytes:
    """At most MAX_SPEC_BYTES of a spec file or of stdin: more is refused, not read on."""
    try:
        data = stream.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read {what}: {exc.strerror or exc}", file) from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(
            f"{what} is larger than the limit of {MAX_SPEC_BYTES // 1024} KiB",
            file,
            hint="a spec is a few kB of YAML",
        )
    return data


def _file_kind(mode: int) -> str:
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((text for test, text in kinds if test(mode)), "not a regular file")


def decode(data: bytes, file: str) -> str:
    """UTF-8 text (a BOM allowed); anything else is one line naming the first bad byte's line."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecError("spec file is UTF-16 text, not UTF-8", file, 1, hint="save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise SpecError(
            f"spec file is not UTF-8 text (byte 0x{byte})", file, line, hint="save it as UTF-8"
        ) from None


# Typed values --------------------------------------------------------------------------------

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
