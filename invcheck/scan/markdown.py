"""A scan report as Markdown: one table per module, a row per tensor, a column per transform.

Cells read `✓ invariant`-style symbols with the deviation (`✓ 3.1e-17`); a `via` column names the
normalization that removes the change; `*` marks an invariance that holds at the model's own values
only. With a HeuristicsReport, one more column per rule of thumb: ✓ where it calls the tensor
scale-invariant (AdamP: projected on most batches; decay rules: no decay), ✗ where not, and `!`
where that call differs from the exact answer. Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence

from invcheck.render.symbols import SYMBOL, number
from invcheck.scan.heuristics import HEADS, LABELS, HeuristicsReport, TensorCalls, cell, exact_cell, rate
from invcheck.scan.report import TRANSFORMS, GroupVerdict, ParamVerdict, ScanReport

SHORT = {
    "weight_matrix_rescale": "matrix rescale",
    "weight_vector_rescale": "vector rescale",
    "weight_matrix_recenter": "matrix recenter",
}


def _escape(text: str) -> str:
    """A cell's text: a `|` would end the cell, a newline the row."""
    return text.replace("|", "\\|").replace("\n", " ")


def _cell(p: ParamVerdict | GroupVerdict | None) -> str:
    if p is None:
        return ""
    text = f"{SYMBOL.get(p.verdict, '?')} {'undefined' if p.verdict == 'undefined' else number(p.deviation)}"
    return text + ("*" if p.at_these_values_only else "")


def _via(verdicts: Sequence[ParamVerdict | GroupVerdict]) -> str:
    """The norms that remove a change, each once, for the invariant cells."""
    seen = dict.fromkeys(v.via for v in verdicts if v.verdict == "invariant" and v.via)
    return _escape("; ".join(seen))


def _modules(report: ScanReport) -> dict[str, list[str]]:
    """Tensor names by owning module, in the report's order."""
    out: dict[str, list[str]] = {}
    for p in report.parameters:
        names = out.setdefault(p.module, [])
        if p.name not in names:
            names.append(p.name)
    return out


def table(report: ScanReport, heuristics: HeuristicsReport | None = None) -> str:
    """The whole report as Markdown (a title, a table per module, groups, agreement, a legend)."""
    transforms = [t for t in TRANSFORMS if any(p.transform == t for p in report.parameters)]
    by_key = {(p.name, p.transform): p for p in report.parameters}
    rules = list(heuristics.heuristics) if heuristics is not None else []
    lines = [f"## Scan of `{_escape(report.model)}` ({report.mode} mode)", ""]
    head = ["tensor", "shape", *(SHORT[t] for t in transforms), "via"]
    if heuristics is not None:
        head += ["exact", *(HEADS[h] for h in rules)]
    for module, names in _modules(report).items():
        kind = next((p.module_type for p in report.parameters if p.module == module), "")
        title = f"`{_escape(module)}`" if module else "(the model itself)"
        lines += [f"### {title}" + (f" ({_escape(kind)})" if kind else ""), ""]
        lines += ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        for name in names:
            cells = [by_key.get((name, t)) for t in transforms]
            first = next(c for c in cells if c is not None)
            local = name[len(module) + 1 :] if module and name.startswith(module + ".") else name
            row = [f"`{_escape(local)}`", "×".join(map(str, first.shape)) or "scalar"]
            row += [_cell(c) for c in cells]
            row.append(_via([c for c in cells if c is not None]))
            if heuristics is not None:
                calls = _calls(heuristics, name)
                row += [exact_cell(calls), *(cell(calls, h) for h in rules)]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    if report.groups:
        lines += _groups(report.groups)
    if heuristics is not None:
        lines += _agreement(heuristics)
    lines.append(_legend(heuristics is not None))
    return "\n".join(lines) + "\n"


def _calls(heuristics: HeuristicsReport, name: str) -> TensorCalls | None:
    try:
        return heuristics.calls_of(name)
    except KeyError:
        return None


def _groups(groups: Sequence[GroupVerdict]) -> list[str]:
    lines = ["### Joint invariances (tensors transformed together)", ""]
    lines += ["| tensors | transform | verdict | via |", "|---|---|---|---|"]
    for g in groups:
        names = ", ".join(f"`{_escape(n)}`" for n in g.names)
        lines.append(f"| {names} | {g.transform} | {_cell(g)} | {_escape(g.via or '')} |")
    return [*lines, ""]


def _agreement(heuristics: HeuristicsReport) -> list[str]:
    lines = ["### Rules of thumb against the exact answer", ""]
    lines += [
        "| rule | agree (all tensors) | agree (matrices) | says invariant, is not | says not, is invariant |",
        "|---|---|---|---|---|",
    ]
    for h in heuristics.heuristics:
        whole, matrices = heuristics.agreement(h), heuristics.agreement(h, "matrices")
        lines.append(
            f"| {LABELS[h]} | {rate(whole.agree, whole.total)} | {rate(matrices.agree, matrices.total)} "
            f"| {whole.false_invariant} | {whole.missed_invariant} |"
        )
    return [*lines, ""]


def _legend(with_rules: bool) -> str:
    text = (
        "✓ invariant · ✗ not invariant · ? inconclusive · – undefined; number: the deviation of the "
        "decisive trial; * holds at the model's own values only (not at re-drawn generic ones)."
    )
    if with_rules:
        text += (
            " exact: scale-invariant (matrix rescale invariant at generic values). Rules: ✓ calls the "
            "tensor scale-invariant (AdamP: projected on most batches, n/N: batches that fired; "
            "timm, HF, nanoGPT: no weight decay), ! differs from the exact answer."
        )
    return text
