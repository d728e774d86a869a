"""invcheck scan MODULE:FACTORY: every parameter tensor of a model under the three weight transforms."""

# No `from __future__ import annotations`: typer would eval every annotation string at start-up.

import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from invcheck import timeouts
from invcheck.cli.app import app
from invcheck.cli.common import STDOUT, check_options, check_outputs, load_torch, style, write_output
from invcheck.errors import InvcheckError


class ScanFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


class ScanMode(str, Enum):
    eval = "eval"
    train = "train"


@app.command()
def scan(
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:FACTORY",
            help="The factory that builds the model: pkg.module:build or path/to/file.py:build. "
            "It returns a model or (model, inputs).",
        ),
    ],
    kwargs: Annotated[str, typer.Option(help="JSON keyword arguments for the factory.")] = "{}",
    allow_import: Annotated[
        bool, typer.Option("--allow-import", help="Allow importing and running the factory's code.")
    ] = False,
    input_shape: Annotated[
        str | None,
        typer.Option(help="Inputs to draw (N(0,1), seeded) where the factory returns none, e.g. 8,3,32,32."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            help="The output field to check (default: the tensor; logits, else last_hidden_state, else "
            "the first tensor).",
        ),
    ] = None,
    mode: Annotated[
        ScanMode, typer.Option(help="eval, or train: batch statistics, running ones untouched, no dropout.")
    ] = ScanMode.eval,
    seed: Annotated[int, typer.Option(help="Seed of every draw.")] = 0,
    trials: Annotated[
        int, typer.Option(min=1, max=64, help="Trials at the model's values for what looks invariant.")
    ] = 2,
    format: Annotated[ScanFormat, typer.Option("--format", "-f", help="Output format.")] = ScanFormat.text,
    output_file: Annotated[
        Path | None, typer.Option("--output-file", "-o", help="Write the report to a file instead of stdout.")
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also draw a heatmap of tensors x transforms (.png or .svg)."),
    ] = None,
    heuristics: Annotated[
        bool,
        typer.Option(
            "--heuristics", help="Also show what AdamP's test and timm's, HF's and nanoGPT's rules decide."
        ),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=timeouts.LOW,
            max=timeouts.HIGH,
            help="Seconds building the model may take, from the command's start (importing torch and "
            "the factory's code included).",
        ),
    ] = 15.0,
) -> None:
    """Scan a model: for every parameter tensor, whether its output is invariant to rescaling the tensor,
    each of its output units, or recentering it (exit 2 when the model cannot be built or run)."""
    started = time.monotonic()  # the factory's deadline counts from here: torch's import counts
    shape = _shape(input_shape)
    check_options(seed=seed)
    parsed = _kwargs(kwargs)
    output_file = None if output_file == STDOUT else output_file
    check_outputs([output_file, plot])
    if plot is not None:
        from invcheck.scan import heatmap

        heatmap.ready(plot)
    _permitted(target, allow_import)
    from invcheck.scan import load

    timeouts.set_timeout(timeout, "--timeout SECONDS", started)
    try:
        model, inputs = load.build(target, parsed, first=load_torch)  # one deadline for all three
    finally:
        timeouts.set_timeout(
            timeout, "--timeout SECONDS"
        )  # later deadlines in this process count from their own start
    from invcheck.scan import memory
    from invcheck.scan.engine import scan as run_scan

    if not memory.has_parameters(model):
        raise InvcheckError(f"{target}: {memory.NO_PARAMETERS}")
    if inputs is None and shape is not None:
        import torch

        # bounded before anything is drawn: --input-shape 100000,100000,1000 is 40 TB
        memory.check_memory(model, None, shape, torch.float64, memory.MAX_MEMORY)
        inputs = load.draw_inputs(shape, seed)
    report = run_scan(
        model,
        inputs,
        mode=mode.value,
        input_shape=shape,
        output=output,
        seed=seed,
        trials=trials,
        name=target,
        max_memory=memory.MAX_MEMORY,
        progress=True,
    )
    compared = None
    if heuristics:
        from invcheck.scan import heuristics as hz

        compared = hz.compare(model, report, inputs, mode=mode.value, output=output, seed=seed)
    color, width = style(output_file)
    write_output(_render(report, compared, format, color, width), output_file)
    if plot is not None:
        from invcheck.scan import heatmap

        write_output(heatmap.image(report, plot), plot)


def _render(report, compared, format: ScanFormat, color: bool, width: int) -> str:
    if format is ScanFormat.json:
        import json

        data = report.to_json()
        if compared is not None:
            data["heuristics"] = compared.to_json()
        return json.dumps(data, indent=2)
    if format is ScanFormat.markdown:
        from invcheck.scan import markdown

        return markdown.table(report, compared) if compared is not None else markdown.table(report)
    from invcheck.scan import text

    return text.render(report, color, width, compared)


def _shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    import re

    try:
        shape = tuple(int(part) for part in re.split(r"[,x]", text.strip()))
    except ValueError:
        raise InvcheckError(
            f"--input-shape {text!r}: write sizes separated by commas, e.g. 8,3,32,32"
        ) from None
    if not shape or any(s < 1 or s > 1_000_000 for s in shape) or len(shape) > 8:
        raise InvcheckError(f"--input-shape {text!r}: 1 to 8 sizes, each from 1 to 1000000")
    return shape


def _kwargs(text: str) -> dict:
    import json

    from invcheck.cli.table import _unique_keys

    try:
        parsed = json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise InvcheckError("--kwargs is nested too deeply to read") from None
    except json.JSONDecodeError as err:
        raise InvcheckError(f"--kwargs must be a JSON object: {err.msg} (at character {err.pos})") from None
    except ValueError as err:
        raise InvcheckError(f"--kwargs: {str(err)[:120]}") from None
    if not isinstance(parsed, dict):
        raise InvcheckError(f"--kwargs must be a JSON object, got {type(parsed).__name__}")
    return parsed


def _permitted(target: str, allow_import: bool) -> None:
    from invcheck.cli.common import config_allows_import
    from invcheck.errors import ImportRefused

    if not (allow_import or config_allows_import([Path.cwd()])):
        raise ImportRefused(
            f"scan {target!r} would import and run user code; pass --allow-import "
            "(or set allow-import = true under [tool.invcheck] in pyproject.toml)"
        )
