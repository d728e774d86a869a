"""invcheck run: run spec files, streaming one line per check as checks finish (in spec order)."""

# No `from __future__ import annotations`: typer would eval every annotation string at start-up.

import sys
from pathlib import Path
from typing import Annotated

import typer

from invcheck import timeouts
from invcheck.cli.app import (
    AllowImportOpt,
    DeviceOpt,
    DtypeOverrideOpt,
    OutputOpt,
    RunFormat,
    RunFormatOpt,
    SeedOverrideOpt,
    TrialsOverrideOpt,
    app,
)
from invcheck.cli.common import (
    STDOUT,
    OutputError,
    check_outputs,
    config_allows_import,
    load_torch,
    names_stdout,
    reserve_stdout,
    style,
    write_output,
)
from invcheck.display import shown_path
from invcheck.errors import InvcheckError, one_line


@app.command()
def run(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH",
            help="Spec files, folders searched for *.yaml, - for a spec on stdin, or SPEC::NAME for one "
            "check of a spec (its test name).",
        ),
    ],
    format: RunFormatOpt = RunFormat.rich,
    junit_xml: Annotated[
        Path | None, typer.Option("--junit-xml", help="Also write a JUnit XML report.")
    ] = None,
    allow_import: AllowImportOpt = False,
    output: OutputOpt = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, max=256, help="Worker processes (pays for long runs).")
    ] = 1,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only failures, errors and the summary.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=timeouts.LOW, max=timeouts.HIGH, help="Seconds a check of user code may take."
        ),
    ] = 15.0,
    seed: SeedOverrideOpt = None,
    trials: TrialsOverrideOpt = None,
    dtype: DtypeOverrideOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Run spec files; exit 1 if a verdict differs from its `expect:`, 2 if a check could not run."""
    load_torch()  # first: the imports below bring it in
    from invcheck import spec
    from invcheck.cli import spec_input
    from invcheck.render import progress
    from invcheck.render import rich as terminal
    from invcheck.runner import RunReport, observe, results, run_meta

    if junit_xml == STDOUT:
        raise InvcheckError("--junit-xml - : give a file (the run's report goes to stdout)")
    output = None if output == STDOUT else output
    if junit_xml is not None and (output is None or names_stdout(output)) and names_stdout(junit_xml):
        raise InvcheckError(
            f"--junit-xml {shown_path(junit_xml, relative=False)}: it is standard output, where the run's "
            "report goes (give another file, or send the report elsewhere with -o)"
        )
    from invcheck import reproduce

    dtype_name = dtype.value if dtype else None

    def override(checks: list) -> list:
        return reproduce.overridden(checks, seed=seed, trials=trials, dtype=dtype_name, device=device)

    override([])  # a bad value: refused before any file is read
    files = [reproduce.split(p)[0] for p in paths if p != spec_input.STDIN]
    found = spec.discover(files) if files else []
    check_outputs([output, junit_xml], found)  # before the work, not after it
    timeouts.set_timeout(timeout, "--timeout SECONDS")
    checks = override(spec_input.load_selected(paths))
    names = reproduce.names_by_check(checks)
    from invcheck.user_objects import imports_code

    users = any(imports_code(c) for c in checks)  # no pyproject.toml read without user code
    allowed = allow_import or (users and config_allows_import(files))
    from invcheck.scan.spec import planned, run_all  # `scan:` entries: whole models, refused before any run

    scans = planned(found, allowed)
    if (users or scans) and allowed:
        reserve_stdout()  # stdout holds the report alone, whatever user code's threads print
    stream = format is RunFormat.rich and output is None  # lines as checks finish
    color, width = style(output)
    report = RunReport([], run_meta())
    rerun = {}  # id(check) -> the lines that re-run and explain it alone, for those that fail or err
    with progress.bar("checks", len(checks)) as bar, observe(bar.advance):
        for result in results(checks, allowed, jobs, checked=True):  # held to the rules as they loaded
            report.results.append(result)
            if result.expected is False or result.verdict == "error":
                name = names.get(id(result.check)) or _name(result.check, checks, names)
                rerun[id(result)] = reproduce.rerun_lines(result.check, name, allow_import)
            if stream and terminal.shown(result, quiet):
                bar.write(terminal.run_line(result, color, width))
                bar.write("".join(f"     {line}\n" for line in rerun.get(id(result), [])))
    scans_run = run_all(scans, to_stdout=stream, quiet=quiet)
    if scans:  # --format json: a "scans" key beside the checks' results
        report.meta["scans"] = scans_run.to_json()
    unwritten: OutputError | None = None
    if not (stream and scans and not report.results):  # scans alone: their own summary line is the run's
        try:
            _write(report, format, color, width, quiet, output, stream)
        except OutputError as err:  # -o cannot be written (user code made a folder there): JUnit still is
            unwritten = err
    if junit_xml is not None:
        from invcheck.render import junit
        from invcheck.scan.junit import with_scans

        write_output(with_scans(junit.render(report.results), scans_run), junit_xml)
    if unwritten is not None:
        raise unwritten
    for result in report.results:  # each check that could not run: its one line on stderr too, as any error
        if result.verdict == "error":
            typer.echo(one_line(f"error: {result.why}"), err=True)
        if not stream:  # the report holds stdout: how to re-run each failure goes to stderr
            for line in rerun.get(id(result), []):
                typer.echo(line, err=True)
    if report.errors or report.failed or scans_run.failed or scans_run.errors:
        raise typer.Exit(2 if report.errors or scans_run.errors else 1)


def _name(check, checks: list, names: dict) -> str:
    """A result's check as the run knew it (a --jobs worker returns a copy): found by equality."""
    for c in checks:
        if c == check:
            return names[id(c)]
    return check.title


def _write(
    report, format: RunFormat, color: bool, width: int, quiet: bool, output: Path | None, streamed: bool
) -> None:
    from invcheck import render

    if streamed:
        from invcheck.render import rich as terminal

        sys.stdout.write(terminal.summary(report, color, width))
        return
    write_output(render.run(report, format.value, color=color, width=width, quiet=quiet), output)
