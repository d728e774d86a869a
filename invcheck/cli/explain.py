"""invcheck explain: why a cell holds (how mu and sigma move) or breaks (a shrunk counterexample)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from invcheck import names
from invcheck.cli import RunFormat, app
from invcheck.cli.common import write_output
from invcheck.errors import InvcheckError



def selected_checks(spec: Optional[Path], norm: Optional[str], transform: Optional[str], layer: str) -> list:
    """The checks a why-command works on: every check of a spec, or one check from the flags."""
    from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig

    if spec is not None:
        from invcheck import spec as specs

        checks = specs.load_specs([spec])
        for c in checks:
            if c.norm.module is not None:
                raise InvcheckError(f"{c.location}: this command works on the registry's norms, not user code "
                                    f"'{c.norm.module}'")
        return checks
    if norm is None or transform is None:
        raise InvcheckError("name a cell: --norm and --transform (and --layer), or a spec file")
    _known(norm, names.NORMS, "--norm")
    _known(transform, names.TRANSFORMS, "--transform")
    _known(layer, names.LAYERS, "--layer")
    return [CheckConfig(norm=NormConfig(id=norm), transform=TransformConfig(id=transform), layer=LayerConfig(layer))]


def _known(value: str, allowed: tuple[str, ...], flag: str) -> None:
    if value not in allowed:
        raise InvcheckError(f"{flag} {value!r} is not one of {', '.join(allowed)}")


@app.command()
def explain(
    spec: Annotated[Optional[Path], typer.Argument(help="A spec file: explain each of its checks.")] = None,
    norm: Annotated[Optional[str], typer.Option(help=f"Norm: {', '.join(names.NORMS)}.")] = None,
    transform: Annotated[Optional[str], typer.Option(help=f"Transform: {', '.join(names.TRANSFORMS)}.")] = None,
    layer: Annotated[str, typer.Option(help=f"Layer kind: {', '.join(names.LAYERS)}.")] = "dense",
    seed: Annotated[int, typer.Option(min=0, help="Seed of the first small integer draw.")] = 0,
    format: Annotated[RunFormat, typer.Option("--format", "-f", help="Output format.")] = RunFormat.rich,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to a file instead of stdout.")] = None,
) -> None:
    """Show why a cell holds or breaks: a small exact counterexample, or how mu and sigma move."""
    from invcheck.why.explain import explain as explain_check
    from invcheck.why.render import explain_text

    found = [explain_check(c, seed) for c in selected_checks(spec, norm, transform, layer)]
    if format.value == "json":
        docs = [e.to_dict() for e in found]
        text = json.dumps(docs[0] if len(docs) == 1 else docs, indent=2, ensure_ascii=False)
    else:
        text = "\n".join(explain_text(e, color=output is None and sys.stdout.isatty()) for e in found)
    write_output(text, output)
