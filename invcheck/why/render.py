"""Terminal text for explain, prove and sweep: rich, the terminal's width (80 in a file), a derivation a person can follow."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape

from invcheck.render.symbols import SYMBOL, compared, number

WIDTH = 80  # in a file or a pipe
STYLE = {"invariant": "green", "not_invariant": "red", "inconclusive": "yellow", "undefined": "dim"}


def console(buffer: io.StringIO, color: bool, width: int = WIDTH) -> Console:
    return Console(file=buffer, width=width, force_terminal=color, no_color=not color, highlight=False)


def _n(v: Any) -> str:
    """A short number: integers as they are, else up to 4 significant digits (exact text as it is)."""
    if isinstance(v, str):
        return v
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e12):
        return str(int(v))
    return f"{v:.4g}"


def matrix(label: str, values: Any, width: int = 0) -> list[str]:
    """A labelled block: one line per row (per case or unit), columns right-aligned."""
    cells = _cells(values)
    width = width or max(len(c) for row in cells for c in row)
    lines = ["  ".join(c.rjust(width) for c in row) for row in cells]
    pad = " " * (len(label) + 3)
    return [f"{label} = [{lines[0]}]"] + [f"{pad}[{line}]" for line in lines[1:]]


def _cells(values: Any) -> list[list[str]]:
    a = np.asarray(values, dtype=object)
    rows = a.reshape(1, -1) if a.ndim < 2 else a.reshape(a.shape[0], -1)
    return [[_n(v) for v in row] for row in rows]


def matrices(*named: tuple[str, Any]) -> list[str]:
    """Blocks that share one column width and one label width, so that they line up."""
    width = max(len(c) for _, v in named for row in _cells(v) for c in row)
    label = max(len(name) for name, _ in named)
    return [line for name, v in named for line in matrix(name.ljust(label), v, width)]


def _header(out: Console, e: Any) -> None:
    c = e.check
    out.print(
        f"[bold]{c.norm.id} × {c.transform.id}[/] in a {c.layer.kind} layer: "
        f"[{STYLE[e.verdict]}]{e.verdict}[/]"
    )
    if e.deviation is not None:
        out.print(
            f"[dim]the tool's check: deviation {number(e.deviation)}, tolerance {number(e.tolerance)}[/]"
        )
    else:
        out.print(f"[dim]{escape(e.why)}[/]")


def explain_text(e: Any, color: bool = False, width: int = WIDTH) -> str:
    buf = io.StringIO()
    out = console(buf, color, width)
    _header(out, e)
    if e.counterexample:
        for line in _derivation(e.counterexample, width):
            out.print(line)
    if e.movement:
        for line in _movement(e.movement, width):
            out.print(line)
    if e.learning:
        for line in _learning(e.learning):
            out.print(line)
    if e.note:
        out.print(escape(e.note))
    return buf.getvalue()


def _derivation(c: dict[str, Any], width: int) -> Iterator[str]:
    sizes = ", ".join(f"{k} {v}" for k, v in c["sizes"].items())
    yield ""
    yield f"[bold]A counterexample[/] ({escape(sizes)}), shrunk to the fewest entries that still break:"
    formula, over = c["norm_definition"].split("; over: ")
    yield escape(wrapped(f"{c['norm']}: {formula}; statistics over {over}", width=width))
    yield "  g = 1, b = 0, eps = 0: every number below can be recomputed by hand."
    factors = "; ".join(f"{f['name']} = {f['values']}" for f in c["factors"])
    yield escape(wrapped(f"{c['transform']}: {c['transform_definition']}, with {factors}", width=width))
    yield "[bold]1. inputs[/] (rows of X: cases; rows of W: units)"
    yield from _indent(matrices(("X", c["X"]), ("W", c["W"])))
    changed = [("X'", c["X2"])] if c["X2"] != c["X"] else []
    changed += [("W'", c["W2"])] if c["W2"] != c["W"] else []
    yield "[bold]2. transformed[/]"
    yield from _indent(matrices(*changed))
    yield f"[bold]3. summed inputs[/] a = {escape(c['summed_formula'])} (rows: cases)"
    yield from _indent(matrices(("a", c["a"]), ("a'", c["a2"])))
    if len(c["mu"]):
        yield f"[bold]4. statistics[/] (one per {c['per']})"
        yield from _indent(matrices(("μ", c["mu"]), ("σ", c["sigma"]), ("μ'", c["mu2"]), ("σ'", c["sigma2"])))
        yield "[bold]5. outputs[/] y = (a − μ) / σ"
    else:  # a norm without statistics (dyt): each entry on its own
        yield f"[bold]4. statistics[/]: none ({c['norm']} takes each entry on its own)"
        yield "[bold]5. outputs[/] " + escape(formula)
    yield from _indent(matrices(("y", c["y"]), ("y'", c["y2"])))
    where = ", ".join(f"[{', '.join(map(str, d))}]" for d in c["differs"][:6])
    more = f" and {len(c['differs']) - 6} more" if len(c["differs"]) > 6 else ""
    yield f"[red]y' ≠ y[/] at {escape(where)}{more} [dim](decided exactly with sympy)[/]"
    first = tuple(c["differs"][0])
    yield escape(
        f"  e.g. at {list(first)}: y = {_at(c['exact']['y'], first)}, y' = {_at(c['exact']['y2'], first)}"
    )


def wrapped(text: str, indent: str = "  ", width: int = WIDTH) -> str:
    """Text folded to the console's width, continuation lines indented further."""
    import textwrap

    return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent + "  ")


