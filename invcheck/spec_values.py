"""Typed values of a spec: parsers that turn a YAML value into a settings field or raise `Bad`.

Each parser also describes what it accepts as a JSON-Schema fragment (its `schema` attribute), so
that `invcheck schema` and the validator read one rule. Kept apart from the YAML reader
(`spec_yaml.py`): the rules, the CLI's option checks and the API use these without loading YAML.
"""

from __future__ import annotations

import difflib
import keyword
import math
import re
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from invcheck.display import short_repr

Parser = Callable[[Any, str], Any]  # (value, key) -> parsed value, or raises Bad

# Each parser describes what it accepts as a JSON-Schema fragment, its `schema` attribute:
# `invcheck schema` assembles the spec format's schema from these, so no rule is written twice.
_NUMERIC_TEXT = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"  # YAML reads `1e-5` as text
# the same, for a value that must be >= 0: no minus sign, and no exponent beyond float64's (1e999 is inf)
_NONNEGATIVE_TEXT = r"^\s*\+?(\d+\.?\d*|\.\d+)([eE](-\d+|\+?0*(\d{1,2}|[12]\d\d|30[0-8])))?\s*$"


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
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    return short_repr(value)


def braced(name: str) -> str:
    """A placeholder as kwargs write it: '{units}'."""
    return f"'{{{name}}}'"


def did_you_mean(
    value: Any,
    options: Iterable[str],
    otherwise: str | None = None,
    spelled: Callable[[str], str] = repr,
    cutoff: float = 0.6,
) -> str:
    """The hint for a value that is none of `options`: "did you mean X?" naming the nearest (spelled
    as `spelled` writes it), else `otherwise` (default: every option). Every choice invcheck refuses
    is hinted here."""
    options = list(options)
    close = difflib.get_close_matches(str(value), options, n=1, cutoff=cutoff)
    if close:
        return f"did you mean {spelled(close[0])}?"
    return otherwise if otherwise is not None else "expected one of: " + ", ".join(options)


MAX_VALUES = 10_000  # because YAML aliases can nest into billions of values from a few lines


MAX_DEPTH = 64  # kwargs nested deeper are a mistake, or a structure that contains itself


