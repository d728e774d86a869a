"""A scan's terminal table: one row per tensor, grouped by module, a column per transform.

Fits the width it is given (the terminal's, as the other tables): the shape column where there is
room for it, the `via` column where there is room for it (else each tensor's via on a line of its
own under its module's rows).
Imports no torch.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from invcheck.render.rich import STYLE, _console
from invcheck.render.symbols import SYMBOL, number
from invcheck.scan.report import TRANSFORMS, GroupVerdict, ParamVerdict, ScanReport

LABELS = {
    "weight_matrix_rescale": "matrix rescale",
    "weight_vector_rescale": "vector rescale",
    "weight_matrix_recenter": "matrix recenter",
}
COMPACT_WIDTH = 72  # the groups' via column below it
ONLY = "*"  # a verdict that holds at the model's values only
LEGEND = (
    "✓ invariant  ✗ not invariant  ? inconclusive  – undefined  "
    f"{ONLY} at the model's own values only (not at re-drawn generic ones) · "
    "number: deviation |y'−y|max/max(|y|,|y'|)max, float64 with eps off "
    "(eps's effect where eps decides)"
)


def render(report: ScanReport, color: bool = False, width: int = 80, heuristics: Any = None) -> str:
    """The table; `heuristics` (a heuristics.HeuristicsReport) adds each rule of thumb's call per
    tensor: as columns where they fit, else as a table of their own, and one agreement line each."""
    buf = io.StringIO()
    out = _console(buf, color, width)
    transforms = [t for t in TRANSFORMS if any(p.transform == t for p in report.parameters)]
    tensors = list(dict.fromkeys(p.name for p in report.parameters))
    out.print(
        f"[bold]{escape(report.model)}[/] · mode {report.mode} · {len(tensors)} tensors × "
        f"{len(transforms)} transforms · {len({g.names for g in report.groups})} joint group(s) tested"
    )
    if report.model_dtype:
        out.print(f"[dim]model dtype {report.model_dtype}; scanned as a {report.scan_dtype} copy[/]")
    rules = _Rules(heuristics) if heuristics is not None else None
    _modules(out, report, transforms, width, rules)
    if rules is not None and not rules.inline:
        out.print(rules.table(list(dict.fromkeys(p.name for p in report.parameters))))
    if report.groups:
        out.print(_groups(report.groups, width))
    out.print(f"[dim]{escape(LEGEND)}[/]")
    counts = _counts(report.parameters)
    out.print(" · ".join(f"{n} {v.replace('_', ' ')}" for v, n in counts.items() if n))
    if rules is not None:
        from invcheck.scan import heuristics as hz

        out.print(
            "[dim]rules of thumb: ✓ scale-invariant / no weight decay, ✗ not; ! differs from the exact answer[/]"
        )
        for line in hz.summary_lines(heuristics):
            out.print(escape(line))
    return buf.getvalue()


class _Rules:
    """The rules of thumb's columns: the exact answer (scale-invariant: the matrix rescale holds),
    then each rule's call."""

    def __init__(self, report: Any) -> None:
        from invcheck.scan import heuristics as hz

        self.hz, self.report = hz, report
        self.heads = ["exact", *(hz.HEADS[h] for h in report.heuristics)]
        self.widths = [5, *(8 if h == "adamp" else max(len(hz.HEADS[h]), 3) + 2 for h in report.heuristics)]
        self.inline = False

    @property
    def width(self) -> int:
        return sum(w + 1 for w in self.widths)

    def cells(self, name: str) -> list[str]:
        try:
            calls = self.report.calls_of(name)
        except KeyError:
            calls = None
        return [self.hz.exact_cell(calls), *(self.hz.cell(calls, h) for h in self.report.heuristics)]

    def table(self, names: list[str]) -> Table:
        t = Table(
            title="rules of thumb beside the exact answer",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            padding=(0, 1, 0, 0),
        )
        t.add_column("tensor", overflow="fold")
        for head, w in zip(self.heads, self.widths):
            t.add_column(head, width=w, no_wrap=True)
        for name in names:
            t.add_row(escape(name), *self.cells(name))
        return t


def _cell(p: ParamVerdict | GroupVerdict) -> str:
    mark = SYMBOL.get(p.verdict, "?") + (ONLY if getattr(p, "at_these_values_only", False) else "")
    return f"[{STYLE.get(p.verdict, '')}]{mark} {number(p.deviation)}[/]"


