"""invcheck explain: why a cell holds (how mu and sigma move) or breaks (a shrunk counterexample)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from invcheck.cli.app import (
    AllowImportOpt,
    CheckSeedOverrideOpt,
    DeviceOpt,
    DtypeOverrideOpt,
    LayerOpt,
    NormOpt,
    OutputOpt,
    RunFormat,
    RunFormatOpt,
    TransformOpt,
    TrialsOverrideOpt,
    app,
)
from invcheck.cli.cells import selected_checks
from invcheck.cli.common import check_outputs, config_allows_import, load_torch, style, write_output


@app.command()
def explain(
    spec: Annotated[
        Path | None,
        typer.Argument(
            metavar="SPEC",
            help="A spec file, or - for a spec on stdin: explain each of its checks; SPEC::NAME: its one "
            "check of that test name.",
        ),
    ] = None,
    norm: NormOpt = None,
    transform: TransformOpt = None,
    layer: LayerOpt = "dense",
    seed: Annotated[
        int, typer.Option(min=0, max=2**63 - 1, help="Seed of the first small integer draw.")
    ] = 0,
    check_seed: CheckSeedOverrideOpt = None,
    trials: TrialsOverrideOpt = None,
    dtype: DtypeOverrideOpt = None,
    device: DeviceOpt = None,
    format: RunFormatOpt = RunFormat.rich,
    output: OutputOpt = None,
    allow_import: AllowImportOpt = False,
) -> None:
    """Show why a cell holds or breaks: a small exact counterexample, or how mu and sigma move.
    User code (a module norm, a transform of your own) is explained by its numbers."""
    from invcheck import reproduce
    from invcheck.user_objects import user_code
    from invcheck.why.explain import explain_check
    from invcheck.why.render import explain_text

    # the overrides `invcheck run` takes, so that a run's explain line explains the check it ran
    def override(checks: list) -> list:
        return reproduce.overridden(
            checks,
            seed=check_seed,
            trials=trials,
            dtype=dtype.value if dtype else None,
            device=device,
            flags=reproduce.EXPLAIN_FLAGS,
        )

    override([])  # a bad value: refused before any file is read
    check_outputs([output], [reproduce.split(spec)[0]] if spec else [])  # before the work, not after it
    files = [reproduce.split(spec)[0]] if spec and spec != Path("-") else []
    checks = selected_checks(spec, norm, transform, layer, allow_import or config_allows_import(files))
    checks = override(checks)
    load_torch()
    found = [_numbers(c) if user_code(c) else explain_check(c, seed) for c in checks]
    if format.value == "json":
        docs = [e if isinstance(e, dict) else e.to_dict() for e in found]
        from invcheck.render import json as json_render

        text = json_render.why("explanations", docs)
    else:
        color, width = style(output)
        text = "\n".join(
            e["text"] if isinstance(e, dict) else explain_text(e, color=color, width=width) for e in found
        )
    write_output(text, output)


def _numbers(check) -> dict:
    """User code has no exact form to shrink: its check run, and its evidence (deviation,
    tolerance and why, the worst trial), as `invcheck run` measures it."""
    from invcheck.evidence import explain as evidence
    from invcheck.runner import run_check

    result = run_check(check)
    note = "user code: explained by its numbers (no exact counterexample is computed for it)"
    return result.to_dict() | {"note": note, "text": f"{evidence(result, check.expect)}\n  {note}\n"}
