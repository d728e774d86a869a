"""The command line: thin commands (one module each) over table.py, spec.py and runner.py.

Exit codes: 0 all good, 1 an expectation (or `table --check`) failed, 2 bad input, 3 internal error.
torch is imported only by commands that compute, so `--help`, `--version` and `validate` start fast;
help is click's plain text (rich's help formatter alone costs more start-up than typer itself).
"""

# No `from __future__ import annotations`: typer would eval every annotation string at start-up.

import os
import sys

import typer

try:  # newer typer vendors click and exposes its exception base; older typer runs on click
    from typer import TyperException as UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import ClickException as UsageError  # type: ignore[import-not-found,no-redef,unused-ignore]

from invcheck.cli.app import (  # noqa: F401 - the shared pieces, where commands and tests find them
    DeviceOpt,
    Dtype,
    DtypeOverrideOpt,
    Impl,
    LayerChoice,
    LayerOpt,
    NormOpt,
    OutputOpt,
    RunFormat,
    RunFormatOpt,
    TableFormat,
    TransformOpt,
    _choices,
    app,
)
from invcheck.cli.options import install
from invcheck.errors import InvcheckError, one_line

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


def console() -> None:
    """The installed program (`invcheck`, `python -m invcheck`): main(), then the process ends with
    its exit code, even where user code left a thread running (Python would wait for it forever)."""
    from invcheck import isolation

    isolation.own_process()  # os._exit from user code, even late (a __del__, a thread), is refused
    try:
        main()
    except SystemExit as done:
        isolation.end(done.code)


def _main() -> None:
    from invcheck.cli.std_streams import QuietStderr, occupy_free_descriptors

    occupy_free_descriptors()
    for stream in (sys.stdout, sys.stderr):  # an ASCII locale gets ✓ as \u2713, not a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    from invcheck.cli.common import GuardedStdout, new_command

    new_command()
    sys.stdout = GuardedStdout(sys.stdout)
    sys.stderr = QuietStderr(sys.stderr)
    try:
        _working_folder_exists()
        # typer.main.get_command(app) is what app() runs; its plain options are coerced without pydantic
        # prog_name: usage says `invcheck` however it was started (click would name it from
        # __main__'s spec: `python -m invcheck`, or `python -m pytest` in a test run)
        code = install(typer.main.get_command(app))(prog_name="invcheck", standalone_mode=False)
    except UsageError as err:  # usage errors: bad option values, missing arguments
        _say(f"error: {err.format_message()} (see {_help_of(err)})")
        raise SystemExit(2) from None
    except InvcheckError as err:
        _say(f"error: {err}")
        raise SystemExit(err.exit_code) from None
    except (KeyboardInterrupt, typer.Abort):
        raise SystemExit(130) from None
    except Exception as err:
        if os.environ.get("INVCHECK_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off"):
            raise
        _say(f"internal error: {type(err).__name__}: {err} (set INVCHECK_DEBUG=1 for the traceback)")
        raise SystemExit(3) from None
    # SystemExit raised, never `sys.exit`: user code may have rebound it (`sys.exit = lambda *a: None`)
    raise SystemExit(code if isinstance(code, int) else 0)


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
