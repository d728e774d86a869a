"""Markdown: one table per layer, computed verdict and deviation, the claim beside, notes below."""

from __future__ import annotations

from typing import Any

from invcheck.names import TRANSFORM_LABELS
from invcheck.paper import LABELS
from invcheck.render.symbols import PROOF_LEGEND, PROOF_MARK, SYMBOL, meta_line, number


def _cell(cell: Any, notes: list[str]) -> str:
    dev = cell.result.deviation
    text = f"{SYMBOL[cell.verdict]} {'undefined' if dev is None else number(dev)}"
    if cell.paper is not None:
        text += f" (paper {SYMBOL[cell.paper.verdict]})"
    if cell.survey is not None:
        text += f" ({LABELS[cell.survey.source]} {SYMBOL[cell.survey.verdict]})"
    if cell.reference is not None and cell.reference.verdict != cell.verdict:
        text += f" (reference {SYMBOL[cell.reference.verdict]})"
    if cell.proof is not None and PROOF_MARK[cell.proof.status]:
        text += f" {PROOF_MARK[cell.proof.status]}"
    if cell.note:
        notes.append(f"{cell.layer}/{cell.norm}/{cell.transform}: {cell.note}")
        text += f" [{len(notes)}]"
    return text


def table(report: Any) -> str:
    lines: list[str] = [f"_{meta_line(report.meta)}_", ""]
    notes: list[str] = []
    for layer in report.sections():  # a layer, or a layer and where its norm sits
        lines += [
            f"### {layer}",
            "",
            "| norm | " + " | ".join(TRANSFORM_LABELS[t] for t in report.transforms(layer)) + " |",
            "|---" * (len(report.transforms(layer)) + 1) + "|",
        ]
        for norm in report.norms(layer):
            row = [_cell(report.cell(layer, norm, t), notes) for t in report.transforms(layer)]
            lines.append(f"| {norm} | " + " | ".join(row) + " |")
        lines.append("")
        for label, likeness in report.meta.get("behaves_like", {}).get(layer, {}).items():
            lines += [f"`{label}` {likeness}.", ""]
        if layer in report.meta.get("not_accepted", {}):
            lines += [
                f"`{report.meta['module']}` does not run in a {layer} layer: {report.meta['not_accepted'][layer]}",
                "",
            ]
        for mode, reason in report.meta.get("mode_fails", {}).get(layer, {}).items():
            lines += [
                f"`{report.meta['module']}` fails in {mode} mode in a {layer} layer "
                f"(its row above is the mode that runs): {reason}",
                "",
            ]
    lines.append(
        "✓ invariant · ✗ not invariant · ? inconclusive · – undefined; number: deviation "
        "|y'-y|max/max(|y|,|y'|)max of the decisive trial; (paper ·): the papers' claim, made for a dense layer; "
        "(survey ·): a claim made for conv networks; (RNN claim ·): the paper's claim for its recurrent network."
    )
    if report.meta.get("prove"):
        lines.append(PROOF_LEGEND + ".")
    lines += ["", *(f"{i}. {n}" for i, n in enumerate(notes, 1))] if notes else []
    return "\n".join(lines) + "\n"
