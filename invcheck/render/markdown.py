"""Markdown: one table per layer, computed verdict and deviation, the claim beside, notes below."""

from __future__ import annotations

from typing import Any

from invcheck.names import TRANSFORM_LABELS
from invcheck.render.symbols import PROOF_LEGEND, PROOF_MARK, SYMBOL, meta_line, number


def _cell(cell: Any, notes: list[str]) -> str:
    dev = cell.result.deviation
    text = f"{SYMBOL[cell.verdict]} {'undefined' if dev is None else number(dev)}"
    if cell.paper is not None:
        text += f" (paper {SYMBOL[cell.paper.verdict]})"
    if cell.survey is not None:
        text += f" (survey {SYMBOL[cell.survey.verdict]})"
    if cell.reference is not None and cell.reference.verdict != cell.verdict:
        text += f" (reference {SYMBOL[cell.reference.verdict]})"
    if cell.proof is not None and PROOF_MARK[cell.proof.status]:
        text += f" {PROOF_MARK[cell.proof.status]}"
    if cell.note:
        notes.append(f"{cell.layer}/{cell.norm}/{cell.transform}: {cell.note}")
        text += f" [{len(notes)}]"
    return text


def table(report: Any) -> str:
    lines, notes = [f"_{meta_line(report.meta)}_", ""], []
    for layer in report.layers():
        lines += [f"### {layer}", "", "| norm | " + " | ".join(TRANSFORM_LABELS[t] for t in report.transforms(layer)) + " |",
                  "|---" * (len(report.transforms(layer)) + 1) + "|"]
        for norm in report.norms(layer):
            row = [_cell(report.cell(layer, norm, t), notes) for t in report.transforms(layer)]
            lines.append(f"| {norm} | " + " | ".join(row) + " |")
        lines.append("")
    lines.append("✓ invariant · ✗ not invariant · ? inconclusive · – undefined; number: deviation "
                 "|y'-y|max/max(|y|,|y'|)max of the decisive trial; (paper ·): the papers' claim, made for a dense layer; "
                 "(survey ·): a claim made for conv networks.")
    if report.meta.get("prove"):
        lines.append(PROOF_LEGEND + ".")
    lines += ["", *(f"{i}. {n}" for i, n in enumerate(notes, 1))] if notes else []
    return "\n".join(lines) + "\n"
