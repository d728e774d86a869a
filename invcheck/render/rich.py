"""Terminal output with rich: the table as grids, a run as one line per check and a summary."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from invcheck.names import TRANSFORM_LABELS
from invcheck.render.symbols import PROOF_LEGEND, PROOF_MARK, SYMBOL, meta_line, number

STYLE = {"invariant": "green", "not_invariant": "red", "inconclusive": "yellow", "undefined": "dim"}


def _console(buffer: io.StringIO, color: bool, wrap: bool = True) -> Console:
    # Wide enough for six columns when piped; color only where the caller's stream is a terminal;
    # run lines never wrap, so that CI logs keep one line per check.
    return Console(file=buffer, width=150, force_terminal=color, no_color=not color, highlight=False,
                   soft_wrap=not wrap)


def _cell(cell: Any) -> str:
    v = cell.verdict
    dev = cell.result.deviation
    text = f"[{STYLE[v]}]{SYMBOL[v]} {'undefined' if dev is None else number(dev)}[/]"
    for label, claim in (("paper", cell.paper), ("survey", cell.survey)):
        if claim is None:
            continue
        if claim.verdict == v:
            text += f"\n[dim]{label} {SYMBOL[claim.verdict]} =[/]"
        else:
            text += f"\n[bold magenta]{label} {SYMBOL[claim.verdict]} ≠[/]"
    if cell.reference is not None and cell.reference.verdict != v:
        text += f"\n[bold magenta]reference {SYMBOL[cell.reference.verdict]}[/]"
    if cell.proof is not None and PROOF_MARK[cell.proof.status]:
        text += f"\n[cyan]{PROOF_MARK[cell.proof.status]}[/]"
    return text


def table(report: Any, color: bool = False) -> str:
    buf = io.StringIO()
    out = _console(buf, color)
    out.print(f"[dim]{meta_line(report.meta)}[/]")
    for layer in report.layers():
        grid = Table(title=f"layer: {layer}", title_justify="left", show_lines=True)
        grid.add_column("norm")
        for t in report.transforms(layer):
            grid.add_column(TRANSFORM_LABELS[t], justify="center")
        for norm in report.norms(layer):
            grid.add_row(norm, *(_cell(report.cell(layer, norm, t)) for t in report.transforms(layer)))
        out.print(grid)
        for cell in report.cells:
            if cell.layer == layer and cell.note:
                out.print(f"  [magenta]•[/] {cell.norm} × {cell.transform}: {escape(cell.note)}")
    out.print("[dim]✓ invariant  ✗ not invariant  ? inconclusive  – undefined · number: deviation "
              "|y'−y|max/max(|y|,|y'|)max of the decisive trial · paper: the papers' claim, made for a dense layer · "
              "survey: a claim made for conv networks[/]")
    if report.meta.get("prove"):
        out.print(f"[dim]{PROOF_LEGEND}[/]")
    return buf.getvalue()


def run(report: Any, color: bool = False) -> str:
    buf = io.StringIO()
    out = _console(buf, color, wrap=False)
    for r in report.results:
        status = {True: "[green]PASS[/]", False: "[red]FAIL[/]", None: "[dim]----[/]"}[r.expected]
        where = r.check.location or ""
        expect = f"expect {r.check.expect}" if r.check.expect else "no expect"
        numbers = f"dev {number(r.deviation)} tol {number(r.tolerance)}" + (f" ({r.bound})" if r.bound else "")
        out.print(f"{status} {escape(r.check.title)}  [{STYLE[r.verdict]}]{r.verdict}[/]  {numbers}  {expect}  "
                  f"[dim]{escape(where)}[/]")
        if r.expected is False or r.verdict in ("inconclusive", "undefined"):
            out.print(f"     [dim]{escape(r.why)}[/]")
    unchecked = sum(r.expected is None for r in report.results)
    out.print(f"{report.passed} passed, {report.failed} failed" + (f" ({unchecked} without expect)" if unchecked else ""))
    return buf.getvalue()
