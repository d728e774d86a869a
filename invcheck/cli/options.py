"""Option values coerced without pydantic, where the option's type is a plain one.

typer 0.29 coerces every option value through a pydantic TypeAdapter that it builds on first use;
importing pydantic and building the adapters costs about 0.08 s of every command's start-up (more
than importing typer), a tenth of `invcheck table`'s budget beside `import torch`. invcheck's
options are all plain: str, int and float (with typer's min/max), bool, a choice (Enum), a path,
or a list of one of those. `install` gives each such option a direct coercion with the same checks;
any other type keeps typer's own. A typer without this machinery (before 0.29, on click's types)
is left as it is.
"""

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import SimpleNamespace
from typing import Any, get_args, get_origin

import typer

from invcheck.spec_values import whole_number

try:  # typer's coercion layer (0.29 on): private, so everything below is optional
    from typer._coercion import RuntimeParam
    from typer._param_types import coerce_cli_choice, coerce_cli_path
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - depends on the installed typer
    RuntimeParam = None  # type: ignore[assignment,misc]  # `install` then leaves typer's own coercion

PLAIN = (str, int, float, bool, Path)
TRUE, FALSE = {"1", "true", "t", "yes", "y", "on"}, {"0", "false", "f", "no", "n", "off"}


def install(command: Any) -> Any:
    """`command` (typer's click command for the app) with its plain options coerced directly."""
    if RuntimeParam is None:  # pragma: no cover - depends on the installed typer
        return command
    # the help option is made on first use, from the context's names (set on the app, inherited)
    names = SimpleNamespace(help_option_names=command.context_settings.get("help_option_names", ["--help"]))
    for cmd in (command, *getattr(command, "commands", {}).values()):
        for param in (*cmd.params, cmd.get_help_option(names)):
            if isinstance(param, _TyperParameter) and param._runtime_param is None and _plain(param):
                param._runtime_param = _Plain(
                    annotation=param.type_descriptor.annotation,
                    parameter_info=param.type_descriptor.parameter_info,
                )
    return command


def _plain(param: Any) -> bool:
    """Whether this module can coerce the option: a plain leaf type (or a list of one), no clamp."""
    desc = param.type_descriptor
    info = desc.parameter_info
    if desc.file_annotation is not None or info.parser is not None or getattr(info, "clamp", False):
        return False
    leaf = _leaf(desc.annotation)
    return leaf is not None and (leaf in PLAIN or (isinstance(leaf, type) and issubclass(leaf, Enum)))