def _at(nested: Any, index: tuple[int, ...]) -> Any:
    for i in index:
        nested = nested[i]
    return nested


def _indent(lines: list[str]) -> Iterator[str]:
    for line in lines:
        yield "   " + escape(line)


def _movement(m: dict[str, Any], width: int) -> Iterator[str]:
    yield ""
    yield "[bold]Why it holds[/] " + escape(
        wrapped(
            f"(symbolic X, W, g, b; one statistic per {m['per']}; {m['transform_definition']}):",
            " ",
            width - len("Why it holds"),
        )[1:]
    )
    yield escape(f"  σ'/σ = {', '.join(m['sigma_ratio'])}")
    for mu in m["mu_moves"][:4]:
        yield escape(f"  {mu}")
    yield escape(f"  (a'−μ')/(a−μ) = {', '.join(m['centred_ratio'])}")
    yield "  so y' = g (a'−μ')/σ' + b = g (a−μ)/σ + b = y: the factor cancels."


def _learning(l: dict[str, Any]) -> Iterator[str]:
    sizes = ", ".join(f"{k} {v}" for k, v in l["layer_sizes"].items())
    yield ""
    yield f"[bold]Consequence for learning[/] (measured with autograd, float64, {escape(sizes)}):"
    yield f"  cos(∇_W L, W) = {l['cosine_grad_w']:.2e}   (per neuron, max |cos| {l['max_abs_cosine_per_neuron']:.2e})"
    ratios = "  ".join(f"δ={d}: {r:.6f}" for d, r in l["grad_norm_times_delta_ratio"].items())
    yield f"  ‖∇L(δW)‖·δ/‖∇L(W)‖: {ratios}"
    yield "  the gradient is orthogonal to W and shrinks as 1/δ when W grows by δ."


def prove_text(s: Any, proof: Any, color: bool = False, width: int = WIDTH) -> str:
    buf = io.StringIO()
    out = console(buf, color, width)
    style = {"proved": "green", "refuted": "red"}.get(proof.status, "yellow")
    out.print(
        f"[bold]{s.norm_id} × {s.transform_id}[/] in a {s.kind_id} layer (eps 0): "
        f"[{style}]{proof.status}[/] [dim]({proof.seconds:.2f} s)[/]"
    )
    out.print(escape(proof.detail))
    inst = proof.instance
    if inst:
        out.print("exact instance (g = 1, b = 0):")
        for line in (
            matrix("X", inst["X"])
            + matrix("W", inst["W"])
            + matrix("X'", inst["X2"])
            + matrix("W'", inst["W2"])
        ):
            out.print("   " + escape(line))
        out.print(escape(f"   at {inst['entry']}: y = {inst['y']},  y' = {inst['y2']}"))
    return buf.getvalue()


