"""invcheck prove: decide a cell exactly (sympy): proved, refuted with an exact instance, or numeric only."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from invcheck import names
from invcheck.cli import RunFormat, app
from invcheck.cli.common import write_output
from invcheck.cli.explain import selected_checks


@app.command()
def prove(
    spec: Annotated[Optional[Path], typer.Argument(help="A spec file: prove each of its checks.")] = None,
    norm: Annotated[Optional[str], typer.Option(help=f"Norm: {', '.join(names.NORMS)}.")] = None,
    transform: Annotated[Optional[str], typer.Option(help=f"Transform: {', '.join(names.TRANSFORMS)}.")] = None,
    layer: Annotated[str, typer.Option(help=f"Layer kind: {', '.join(names.LAYERS)}.")] = "dense",
    seconds: Annotated[float, typer.Option(min=1.0, help="Time limit for the cell.")] = 60.0,
    format: Annotated[RunFormat, typer.Option("--format", "-f", help="Output format.")] = RunFormat.rich,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to a file instead of stdout.")] = None,
) -> None:
    """Prove a cell invariant exactly (eps 0, small symbolic shapes, positive factors), or refute it."""
    from invcheck.why.explain import setting_of
    from invcheck.why.prove import prove as prove_cell
    from invcheck.why.render import prove_text

    settings = [setting_of(c) for c in selected_checks(spec, norm, transform, layer)]
    proofs = [(s, prove_cell(s, seconds)) for s in settings]
    if format.value == "json":
        docs = [{"layer": s.kind_id, "norm": s.norm_id, "transform": s.transform_id, **p.to_dict()} for s, p in proofs]
        text = json.dumps(docs[0] if len(docs) == 1 else docs, indent=2, ensure_ascii=False)
    else:
        text = "\n".join(prove_text(s, p, color=output is None and sys.stdout.isatty()) for s, p in proofs)
    write_output(text, output)
