"""invcheck sweep: deviation against the scale factor over decades, as a table, JSON or a plot."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated

import typer

from invcheck.cli.app import AllowImportOpt, Dtype, LayerOpt, NormOpt, OutputOpt, RunFormat, RunFormatOpt, app
from invcheck.cli.cells import selected_checks
from invcheck.cli.common import (
    check_cells,
    check_options,
    check_outputs,
    config_allows_import,
    load_torch,
    style,
    write_output,
)
from invcheck.transforms import TRANSFORMS


@app.command()
def sweep(
    spec: Annotated[
        Path | None,
        typer.Argument(metavar="SPEC", help="A spec file, or - for a spec on stdin: sweep its first check."),
    ] = None,
    norm: NormOpt = None,
    transform: Annotated[
        str | None,
        typer.Option(
            metavar="[" + "|".join(t for t, spec in TRANSFORMS.items() if "scale" in spec.params) + "]",
            help="A re-scaling transform.",
        ),
    ] = None,
    layer: LayerOpt = "dense",
    eps: Annotated[
        list[float] | None, typer.Option(min=0.0, help="eps inside the square root; repeat to compare.")
    ] = None,
    dtype: Annotated[
        list[Dtype] | None, typer.Option(help="dtype the norm runs in; repeat to compare.")
    ] = None,
    low: Annotated[float, typer.Option(help="Smallest scale factor.")] = 1e-6,
    high: Annotated[float, typer.Option(help="Largest scale factor.")] = 1e6,
    per_decade: Annotated[int, typer.Option(min=1, max=50, help="Points per decade.")] = 4,
    trials: Annotated[int, typer.Option(min=1, help="Trials per point.")] = 8,
    seed: Annotated[int, typer.Option(min=0, help="Seed of every random draw.")] = 0,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also draw it: a .png or .svg file (needs invcheck[plot])."),
    ] = None,
    format: RunFormatOpt = RunFormat.rich,
    output: OutputOpt = None,
    allow_import: AllowImportOpt = False,
) -> None:
    """Deviation against the scale factor: where invariance holds, where eps breaks it, where the dtype underflows."""
    from invcheck import reproduce
    from invcheck.why import sweep as sweeps
    from invcheck.why.render import sweep_text

    check_outputs([output, plot], [reproduce.split(spec)[0]] if spec else [])  # before the work, not after it
    if plot is not None:
        from invcheck.why.plot import ready

        ready(plot)  # no matplotlib, or not .png/.svg: say so before computing anything
    check_options(trials=trials, seed=seed)
    for e in eps or []:
        check_options(eps=e)
    files = [reproduce.split(spec)[0]] if spec and spec != Path("-") else []
    allowed = allow_import or config_allows_import(files)
    base = selected_checks(spec, norm, transform, layer, allowed)[0]
    base = base.with_(trials=trials, seed=seed)
    dtypes = [d.value for d in dtype] if dtype else [base.dtype]
    checks = [
        base.with_(dtype=d, norm=replace(base.norm, eps=e)) for d in dtypes for e in (eps or [base.norm.eps])
    ]
    check_cells(checks)
    factors = sweeps.scales(low, high, per_decade)
    load_torch()
    with progress(len(factors) * len(checks)) as advance:
        results = [sweeps.sweep(c, factors, advance) for c in checks]
    if plot is not None:
        from invcheck.why.plot import image

        write_output(
            image(
                results,
                plot,
                f"{base.norm.id} × {base.transform.id} ({base.layer.kind}): deviation against δ",
            ),
            plot,
        )
    if format.value == "json":
        from invcheck.render import json as json_render

        text = json_render.why(
            "points",
            [asdict(p) for r in results for p in r.points],
            crossovers=[
                {"eps": r.check.norm.eps, "dtype": r.check.dtype, "scale": r.crossover} for r in results
            ],
        )
    else:
        color, width = style(output)
        text = sweep_text(results, color=color, width=width)
    write_output(text, output)


@contextmanager
def progress(total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr when it is a terminal; otherwise nothing."""
    if not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("sweeping", total=total)
        yield lambda: bar.advance(task)