def sweep_text(sweeps: list[Any], color: bool = False, width: int = WIDTH) -> str:
    from rich import box
    from rich.table import Table

    buf = io.StringIO()
    out = console(buf, color, width)
    narrow = width < 50  # verdicts as their marks, explained below the tables
    for sw in sweeps:
        c = sw.check
        # the title as a line of its own: a table's title folds to the table's width
        out.print(escape(f"{c.norm.id} × {c.transform.id} ({c.layer.kind}), eps {c.norm.eps:g}, {c.dtype}"))
        # narrow terminals: no outer edge, and a cell folds rather than losing characters to an ellipsis
        grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for name in (
            ("scale", "deviation", "tolerance", "verdict") if not narrow else ("scale", "dev", "tol", "")
        ):
            grid.add_column(
                name,
                justify="right" if name not in ("verdict", "") else "left",
                overflow="fold",
                no_wrap=name not in ("verdict", ""),
            )  # a number is never split across lines
        labels = _scale_labels(sw)
        for p in sw.points:
            numbers = (
                (number(p.deviation), number(p.tolerance)) if narrow else compared(p.deviation, p.tolerance)
            )
            grid.add_row(
                labels[p.scale],
                *numbers,
                f"[{STYLE[p.verdict]}]{SYMBOL[p.verdict] if narrow else p.verdict}[/]",
            )
        out.print(grid)
        out.print(_crossover_line(sw))
        for why in dict.fromkeys(p.why for p in sw.points if p.verdict == "undefined"):
            first = min(p.scale for p in sw.points if p.why == why)
            out.print(escape(wrapped(f"undefined from δ = {first:.3g}: {why}", "", width)))
    for line in _scaling_lines(sweeps):
        out.print(line)
    if narrow:
        out.print(" ".join(f"{SYMBOL[v]} {v}" for v in STYLE))
    return buf.getvalue()


def _scale_labels(sw: Any) -> dict[float, str]:
    """Each point's scale in as few digits (3 at least) as keep every label of the sweep distinct."""
    scales = [p.scale for p in sw.points]
    for digits in range(3, 13):
        labels = {s: f"{s:.{digits}g}" for s in scales}
        if len(set(labels.values())) == len(labels):
            return labels
    return {s: repr(s) for s in scales}


def _crossover_line(sw: Any) -> str:
    x, c = sw.crossover, sw.check
    where = f"eps {c.norm.eps:g}, {c.dtype}"
    if x is None:
        return f"{where}: no crossover (never not_invariant below an invariant region)"
    return f"{where}: eps breaks the invariance below δ ≈ {x:.3g}"


def _scaling_lines(sweeps: list[Any]) -> list[str]:
    """How the crossover moves between eps values, beside √(eps ratio)."""
    lines = []
    for dtype in dict.fromkeys(sw.check.dtype for sw in sweeps):
        lines += _ratios(
            [
                (sw.check.norm.eps, sw.crossover)
                for sw in sweeps
                if sw.check.dtype == dtype and sw.crossover and sw.check.norm.eps > 0
            ],
            dtype,
        )
    return lines


def _ratios(pairs: list[tuple[float, float]], dtype: str) -> list[str]:
    lines = []
    for (e1, x1), (e2, x2) in zip(pairs, pairs[1:]):
        lines.append(
            f"{dtype}: crossover ratio {x2 / x1:.3g} for eps ratio {e2 / e1:.3g}: "
            f"√(eps ratio) = {(e2 / e1) ** 0.5:.3g}"
        )
    return lines
