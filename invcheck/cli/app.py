"""The typer app and what several commands share (choices, formats, options), apart from the package
__init__: the command modules import these from here, and cli/__init__ imports the commands to
register them, so no module imports the package that imports it back.
"""

# No `from __future__ import annotations`: typer would eval every annotation string at start-up.

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from invcheck import names
from invcheck.version import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Verify invariance properties of normalization layers by computation.",
)


def _choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A CLI choice type from a vocabulary of names.py: typer lists and checks the values."""
    return Enum(name, {v: v for v in values}, type=str)  # type: ignore[return-value]


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
NormOpt = Annotated[str | None, typer.Option(help=f"Norm: {', '.join(names.NORMS)}.")]
TransformOpt = Annotated[str | None, typer.Option(help=f"Transform: {', '.join(names.TRANSFORMS)}.")]
LayerOpt = Annotated[str, typer.Option(help=f"Layer kind: {', '.join(names.LAYERS)}.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"invcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    pass
