"""invcheck explain: why a cell holds (how mu and sigma move) or breaks (a shrunk counterexample)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from invcheck.cli.app import LayerOpt, NormOpt, OutputOpt, RunFormat, RunFormatOpt, TransformOpt, app
from invcheck.cli.cells import selected_checks
from invcheck.cli.common import check_outputs, load_torch, style, write_output


@app.command()
def explain(
    spec: Annotated[
        Path | None,
        typer.Argument(
            metavar="SPEC", help="A spec file, or - for a spec on stdin: explain each of its checks."
        ),
    ] = None,
    norm: NormOpt = None,
    transform: TransformOpt = None,
    layer: LayerOpt = "dense",
    seed: Annotated[
        int, typer.Option(min=0, max=2**63 - 1, help="Seed of the first small integer draw.")
    ] = 0,
    format: RunFormatOpt = RunFormat.rich,
    output: OutputOpt = None,
) -> None:
    """Show why a cell holds or breaks: a small exact counterexample, or how mu and sigma move."""
    from invcheck.why.explain import explain_check
    from invcheck.why.render import explain_text

    check_outputs([output], [spec] if spec else [])  # before the work, not after it
    checks = selected_checks(spec, norm, transform, layer)
    load_torch()
    found = [explain_check(c, seed) for c in checks]
    if format.value == "json":
        docs = [e.to_dict() for e in found]
        from invcheck.render import json as json_render

        text = json_render.why("explanations", docs)
    else:
        color, width = style(output)
        text = "\n".join(explain_text(e, color=color, width=width) for e in found)
    write_output(text, output)
