"""invcheck table: the regenerated Table 1."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from invcheck import names
from invcheck.cli import Dtype, Impl, LayerChoice, TableFormat, app
from invcheck.cli.common import check_options, check_outputs, write_output
from invcheck.errors import InvcheckError


@app.command()
def table(
    layer: Annotated[LayerChoice, typer.Option(help="dense (the paper's setting), conv, ..., or all.")] = LayerChoice("all"),
    trials: Annotated[int, typer.Option(help="Independent random trials per cell.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 0,
    dtype: Annotated[Dtype, typer.Option(help="dtype the norms run in.")] = Dtype("float64"),
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
    format: Annotated[TableFormat, typer.Option("--format", "-f", help="Output format.")] = TableFormat.rich,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if a dense cell disagrees with the papers.")] = False,
    impl: Annotated[Impl, typer.Option(help="reference math, or PyTorch's own layers (shown beside the reference).")] = Impl("reference"),
    eps: Annotated[float, typer.Option(help="eps inside the square root (0: the paper's exact math).")] = 0.0,
    tf32: Annotated[bool, typer.Option("--tf32", help="CUDA: allow TF32 (off by default).")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to a file instead of stdout.")] = None,
) -> None:
    """Compute Table 1 (every norm x transform) and print it beside the papers' claims."""
    from invcheck import render
    from invcheck import table as tables

    check_outputs([output])  # before the work, not after it
    check_options(trials=trials, seed=seed, eps=eps, device=device)  # the spec's rules, for the options
    layers = list(names.PAPER_LAYERS) if layer.value == "all" else [layer.value]
    if check and "dense" not in layers:
        raise InvcheckError("--check compares the dense table with the papers: use --layer dense or all")
    report = tables.build(layers, trials=trials, seed=seed, dtype=dtype.value, device=device,
                          impl=impl.value, eps=eps, tf32=tf32)
    write_output(render.table(report, format.value, color=output is None and sys.stdout.isatty()), output)
    failures = report.failures()
    if check and failures:
        for c in failures:
            typer.echo(f"check failed: {c.layer}/{c.norm}/{c.transform}: {c.note}", err=True)
        raise typer.Exit(1)


