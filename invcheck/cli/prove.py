"""invcheck prove: decide a cell exactly (sympy): proved, refuted with an exact instance, or numeric only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from invcheck.cli.app import LayerOpt, NormOpt, OutputOpt, RunFormat, RunFormatOpt, TransformOpt, app
from invcheck.cli.cells import selected_checks
from invcheck.cli.common import check_outputs, load_torch, style, write_output


@app.command()
def prove(
    spec: Annotated[
        Path | None,
        typer.Argument(
            metavar="SPEC", help="A spec file, or - for a spec on stdin: prove each of its checks."
        ),
    ] = None,
    norm: NormOpt = None,
    transform: TransformOpt = None,
    layer: LayerOpt = "dense",
    seconds: Annotated[
        float, typer.Option(min=1.0, max=86400, help="Time limit for the cell, in seconds.")
    ] = 60.0,
    format: RunFormatOpt = RunFormat.rich,
    output: OutputOpt = None,
) -> None:
    """Prove a cell invariant exactly (eps 0, small symbolic shapes, positive factors), or refute it."""
    from invcheck.why.explain import cell_of
    from invcheck.why.prove import prove as prove_cell
    from invcheck.why.render import prove_text

    check_outputs([output], [spec] if spec else [])  # before the work, not after it
    checks = selected_checks(spec, norm, transform, layer)
    load_torch()
    cells = [cell_of(c) for c in checks]
    proofs = [(s, prove_cell(s, seconds)) for s in cells]
    if format.value == "json":
        docs = [
            {"layer": s.kind_id, "norm": s.norm_id, "transform": s.transform_id, **p.to_dict()}
            for s, p in proofs
        ]
        from invcheck.render import json as json_render

        text = json_render.why("proofs", docs)
    else:
        color, width = style(output)
        text = "\n".join(prove_text(s, p, color=color, width=width) for s, p in proofs)
    write_output(text, output)
