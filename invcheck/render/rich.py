"""Terminal output with rich: the table as grids, a run as one line per check and a summary.

Width and colour come from the terminal as rich detects them (`COLUMNS`, the terminal size, 80 when
piped; `NO_COLOR`, `FORCE_COLOR`). A table that does not fit its width in full is drawn compact: no
vertical rules, claims as short marks (`p✓=`), `–` for undefined; the legend says what each mark means.
"""

from __future__ import annotations

import io
import sys
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from invcheck.errors import one_line
from invcheck.names import TRANSFORM_LABELS
from invcheck.paper import LABELS
from invcheck.render.symbols import PROOF_LEGEND, PROOF_MARK, SYMBOL, compared, meta_line, number

STYLE = {
    "invariant": "green",
    "not_invariant": "red",
    "inconclusive": "yellow",
    "undefined": "dim",
    "error": "bold red",
}
FULL_WIDTH = 104  # the widest full table (six transforms): below it, the compact one
MIN_WIDTH = 30  # a norm's name and one cell: the narrowest table that still shows every number
NORM_WIDTH, CELL_WIDTH = 14, 10  # compact: the norm column, a cell ("✓ 3.3e-16") and its gap
# a claim's kind -> its compact letter and what it means (the kind of a cell's second claim is its
# source's label: the survey's for conv networks, or the paper's claim for its RNN)
_CLAIMS = {
    "paper": ("p", "the papers' claim (made for a dense layer)"),
    "survey": ("s", "the survey's claim (made for conv networks)"),
    "RNN claim": ("n", "the paper's claim for its recurrent network"),
    "reference": ("r", "the reference implementation's verdict, shown where it differs (--impl torch)"),
}
_VERDICTS = "✓ invariant  ✗ not invariant  ? inconclusive  – undefined (nothing to measure)"
_NUMBER = "number: deviation |y'−y|max/max(|y|,|y'|)max of the decisive trial"


def legend(compact: bool, kinds: set[str] | None = None) -> str:
    """Every mark the table draws, with its meaning: the claims of `kinds` (default: all)."""
    parts = [_VERDICTS, _NUMBER]
    for kind, (letter, meaning) in _CLAIMS.items():
        if kinds is not None and kind not in kinds:
            continue
        if kind == "reference":
            mark = "r✓" if compact else "reference ✓"
        else:
            mark = f"{letter}✓= {letter}✗≠" if compact else f"{kind} ✓ ="
        parts.append(f"{mark}: {meaning}")
    if parts[2:] and (kinds is None or kinds - {"reference"}):
        parts.append("= agrees, ≠ differs")
    return " · ".join(parts)


def terminal(stream: TextIO | None = None) -> tuple[bool, int]:
    """(colour, width) for `stream` as rich decides: a terminal or FORCE_COLOR, and not NO_COLOR.
    COLUMNS=0 (or less) counts as unset (80); below MIN_WIDTH nothing fits, so lines wrap instead
    of losing their numbers."""
    probe = Console(file=stream or sys.stdout)
    width = probe.width if probe.width > 0 else 80
    return probe.is_terminal and not probe.no_color, max(width, MIN_WIDTH)


def _console(buffer: io.StringIO, color: bool, width: int, wrap: bool = True) -> Console:
    # Colour only where asked (the caller knows its stream); run lines never wrap, so that CI logs
    # keep one line per check.
    return Console(
        file=buffer,
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="auto" if color else None,
        highlight=False,
        soft_wrap=not wrap,
    )


def _shown(cell: Any) -> list[tuple[str, Any]]:
    """The claims drawn beside a computed verdict, each with its kind (see _CLAIMS)."""
    shown = [("paper", cell.paper)]
    if cell.survey is not None:
        shown.append((LABELS[cell.survey.source], cell.survey))
    if cell.reference is not None and cell.reference.verdict != cell.verdict:
        shown.append(("reference", cell.reference))
    return [(kind, claim) for kind, claim in shown if claim is not None]


def _claims(cell: Any, compact: bool) -> list[str]:
    """The claims beside a computed verdict: `paper ✓ =` (or `p✓=` when compact)."""
    out = []
    for kind, claim in _shown(cell):
        same = claim.verdict == cell.verdict
        mark = "" if kind == "reference" else (" =" if same else " ≠")
        name = _CLAIMS[kind][0] if compact else f"{kind} "
        text = f"{name}{SYMBOL[claim.verdict]}{mark.strip() if compact else mark}"
        out.append(f"[dim]{text}[/]" if same else f"[bold magenta]{text}[/]")
    if cell.proof is not None and PROOF_MARK[cell.proof.status]:
        out.append(f"[cyan]{PROOF_MARK[cell.proof.status]}[/]")
    return out


def _cell(cell: Any, compact: bool) -> str:
    v = cell.verdict
    dev = cell.result.deviation
    shown = ("" if compact else " undefined") if dev is None else f" {number(dev)}"
    claims = _claims(cell, compact)
    return f"[{STYLE[v]}]{SYMBOL[v]}{shown}[/]" + ("\n" + " ".join(claims) if claims else "")