def _leaf(annotation: Any) -> Any:
    """X of X or list[X]; None for anything else."""
    if get_origin(annotation) is list:
        args = get_args(annotation)
        return args[0] if len(args) == 1 and get_origin(args[0]) is None else None
    return annotation if get_origin(annotation) is None else None


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _Plain(RuntimeParam):
        """typer's RuntimeParam for a plain type: a list item by item, each leaf by its type."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                if get_origin(self.annotation) is list:
                    leaf = get_args(self.annotation)[0]
                    items = value if isinstance(value, (list, tuple)) else [value]
                    return [self._leaf(leaf, item, param, ctx) for item in items]
                return self._leaf(self.annotation, value, param, ctx)
            except ValueError as err:
                raise typer.BadParameter(str(err), ctx=ctx, param=param) from None

        def _leaf(self, kind: Any, value: Any, param: Any, ctx: Any) -> Any:
            info = self.parameter_info
            if isinstance(kind, type) and issubclass(kind, Enum):
                _refuse_unknown(kind, value)
                return coerce_cli_choice(
                    value, choices=tuple(kind), case_sensitive=info.case_sensitive, ctx=ctx
                )
            if kind is Path:  # typer's own checks (exists, dir_okay, ...) on a value made a Path here
                return coerce_cli_path(
                    value if isinstance(value, Path) else _path(value),
                    info,
                    path_type=Path,
                    param=param,
                    ctx=ctx,
                )
            if kind is str:
                return _text(value)
            if kind is bool:
                return _bool(value)
            number = _int(value) if kind is int else _float(value)
            return _bounded(number, info.min, info.max)


def _refuse_unknown(kind: type[Enum], value: Any) -> None:
    """A value that is none of the choices: the nearest one named (did you mean 'float64'?)."""
    if isinstance(value, Enum):
        return
    choices = [str(member.value) for member in kind]
    text = _text(value)
    if text not in choices:
        from invcheck.spec_values import did_you_mean

        listed = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{_short(text)} is not one of {listed} ({did_you_mean(text, choices)})")


def _short(value: Any) -> str:
    """A value for a one-line message, as spec errors show it (loaded on an error only: not at start-up)."""
    from invcheck.spec_values import show

    return show(value)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _path(value: Any) -> Path:
    text = _text(value)
    if not text.strip():  # Path("") is ".": a forgotten variable would name the working folder
        raise ValueError(f"{_short(value)} is an empty path")
    return Path(text)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).strip().lower()
    if text in TRUE or text in FALSE:
        return text in TRUE
    raise ValueError(f"{_short(value)} is not a boolean (true or false)")


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:  # "3.0", "1e3": an integer written as a number
        return whole_number(_text(value).strip())
    except ValueError:
        raise ValueError(f"{_short(value)} is not an integer") from None


def _float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(_text(value).strip())
    except ValueError:
        raise ValueError(f"{_short(value)} is not a number") from None


def _bounded(number: int | float, low: float | None, high: float | None) -> int | float:
    """typer's min/max: a value outside them, or NaN where there is one, is refused."""
    if (low is not None and not number >= low) or (high is not None and not number <= high):
        shown = lambda bound: f"{bound:g}" if isinstance(bound, float) else str(bound)  # noqa: E731 - 2**63-1 in full
        where = (
            f"in [{shown(low)}, {shown(high)}]"
            if low is not None and high is not None
            else f"at least {shown(low)}"
            if low is not None
            else f"at most {shown(high)}"
        )
        raise ValueError(f"{number!r} is not {where}")
    return number


# Help that reads as a person writes it -----------------------------------------------------------

try:  # typer's click classes (0.29 on vendors click)
    from typer.core import TyperCommand, TyperGroup
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import Command as TyperCommand  # type: ignore[import-not-found, no-redef, unused-ignore]
    from click import Group as TyperGroup  # type: ignore[import-not-found, no-redef, unused-ignore]

# A value's metavar by its type, where the option gives none (typer would show <int range>).
_METAVARS = {int: "INTEGER", float: "NUMBER", str: "TEXT", Path: "PATH"}


def readable(param: Any) -> None:
    """Give an option a metavar a person reads (`--dtype [float64|float32|...]`, `--seed INTEGER`,
    the choices of every closed option), and an argument its plain name (`PATH...`, `[SPEC]`):
    typer would show `<int range>`, `<list[float]>` and `{PATH}...`."""
    desc = getattr(param, "type_descriptor", None)
    if desc is None or getattr(param, "is_flag", False):
        return
    if getattr(param, "param_type_name", "") == "argument":
        name = (param.metavar or param.name or "").upper()
        param.metavar = name
        shown = name + ("..." if param.nargs != 1 else "")
        param.display_type_rich = lambda ctx: None  # the name column says it all
        param._usage_display_name = lambda: shown if param.required else f"[{shown}]"
        param._rich_display_name = lambda: shown
        return
    if param.metavar is not None:
        return
    leaf = _leaf(desc.annotation)
    if isinstance(leaf, type) and issubclass(leaf, Enum):
        param.metavar = "[" + "|".join(str(member.value) for member in leaf) + "]"
    elif leaf in _METAVARS:
        param.metavar = _METAVARS[leaf]


def _install_params(command: Any) -> None:
    """Readable help and direct coercion (with "did you mean") for one command's parameters."""
    for param in command.params:
        readable(param)
        if (
            RuntimeParam is not None
            and isinstance(param, _TyperParameter)
            and param._runtime_param is None
            and _plain(param)
        ):
            param._runtime_param = _Plain(
                annotation=param.type_descriptor.annotation,
                parameter_info=param.type_descriptor.parameter_info,
            )


class Command(TyperCommand):
    """Every invcheck command: readable metavars and choices in its help, "did you mean" for a
    misspelt choice. The same under `invcheck` and typer's CliRunner (both build the command)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _install_params(self)


class Group(TyperGroup):
    """The `invcheck` group: its options readable too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _install_params(self)
