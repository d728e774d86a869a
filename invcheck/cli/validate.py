"""invcheck validate: check spec files without running them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from invcheck.cli import app


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