def _column_groups(transforms: list[str], width: int, compact: bool) -> list[list[str]]:
    """The transforms of a layer in runs that fit `width`: narrower terminals get stacked tables."""
    if not compact:
        return [transforms]
    per = max(1, (width - NORM_WIDTH) // CELL_WIDTH)
    return [transforms[i : i + per] for i in range(0, len(transforms), per)]


def _grid(report: Any, layer: str, transforms: list[str], compact: bool) -> Table:
    # compact: no rules and no padding (the blank separators are the gaps), a verdict and its
    # deviation kept on one line (9 characters), headers wrapped onto two
    style: dict[str, Any] = dict(box=box.SIMPLE, show_edge=False, padding=(0, 0)) if compact else {}
    grid = Table(title=f"layer: {layer}", title_justify="left", show_lines=True, **style)
    # compact: a name longer than the norm column (weight_standardization) folds onto a second line
    # rather than pushing the last cell's numbers off the table
    fixed = NORM_WIDTH - 1 if compact else None
    grid.add_column("norm", no_wrap=not compact, overflow="fold", min_width=fixed, max_width=fixed)
    # compact: each cell column exactly one cell wide (its header wraps), so the columns that
    # _column_groups counted fit; rich would otherwise crop the last one (5.2e-16 shown as 5.2e-1)
    cell = CELL_WIDTH - 1 if compact else None
    for t in transforms:
        grid.add_column(
            TRANSFORM_LABELS[t], justify="center", min_width=cell, max_width=cell, overflow="fold"
        )
    for norm in report.norms(layer):
        grid.add_row(norm, *(_cell(report.cell(layer, norm, t), compact) for t in transforms))
    return grid


def table(report: Any, color: bool = False, width: int = 80) -> str:
    buf = io.StringIO()
    out = _console(buf, color, width)
    compact = width < FULL_WIDTH
    out.print(f"[dim]{escape(meta_line(report.meta))}[/]")
    for layer in report.sections():  # a layer, or a layer and where its norm sits
        for transforms in _column_groups(report.transforms(layer), width, compact):
            out.print(_grid(report, layer, transforms, compact))
        for cell in report.cells:
            if report.section(cell) == layer and cell.note:
                out.print(f"  [magenta]•[/] {cell.norm} × {cell.transform}: {escape(cell.note)}")
        for label, likeness in report.meta.get("behaves_like", {}).get(layer, {}).items():
            out.print(f"  [bold]{escape(label)}[/] {likeness}")
        if layer in report.meta.get("not_accepted", {}):
            out.print(
                f"  {escape(report.meta['module'])} does not run in a {layer} layer: "
                f"{escape(report.meta['not_accepted'][layer])}"
            )
        for mode, reason in report.meta.get("mode_fails", {}).get(layer, {}).items():
            out.print(
                f"  {escape(report.meta['module'])} fails in {mode} mode in a {layer} layer "
                f"(its row above is the mode that runs): {escape(reason)}"
            )
    out.print(f"[dim]{legend(compact, {kind for cell in report.cells for kind, _ in _shown(cell)})}[/]")
    if report.meta.get("prove"):
        out.print(f"[dim]{PROOF_LEGEND}[/]")
    return buf.getvalue()


# Runs ------------------------------------------------------------------------------------------

_STATUS = {True: "[green]PASS[/]", False: "[red]FAIL[/]", None: "[dim]----[/]"}


def run_line(r: Any, color: bool = False, width: int = 80) -> str:
    """One check's line (and its reason when it failed, is inconclusive, undefined or an error)."""
    buf = io.StringIO()
    out = _console(buf, color, width, wrap=False)
    where = escape(one_line(r.check.location or ""))  # a file name may hold a newline or an escape
    if r.verdict == "error":  # a message that begins with the place names it already
        named = bool(r.check.location) and r.why.startswith(r.check.location)
        out.print(
            f"[bold red]ERR [/] {escape(r.check.title)}  [bold red]error[/]  {escape(one_line(r.why))}"
            + ("" if named else f"  [dim]{where}[/]")
        )
        return buf.getvalue()
    expect = f"expect {r.check.expect}" if r.check.expect else "no expect"
    dev, tol = compared(r.deviation, r.tolerance)
    numbers = f"dev {dev} tol {tol}" + (f" ({r.bound})" if r.bound else "")
    if r.verdict == "invariant" and r.bound == "eps" and r.eps_effect:  # the qualifier (docs/trust.md)
        numbers += f", up to eps: it moves the sides {r.eps_effect:.2g} apart"
    out.print(
        f"{_STATUS[r.expected]} {escape(r.check.title)}  [{STYLE[r.verdict]}]{r.verdict}[/]  {numbers}  "
        f"{expect}  [dim]{where}[/]"
    )
    if r.expected is False or r.verdict in ("inconclusive", "undefined"):
        out.print(f"     [dim]{escape(one_line(r.why))}[/]")
    return buf.getvalue()


def summary(report: Any, color: bool = False, width: int = 80) -> str:
    buf = io.StringIO()
    out = _console(buf, color, width, wrap=False)
    unchecked = sum(r.expected is None and r.verdict != "error" for r in report.results)
    text = f"{report.passed} passed, {report.failed} failed"
    text += f", {report.errors} error{'s' if report.errors > 1 else ''}" if report.errors else ""
    out.print(text + (f" ({unchecked} without expect)" if unchecked else ""))
    return buf.getvalue()


def shown(r: Any, quiet: bool) -> bool:
    """--quiet keeps only failures and errors."""
    return not quiet or r.expected is False or r.verdict == "error"


def run(report: Any, color: bool = False, width: int = 80, quiet: bool = False) -> str:
    lines = [run_line(r, color, width) for r in report.results if shown(r, quiet)]
    return "".join(lines) + summary(report, color, width)
