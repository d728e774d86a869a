"""invcheck run: run spec files, streaming one line per check as checks finish (in spec order)."""

# No `from __future__ import annotations`: typer would eval every annotation string at start-up.

import sys
from pathlib import Path
from typing import Annotated

import typer

from invcheck.cli.app import OutputOpt, RunFormat, RunFormatOpt, app
from invcheck.cli.common import STDOUT, check_outputs, config_allows_import, load_torch, style, write_output
from invcheck.errors import InvcheckError, one_line


@app.command()
def run(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH", help="Spec files, folders searched for *.yaml, or - for a spec on stdin."
        ),
    ],
    format: RunFormatOpt = RunFormat.rich,
    junit_xml: Annotated[
        Path | None, typer.Option("--junit-xml", help="Also write a JUnit XML report.")
    ] = None,
    allow_import: Annotated[
        bool, typer.Option("--allow-import", help="Allow specs that import user code (module:).")
    ] = False,
    output: OutputOpt = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, max=256, help="Worker processes (pays for long runs).")
    ] = 1,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only failures, errors and the summary.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, max=86400, help="Seconds a check of user code may take.")
    ] = 15.0,
) -> None:
    """Run spec files; exit 1 if a verdict differs from its `expect:`, 2 if a check could not run."""
    load_torch()  # first: the imports below bring it in
    from invcheck import spec
    from invcheck.cli import spec_input
    from invcheck.impls.user_load import set_timeout
    from invcheck.render import progress
    from invcheck.render import rich as terminal
    from invcheck.runner import RunReport, observe, results, run_meta

    if junit_xml == STDOUT:
        raise InvcheckError("--junit-xml - : give a file (the run's report goes to stdout)")
    output = None if output == STDOUT else output
    files = [p for p in paths if p != spec_input.STDIN]
    check_outputs([output, junit_xml], spec.discover(files) if files else [])  # before the work, not after it
    set_timeout(timeout, "--timeout SECONDS")
    checks = spec_input.load(paths)
    users = any(c.norm.module is not None for c in checks)  # no pyproject.toml read without user code
    allowed = allow_import or (users and config_allows_import(files))
    stream = format is RunFormat.rich and output is None  # lines as checks finish
    color, width = style(output)
    report = RunReport([], run_meta())
    with progress.bar("checks", len(checks)) as bar, observe(bar.advance):
        for result in results(checks, allowed, jobs):
            report.results.append(result)
            if stream and terminal.shown(result, quiet):
                bar.write(terminal.run_line(result, color, width))
    _write(report, format, color, width, quiet, output, stream)
    if junit_xml is not None:
        from invcheck.render import junit

        write_output(junit.render(report.results), junit_xml)
    for result in report.results:  # each check that could not run: its one line on stderr too, as any error
        if result.verdict == "error":
            typer.echo(one_line(f"error: {result.why}"), err=True)
    if report.errors or report.failed:
        raise typer.Exit(2 if report.errors else 1)


def _write(
    report, format: RunFormat, color: bool, width: int, quiet: bool, output: Path | None, streamed: bool
) -> None:
    from invcheck import render

    if streamed:
        from invcheck.render import rich as terminal

        sys.stdout.write(terminal.summary(report, color, width))
        return
    write_output(render.run(report, format.value, color=color, width=width, quiet=quiet), output)
