"""invcheck validate: check spec files without running them."""

# No `from __future__ import annotations`: typer would eval every annotation string at start-up.

from pathlib import Path
from typing import Annotated

import typer

from invcheck.cli.app import app
from invcheck.errors import one_line


@app.command()
def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="PATH", help="Spec files, folders searched for *.yaml, or - for stdin."),
    ],
) -> None:
    """Check spec files without running them: one line per error, exit 2 if any."""
    from invcheck.cli import spec_input

    errors, checks, files = spec_input.validate(paths)
    for err in errors:
        typer.echo(one_line(f"error: {err}"), err=True)
    if errors:
        raise typer.Exit(2)
    from invcheck import spec
    from invcheck.scan.spec import load_files  # scan: entries, counted beside the checks

    given = [p for p in paths if p != spec_input.STDIN]
    scans = len(load_files(spec.discover(given) if given else []))
    also = f" and {scans} scan{'s' * (scans != 1)}" if scans else ""
    typer.echo(f"{checks} check{'s' * (checks != 1)}{also} in {files} file{'s' * (files != 1)}: valid")