def plain(value: Any, budget: list[int] | None = None, depth: int = 0) -> Any:
    """YMap/YList as plain dicts and lists, for values handed on as written (kwargs)."""
    budget = [MAX_VALUES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise Bad(f"more than {MAX_VALUES} values (nested YAML aliases?)")
    if depth > MAX_DEPTH:
        raise Bad(f"values nested more than {MAX_DEPTH} deep (or a list or mapping that contains itself)")
    if isinstance(value, dict):
        return {key: plain(item, budget, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item, budget, depth + 1) for item in value]
    return value


def whole_number(text: str) -> int:
    """An integer from command-line text: "8", "8.0", "1e3" (read exactly: a float would round
    2^53 + 1); ValueError otherwise. The CLI's options and the pytest plugin's read it so."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = Decimal("NaN")
    if number.is_finite() and number.adjusted() < 400 and number == number.to_integral_value():
        return int(number)  # (1e999999999 would take minutes to build: refused above 10^400)
    raise ValueError(f"{text!r} is not an integer")


def to_float(value: Any) -> float | None:
    """A finite float from an int, a float or numeric text (YAML reads `1e-5` as text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        result = float(value)
    except (ValueError, OverflowError):  # an integer beyond float's range (1e309 written out)
        return None
    return result if math.isfinite(result) else None


def integer(low: int, high: int | None = None) -> Parser:
    """An integer in [low, high]: bounds keep a spec from asking for more memory than exists."""
    wanted = f">= {low}" if high is None else f"in [{low}, {high}]"

    def parse(value: Any, key: str) -> int:
        if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
            value = int(
                value
            )  # 8.0 is the integer 8, as the command line and JSON Schema read it (exactly, below 2^53)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
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
    if isinstance(value, str) and value.lower().startswith(
        ("gpu", "nvidia")
    ):  # what people call a CUDA device
        raise Bad(f"unknown device {show(value)}", "did you mean 'cuda'?")  # a GPU is cuda
    raise Bad(
        f"unknown device {show(value)}",
        did_you_mean(value, ["cpu", "cuda", "auto"], "use cpu, cuda, cuda:N or auto"),
    )


def number(low: float, high: float = math.inf, strict: bool = False) -> Parser:
    """A finite number >= low (> low when strict) and <= high."""
    wanted = (
        (f"in ({low:g}, {high:g}]" if strict else f"in [{low:g}, {high:g}]")
        if high != math.inf
        else f"> {low:g}"
        if strict
        else f">= {low:g}"
    )

    def parse(value: Any, key: str) -> float:
        result = to_float(value)
        if result is None or result < low or (strict and result == low) or result > high:
            raise Bad(f"{key} must be a number {wanted}, got {show(value)}")
        return result

    bounds = {"exclusiveMinimum" if strict else "minimum": low} | (
        {} if high == math.inf else {"maximum": high}
    )
    text = _NONNEGATIVE_TEXT if low >= 0 else _NUMERIC_TEXT
    return described({"anyOf": [{"type": "number", **bounds}, {"type": "string", "pattern": text}]})(parse)


def choice(options: Sequence[str], what: str) -> Parser:
    def parse(value: Any, key: str) -> str:
        if isinstance(value, str) and value in options:
            return value
        if isinstance(value, bool):  # `expect: yes` is YAML 1.1's boolean, no word: say so, not just "true"
            spellings = "yes, on, y or true" if value else "no, off, n or false"
            raise Bad(
                f"unknown {what} {show(value)}: YAML reads an unquoted {spellings} as the boolean {show(value)}",
                did_you_mean(value, options),
            )
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


MAX_TEXT = 1000  # a name or a label; longer is a mistake that would flood every report line


@described({"type": "string", "pattern": r"\S"})
def text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Bad(f"{key} must be non-empty text, got {show(value)}")
    if len(value) > MAX_TEXT:
        raise Bad(f"{key} is {len(value)} characters long, above the limit of {MAX_TEXT}")
    control = next((c for c in value if not c.isprintable()), None)
    if control is not None:  # a newline or an escape would break one-line reports, XML and terminals
        raise Bad(f"{key} {show(value)} holds the control character U+{ord(control):04X}", "use plain text")
    return value


@described({"type": "string", "pattern": r"\S", "not": {"pattern": "::"}})
def check_name(value: Any, key: str) -> str:
    """A check's name: text without '::', which test ids use between a spec file and its checks
    (pytest would split `a::b` into a file `...a` and a check `b`; JUnit from `invcheck run` would not)."""
    value = text(value, key)
    if "::" in value:
        raise Bad(
            f"{key} {show(value)} holds '::', which test ids use between a file and its checks",
            "use another separator, as ': ' or ' / '",
        )
    return value


@described({"type": "string", "pattern": f"^{_IMPORT_PATH.pattern}$"})
def module_path(value: Any, key: str) -> str:
    """An import path `package.module:Name`; checked for shape only, never imported here."""
    if not isinstance(value, str) or not _IMPORT_PATH.fullmatch(value):
        raise Bad(f"{key} {show(value)} is not an import path", "write it as 'package.module:Name'")
    reserved = [part for part in re.split(r"[.:]", value) if keyword.iskeyword(part)]
    if reserved:
        raise Bad(
            f"{key} {show(value)} is not an import path: {reserved[0]!r} is a Python keyword",
            "no module or attribute can be named so",
        )
    return value


@described({"type": "object"})
def kwargs(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(name, str) for name in value):
        raise Bad(f"{key} must be a mapping of argument names to values, got {show(value)}")
    return plain(value)


@described(
    {
        "type": "array",
        "minItems": 2,
        "maxItems": 2,
        "items": {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": _NONNEGATIVE_TEXT},
            ]
        },
    }
)
def scale(value: Any, key: str) -> tuple[float, float]:
    """A range [low, high] of positive scale factors."""
    if not isinstance(value, list) or len(value) != 2:
        raise Bad(f"{key} must be [low, high], two numbers with 0 < low <= high, got {show(value)}")
    low, high = (to_float(item) for item in value)
    if low is None or high is None:  # text, null, inf, nan
        raise Bad(f"{key} must be [low, high] of finite numbers, got {show(value)}")
    if not 0 < low <= high:
        raise Bad(f"{key} must be [low, high] with 0 < low <= high, got {show(value)}")
    if (low, high) == (1.0, 1.0):
        raise Bad(f"{key} must not be [1, 1] (the identity), got {show(value)}")
    return (low, high)
