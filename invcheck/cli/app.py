"""The typer app and the options several commands share, apart from the package's __init__: the
command modules import these from here, and cli/__init__ imports the commands to register them
(no import circle through the package)."""

# No `from __future__ import annotations`: typer would eval every annotation string at start-up.

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeAlias

import typer

from invcheck import names
from invcheck.cli.options import Command, Group
from invcheck.version import __version__


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
AllowImportOpt = Annotated[
    bool, typer.Option("--allow-import", help="Allow specs that import user code (module:).")
]


def _one_of(values: tuple[str, ...]) -> str:
    return "[" + "|".join(values) + "]"


# Closed options kept as text (checked with "did you mean" in cells.known): their choices shown.
NormOpt = Annotated[str | None, typer.Option(metavar=_one_of(names.NORMS), help="The norm.")]
TransformOpt = Annotated[str | None, typer.Option(metavar=_one_of(names.TRANSFORMS), help="The transform.")]
LayerOpt = Annotated[str, typer.Option(metavar=_one_of(names.LAYERS), help="The layer kind.")]
_SEED_OVERRIDE = "Every check's seed, in place of the spec's"
SeedOverrideOpt = Annotated[int | None, typer.Option(min=0, max=2**63 - 1, help=f"{_SEED_OVERRIDE}.")]
# explain's --seed seeds its own small draw, so the checks' seed goes by another name there
CheckSeedOverrideOpt = Annotated[
    int | None,
    typer.Option(
        "--check-seed", min=0, max=2**63 - 1, help=f"{_SEED_OVERRIDE} (what `invcheck run --seed` sets)."
    ),
]
TrialsOverrideOpt = Annotated[
    int | None, typer.Option(min=1, max=100_000, help="Every check's trials, in place of the spec's.")
]
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