CELL = 15  # "✓* 5.1e-16" and the column's label
MIN_VIA = 24


def _modules(
    out: Console, report: ScanReport, transforms: Sequence[str], width: int, rules: _Rules | None = None
) -> None:
    """A title line per module, then its tensors' rows; every module's rows in columns of the
    same widths, so that the whole reads as one table."""
    by_module: dict[str, dict[str, dict[str, ParamVerdict]]] = {}
    types: dict[str, str] = {}
    for p in report.parameters:
        by_module.setdefault(p.module, {}).setdefault(p.name, {})[p.transform] = p
        types[p.module] = p.module_type
    leaves = [_leaf(name, module) for module, names in by_module.items() for name in names]
    name_w = min(max([len(x) for x in leaves] + [6]) + 2, 32)
    shapes = [_shape(next(iter(c.values())).shape) for names in by_module.values() for c in names.values()]
    shape_w = max([len(x) for x in shapes] + [5])
    cells_w = len(transforms) * (CELL + 1)
    if rules is not None and width >= (name_w + 1) + cells_w + rules.width:
        rules.inline = True
        cells_w += rules.width
    # each column pads one space on its right
    show_shape = width >= (name_w + 1) + (shape_w + 1) + cells_w + (MIN_VIA + 1)
    via_w = width - (name_w + 1) - cells_w - ((shape_w + 1) if show_shape else 0) - 1
    show_via = via_w >= MIN_VIA

    def grid(header: bool) -> Table:
        t = Table(box=None, show_header=header, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
        t.add_column("tensor", width=name_w, overflow="fold")
        if show_shape:
            t.add_column("shape", width=shape_w, overflow="fold")
        for tr in transforms:
            t.add_column(LABELS[tr], width=CELL, no_wrap=True)
        if rules is not None and rules.inline:
            for head, w in zip(rules.heads, rules.widths):
                t.add_column(head, width=w, no_wrap=True)
        if show_via:
            t.add_column("via", width=via_w, overflow="fold")
        return t

    out.print(grid(True), style="bold")
    for module, names in by_module.items():
        out.print(f"[bold]{escape(module or '(the model itself)')}[/]  [dim]{escape(types[module])}[/]")
        t = grid(False)
        vias = []
        for name, cells in names.items():
            first = next(iter(cells.values()))
            via = next((c.via for c in cells.values() if c.via), None)
            row = [f"  {escape(_leaf(name, module))}"]
            if show_shape:
                row.append(_shape(first.shape))
            row += [_cell(cells[tr]) if tr in cells else "" for tr in transforms]
            if rules is not None and rules.inline:
                row += rules.cells(name)
            if show_via:
                row.append(f"[dim]{escape(via)}[/]" if via else "")
            elif via:
                vias.append(f"    [dim]{escape(_leaf(name, module))} via {escape(via)}[/]")
            t.add_row(*row)
        out.print(t)
        for line in vias:
            out.print(line)


def _leaf(name: str, module: str) -> str:
    return name[len(module) + 1 :] if module and name.startswith(module + ".") else name


def _shape(shape: Sequence[int]) -> str:
    return "×".join(str(s) for s in shape) or "scalar"


def _groups(groups: Sequence[GroupVerdict], width: int) -> Table:
    grid = Table(
        title="joint groups (tested where neither tensor alone is invariant)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
    )
    grid.add_column("tensors", overflow="fold")
    grid.add_column("transform", no_wrap=True)
    grid.add_column("verdict", no_wrap=True)
    if width >= COMPACT_WIDTH:
        grid.add_column("via", overflow="fold")
    for g in groups:
        row = [escape(" + ".join(g.names)), LABELS.get(g.transform, g.transform), _cell(g)]
        if width >= COMPACT_WIDTH:
            row.append(f"[dim]{escape(g.via)}[/]" if g.via else "")
        grid.add_row(*row)
    return grid


def _counts(params: Sequence[ParamVerdict]) -> dict[str, int]:
    counts = {"invariant": 0, "not_invariant": 0, "inconclusive": 0, "undefined": 0}
    for p in params:
        counts[p.verdict] = counts.get(p.verdict, 0) + 1
    return counts
