"""invcheck table: the regenerated Table 1."""

# No `from __future__ import annotations`: typer would eval every annotation string at start-up.

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeAlias

import typer

from invcheck import names, paper, timeouts
from invcheck.cli.app import Dtype, Impl, LayerChoice, OutputOpt, TableFormat, _choices, app
from invcheck.cli.common import (
    check_cells,
    check_options,
    check_outputs,
    load_torch,
    reserve_stdout,
    style,
    write_output,
)
from invcheck.errors import InvcheckError
from invcheck.layer_kinds import LAYER_KINDS
from invcheck.placements import get_placement

if TYPE_CHECKING:  # made at run time from names.py: to a type checker, an Enum
    PlacementChoice: TypeAlias = Enum
    LayoutChoice: TypeAlias = Enum
else:
    PlacementChoice = _choices("PlacementChoice", (*names.PLACEMENTS, "all"))
    LayoutChoice = _choices("LayoutChoice", names.LAYOUTS)


@app.command()
def table(
    layer: Annotated[
        LayerChoice,
        typer.Option(
            help="paper: dense and conv (the papers' settings); all: every layer kind; or one kind."
        ),
    ] = LayerChoice("paper"),
    trials: Annotated[int, typer.Option(help="Independent random trials per cell.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 0,
    dtype: Annotated[Dtype, typer.Option(help="dtype the norms run in.")] = Dtype("float64"),
    device: Annotated[
        str, typer.Option(metavar="[cpu|cuda|cuda:N|auto]", help="The device the norms run on.")
    ] = "cpu",
    format: Annotated[TableFormat, typer.Option("--format", "-f", help="Output format.")] = TableFormat.rich,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 1 if a cell disagrees with the papers' claims in their own "
            "settings (dense: Table 1, RMSNorm; recurrent: the RNN claim).",
        ),
    ] = False,
    impl: Annotated[
        Impl, typer.Option(help="reference math, or PyTorch's own layers (shown beside the reference).")
    ] = Impl("reference"),
    eps: Annotated[float, typer.Option(help="eps inside the square root (0: the paper's exact math).")] = 0.0,
    tf32: Annotated[bool, typer.Option("--tf32", help="CUDA: allow TF32 (off by default).")] = False,
    placement: Annotated[
        PlacementChoice,
        typer.Option(
            help="Where the norm sits: summed inputs (the paper's), post_activation (after a ReLU), input "
            "(pre-norm), or all (one table each)."
        ),
    ] = PlacementChoice("summed"),
    output: OutputOpt = None,
    module: Annotated[
        str | None,
        typer.Option(
            "--module",
            metavar="PKG.MOD:NAME",
            help="Your layer (pkg.mod:Name): its row beside the built-in ones, and the row it matches.",
        ),
    ] = None,
    kwargs: Annotated[
        str,
        typer.Option(
            metavar="JSON", help='JSON keyword arguments for --module, e.g. \'{"features": "{channels}"}\'.'
        ),
    ] = "{}",
    allow_import: Annotated[
        bool, typer.Option("--allow-import", help="Allow --module to import and run user code.")
    ] = False,
    layout: Annotated[
        LayoutChoice, typer.Option(help="The layout --module takes in conv layers.")
    ] = LayoutChoice("channels_first"),
    prove: Annotated[
        bool, typer.Option("--prove", help="Also decide each cell exactly (sympy; eps 0, small shapes).")
    ] = False,
    prove_seconds: Annotated[
        float, typer.Option("--prove-seconds", min=1.0, max=86400, help="Time limit per cell for --prove.")
    ] = 60.0,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=timeouts.LOW,
            max=timeouts.HIGH,
            help="Seconds a check of --module's code may take (default 15).",
        ),
    ] = None,
) -> None:
    """Compute Table 1 (every norm x transform) and print it beside the papers' claims."""
    from invcheck import render
    from invcheck import table as tables

    check_outputs([output])  # before the work, not after it
    check_options(trials=trials, seed=seed, eps=eps, device=device)  # the spec's rules, for the options
    from invcheck.settings import check_config

    check_cells([check_config(trials=trials, seed=seed, dtype=dtype.value, device=device, tf32=tf32)])
    layers = {"paper": list(names.PAPER_LAYERS), "all": list(names.LAYERS)}.get(layer.value, [layer.value])
    if check and not set(paper.CLAIM_LAYERS) & set(layers):  # the settings the papers' claims were made for
        raise InvcheckError(
            "--check compares the papers' claims in their own settings, a dense layer (Table 1, "
            "RMSNorm) and a recurrent one (the RNN claim): use --layer dense, recurrent or all"
        )
    placements = names.PLACEMENTS if placement.value == "all" else (placement.value,)
    _refuse_placement(placement.value, layers, check)
    if module is None:
        _refuse_module_only(kwargs, layout.value, timeout)
    options = _module_options(module, kwargs, allow_import) | ({"layout": layout.value} if module else {})
    if module is not None:
        reserve_stdout()  # the table alone on stdout, whatever the module's threads print (docs/trust.md)
    from invcheck.render import progress

    load_torch()

    if timeout is not None:
        timeouts.set_timeout(timeout, "--timeout SECONDS")

    total = (
        tables.planned(layers, placements, impl.value) if module is None else None
    )  # a module's row: as many as it accepts
    with progress.bar("table cells", total) as bar:
        report = tables.build(
            layers,
            trials=trials,
            seed=seed,
            dtype=dtype.value,
            device=device,
            impl=impl.value,
            eps=eps,
            tf32=tf32,
            placements=placements,
            prove=prove,
            prove_seconds=prove_seconds,
            advance=bar.advance,
            **options,
        )
    color, width = style(output)
    write_output(render.table(report, format.value, color=color, width=width), output)
    failures = report.failures()
    if check and failures:
        for c in failures:
            typer.echo(f"check failed: {c.layer}/{c.norm}/{c.transform}: {c.note}", err=True)
        raise typer.Exit(1)


