"""invcheck run: run spec files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from invcheck.cli import RunFormat, app
from invcheck.cli.common import check_outputs, config_allows_import, write_output


@app.command()
def run(
    paths: Annotated[list[Path], typer.Argument(help="Spec files, or folders searched for *.yaml.")],
    format: Annotated[RunFormat, typer.Option("--format", "-f", help="Output format.")] = RunFormat.rich,
    junit_xml: Annotated[Optional[Path], typer.Option("--junit-xml", help="Also write a JUnit XML report.")] = None,
    allow_import: Annotated[bool, typer.Option("--allow-import", help="Allow specs that import user code (module:).")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to a file instead of stdout.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, max=86400,
                                           help="Seconds a check of user code may take.")] = 15.0,
) -> None:
    """Run spec files; exit 1 if any check's verdict differs from its `expect:`."""
    from invcheck import render, spec
    from invcheck.runner import run_report

    from invcheck.impls.user_load import set_timeout

    check_outputs([output, junit_xml], spec.discover(paths))  # before the work, not after it
    set_timeout(timeout)
    checks = spec.load_specs(paths)
    users = any(c.norm.module is not None for c in checks)  # no pyproject.toml read without user code
    report = run_report(checks, allow_import or (users and config_allows_import(paths)))
    write_output(render.run(report, format.value, color=output is None and sys.stdout.isatty()), output)
    if junit_xml is not None:
        from invcheck.render import junit

        write_output(junit.render(report.results), junit_xml)
    if report.failed:
        raise typer.Exit(1)


