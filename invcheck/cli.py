"""The command line: thin commands over table.py, spec.py and runner.py.

Exit codes: 0 all good, 1 an expectation (or `table --check`) failed, 2 bad input, 3 internal error.
torch is imported only by commands that compute, so `--help`, `--version` and `validate` start fast.
"""

from __future__ import annotations

import math
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

try:  # newer typer vendors click and exposes its exception base; older typer runs on click
    from typer import TyperException as UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import ClickException as UsageError

from invcheck import __version__
from invcheck.errors import InvcheckError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Verify invariance properties of normalization layers by computation.")


class LayerChoice(str, Enum):
    all = "all"
    dense = "dense"
    conv = "conv"


class Dtype(str, Enum):
    float64 = "float64"
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"


class TableFormat(str, Enum):
    rich = "rich"
    markdown = "markdown"
    csv = "csv"
    latex = "latex"
    json = "json"


class RunFormat(str, Enum):
    rich = "rich"
    json = "json"


class Impl(str, Enum):
    reference = "reference"
    torch = "torch"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"invcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                          help="Print the version and exit.")] = None) -> None:
    pass


def write_output(text: str, path: Optional[Path]) -> None:
    """Print, or write whole-or-nothing: a temporary file renamed into place, never half a file."""
    if path is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    if not path.name or path.is_dir():
        raise InvcheckError(f"cannot write {path}: it is a directory")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InvcheckError(f"cannot write {path}: {err.strerror}") from None


@app.command()
def table(
    layer: Annotated[LayerChoice, typer.Option(help="dense (the paper's setting), conv, or all.")] = LayerChoice.all,
    trials: Annotated[int, typer.Option(min=1, help="Independent random trials per cell.")] = 8,
    seed: Annotated[int, typer.Option(min=0, max=2**63 - 1, help="Seed of every random draw.")] = 0,
    dtype: Annotated[Dtype, typer.Option(help="dtype the norms run in.")] = Dtype.float64,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
    format: Annotated[TableFormat, typer.Option("--format", "-f", help="Output format.")] = TableFormat.rich,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if a dense cell disagrees with the papers.")] = False,
    impl: Annotated[Impl, typer.Option(help="reference math, or PyTorch's own layers (shown beside the reference).")] = Impl.reference,
    eps: Annotated[float, typer.Option(min=0.0, help="eps inside the square root (0: the paper's exact math).")] = 0.0,
    tf32: Annotated[bool, typer.Option("--tf32", help="CUDA: allow TF32 (off by default).")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to a file instead of stdout.")] = None,
) -> None:
    """Compute Table 1 (every norm x transform) and print it beside the papers' claims."""
    from invcheck import render
    from invcheck import table as tables

    layers = ["dense", "conv"] if layer is LayerChoice.all else [layer.value]
    if check and "dense" not in layers:
        raise InvcheckError("--check compares the dense table with the papers: use --layer dense or all")
    if not math.isfinite(eps):
        raise InvcheckError(f"--eps must be a finite number, got {eps}")
    report = tables.build(layers, trials=trials, seed=seed, dtype=dtype.value, device=device,
                          impl=impl.value, eps=eps, tf32=tf32)
    write_output(render.table(report, format.value, color=output is None and sys.stdout.isatty()), output)
    failures = report.failures()
    if check and failures:
        for c in failures:
            typer.echo(f"check failed: {c.layer}/{c.norm}/{c.transform}: {c.note}", err=True)
        raise typer.Exit(1)


@app.command()
def run(
    paths: Annotated[list[Path], typer.Argument(help="Spec files, or folders searched for *.yaml.")],
    format: Annotated[RunFormat, typer.Option("--format", "-f", help="Output format.")] = RunFormat.rich,
    junit_xml: Annotated[Optional[Path], typer.Option("--junit-xml", help="Also write a JUnit XML report.")] = None,
    allow_import: Annotated[bool, typer.Option("--allow-import", help="Allow specs that import user code (module:).")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to a file instead of stdout.")] = None,
) -> None:
    """Run spec files; exit 1 if any check's verdict differs from its `expect:`."""
    from invcheck import render, spec
    from invcheck.runner import run_report

    checks = spec.load_specs(paths)
    report = run_report(checks, allow_import or _config_allows_import(paths))
    write_output(render.run(report, format.value, color=output is None and sys.stdout.isatty()), output)
    if junit_xml is not None:
        from invcheck.render import junit

        write_output(junit.render(report.results), junit_xml)
    if report.failed:
        raise typer.Exit(1)


@app.command()
def validate(paths: Annotated[list[Path], typer.Argument(help="Spec files, or folders searched for *.yaml.")]) -> None:
    """Check spec files without running them: one line per error, exit 2 if any."""
    from invcheck import spec

    errors = spec.validate(paths)
    for err in errors:
        typer.echo(f"error: {err}", err=True)
    if errors:
        raise typer.Exit(2)
    typer.echo(f"{len(spec.load_specs(paths))} checks in {len(spec.discover(paths))} files: valid")


def _config_allows_import(paths: list[Path]) -> bool:
    """`allow-import = true` in the pyproject.toml of the working directory, or of every spec
    path's project (found walking up from it, as the pytest plugin does)."""
    from invcheck.project_config import allow_import_from_config

    return allow_import_from_config(Path.cwd()) or all(allow_import_from_config(p.resolve()) for p in paths)


def main() -> None:
    """Entry point: InvcheckError -> one line and exit 2; a bug -> one line and exit 3."""
    try:
        code = app(standalone_mode=False)  # returns the exit code of typer.Exit
    except UsageError as err:  # usage errors: bad option values, missing arguments
        typer.echo(f"error: {err.format_message()} (see invcheck --help)", err=True)
        sys.exit(2)
    except InvcheckError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    except Exception as err:  # noqa: BLE001 - the last line of defence: no tracebacks for users
        if os.environ.get("INVCHECK_DEBUG"):
            raise
        typer.echo(f"internal error: {type(err).__name__}: {err} (set INVCHECK_DEBUG=1 for the traceback)", err=True)
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)