def _refuse_placement(placement: str, layers: list[str], check: bool) -> None:
    """A placement no asked layer has (all: each layer gets the placements it has)."""
    if check and placement not in ("summed", "all"):
        raise InvcheckError(
            "--check compares the papers' claims, made for a norm on the summed inputs: "
            "use --placement summed or all"
        )
    reasons = [get_placement(placement).refusal(LAYER_KINDS[k]) for k in layers] if placement != "all" else []
    if any(reasons):
        raise InvcheckError(f"--placement {placement}: {next(r for r in reasons if r)}")


def _refuse_module_only(kwargs: str, layout: str, timeout: float | None) -> None:
    """The options only --module's layer uses, given without it: they would do nothing."""
    given = (
        ("--timeout", timeout is not None, "bounds --module's code"),
        ("--layout", layout != "channels_first", "is the layout --module's layer takes"),
        ("--kwargs", kwargs.strip() != "{}", "is for --module's layer"),
    )
    for flag, used, what in given:
        if used:
            raise InvcheckError(f"{flag} {what}: name it with --module pkg.mod:Name")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object whose keys are each given once (json.loads would keep the last silently)."""
    keys = [key for key, _ in pairs]
    twice = next((key for key in keys if keys.count(key) > 1), None)
    if twice is not None:
        raise ValueError(f"the key {twice!r} is given twice")
    return dict(pairs)


def _module_options(module: str | None, kwargs: str, allow_import: bool) -> dict:
    """--module and --kwargs, checked by the rules a spec's `module:` and `kwargs:` follow."""
    import json

    from invcheck import rules
    from invcheck.cli.common import config_allows_import
    from invcheck.spec_values import Bad

    if module is None:
        return {}
    try:
        rules.NORM_FIELDS["module"](module, "--module")
        parsed = rules.NORM_FIELDS["kwargs"](json.loads(kwargs, object_pairs_hook=_unique_keys), "--kwargs")
    except RecursionError:
        raise InvcheckError("--kwargs is nested too deeply to read") from None
    except json.JSONDecodeError as err:
        raise InvcheckError(f"--kwargs must be a JSON object: {err.msg} (at character {err.pos})") from None
    except ValueError as err:  # an integer of over 4300 digits, a key given twice
        raise InvcheckError(f"--kwargs: {str(err)[:120]}") from None
    except Bad as err:
        raise InvcheckError(f"{err}" + (f" ({err.hint})" if err.hint else "")) from None
    if not (allow_import or config_allows_import([Path.cwd()])):
        raise InvcheckError(
            f"--module {module!r} would import and run user code; pass --allow-import "
            "(or set allow-import = true under [tool.invcheck] in pyproject.toml)"
        )
    return {"module": module, "kwargs": parsed}
