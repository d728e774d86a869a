"""The command line: thin commands (one module each) over table.py, spec.py and runner.py.

Exit codes: 0 all good, 1 an expectation (or `table --check`) failed, 2 bad input, 3 internal error.
torch is imported only by commands that compute, so `--help`, `--version` and `validate` start fast;
help is click's plain text (rich's help formatter alone costs more start-up than typer itself).
"""

# No `from __future__ import annotations`: typer would eval every annotation string at start-up.

import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeAlias

import typer

try:  # newer typer vendors click and exposes its exception base; older typer runs on click
    from typer import TyperException as UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import ClickException as UsageError  # type: ignore[import-not-found,no-redef,unused-ignore]

from invcheck import __version__, names
from invcheck.cli.options import Command, Group, install
from invcheck.errors import InvcheckError, one_line


class _App(typer.Typer):
    """typer.Typer whose commands are invcheck's Command (readable help, did-you-mean) unless told."""

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or Command, **kwargs)


app = _App(
    name="invcheck",  # help says `invcheck` however it is run (typer's CliRunner would say `root`)
    cls=Group,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Verify invariance properties of normalization layers by computation.",
)


def _choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A CLI choice type from a vocabulary of names.py: typer lists and checks the values."""
    return Enum(name, {v: v for v in values}, type=str)  # type: ignore[return-value]


if TYPE_CHECKING:  # a choice type is made at run time from names.py: to a type checker, an Enum
    LayerChoice: TypeAlias = Enum
    Dtype: TypeAlias = Enum
    Impl: TypeAlias = Enum
else:
    LayerChoice = _choices("LayerChoice", ("paper", "all", *names.LAYERS))
    Dtype = _choices("Dtype", names.DTYPES)
    Impl = _choices("Impl", names.IMPLS)


class TableFormat(str, Enum):
    rich = "rich"
    markdown = "markdown"
    csv = "csv"
    latex = "latex"
    json = "json"


class RunFormat(str, Enum):
    rich = "rich"
    json = "json"


# Options several commands take, declared once (typer copies an Annotated option for each use).
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file instead of stdout.")]
RunFormatOpt = Annotated[RunFormat, typer.Option("--format", "-f", help="Output format.")]


def _one_of(values: tuple[str, ...]) -> str:
    return "[" + "|".join(values) + "]"


# Closed options kept as text (checked with "did you mean" in cells.known): their choices shown.
NormOpt = Annotated[str | None, typer.Option(metavar=_one_of(names.NORMS), help="The norm.")]
TransformOpt = Annotated[str | None, typer.Option(metavar=_one_of(names.TRANSFORMS), help="The transform.")]
LayerOpt = Annotated[str, typer.Option(metavar=_one_of(names.LAYERS), help="The layer kind.")]
DtypeOverrideOpt = Annotated[Dtype | None, typer.Option(help="Every check's dtype, in place of the spec's.")]
DeviceOpt = Annotated[
    str | None,
    typer.Option(metavar="[cpu|cuda|cuda:N|auto]", help="Every check's device, in place of the spec's."),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"invcheck {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    if ctx.invoked_subcommand is None:  # bare `invcheck`: its help, exit 0
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


_running: list[bool] = []  # main() under way in this process


def main() -> None:
    """Entry point: InvcheckError -> one line and exit 2; a bug -> one line and exit 3."""
    if _running:  # user code calling invcheck's command line from inside a check: its failure, silent
        raise RuntimeError("invcheck's command line called from inside a running invcheck check")
    _running.append(True)
    try:
        _main()
    finally:  # ended (an exit is an exception): a later command in this process may run
        _running.clear()


def _main() -> None:
    for stream in (sys.stdout, sys.stderr):  # an ASCII locale gets ✓ as \u2713, not a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    from invcheck.cli.common import GuardedStdout, new_command

    new_command()
    sys.stdout = GuardedStdout(sys.stdout)
    try:
        _working_folder_exists()
        # typer.main.get_command(app) is what app() runs; its plain options are coerced without pydantic
        # prog_name: usage says `invcheck` however it was started (click would name it from
        # __main__'s spec: `python -m invcheck`, or `python -m pytest` in a test run)
        code = install(typer.main.get_command(app))(prog_name="invcheck", standalone_mode=False)
    except UsageError as err:  # usage errors: bad option values, missing arguments
        _say(f"error: {err.format_message()} (see {_help_of(err)})")
        sys.exit(2)
    except InvcheckError as err:
        _say(f"error: {err}")
        sys.exit(err.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    except Exception as err:
        if os.environ.get("INVCHECK_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off"):
            raise
        _say(f"internal error: {type(err).__name__}: {err} (set INVCHECK_DEBUG=1 for the traceback)")
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)


def _help_of(err: Exception) -> str:
    """The help that answers a usage error: the subcommand's (`invcheck run --help`) where it was one."""
    names = []
    ctx = getattr(err, "ctx", None)
    while ctx is not None:  # the root named `invcheck` however it was started (python -m invcheck)
        names.append(ctx.info_name if ctx.parent is not None else "invcheck")
        ctx = ctx.parent
    return " ".join([*reversed(names or ["invcheck"]), "--help"])


def _say(line: str) -> None:
    """An error's one line on stderr; where stderr cannot take it (`2>/dev/full`), the exit code
    alone says it."""
    try:
        typer.echo(one_line(line), err=True)
    except (OSError, ValueError):  # a full or closed stderr
        pass


def _working_folder_exists() -> None:
    """Paths are relative to the working folder: where it was deleted, one line (help still works)."""
    try:
        os.getcwd()
    except OSError:
        if not {"-h", "--help", "--version"} & set(sys.argv[1:]):
            raise InvcheckError(
                "the working folder no longer exists (it was deleted?): cd to another one"
            ) from None


# The commands register themselves on `app` (imported last: they import it from here).
from invcheck.cli import explain, prove, run, schema, sweep, table, validate  # noqa: E402, F401
from invcheck.cli import scan as _scan  # noqa: E402, F401  (invcheck scan)
