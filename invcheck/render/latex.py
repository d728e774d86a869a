"""LaTeX: a booktabs tabular per layer, for papers and reports, with what the markdown table carries:
the papers' claims beside each computed verdict, numbered notes, the legend and the run's settings."""

from __future__ import annotations

from typing import Any

from invcheck.names import TRANSFORM_LABELS
from invcheck.paper import LABELS
from invcheck.render.symbols import meta_line, number

# \toprule etc. come from booktabs, \checkmark and \blacksquare from amssymb: said on the first line,
# so that a table pasted into a paper does not fail on an undefined control sequence.
REQUIRES = r"% requires \usepackage{booktabs,amssymb}"
TEX = {"invariant": r"\checkmark", "not_invariant": r"$\times$", "inconclusive": "?", "undefined": "--"}
# --prove: proved (QED box), refuted (bottom), numeric only (approx)
TEX_PROOF = {"proved": r"$\blacksquare$", "refuted": r"$\bot$", "numeric only": r"$\approx$"}
LEGEND = (
    r"\checkmark{} invariant, $\times$ not invariant, ? inconclusive, -- undefined; "
    r"number: deviation $\max|y'-y| / \max(\max|y|, \max|y'|)$ of the decisive trial; "
    r"(paper $\cdot$): the papers' claim, made for a dense layer; "
    r"(survey $\cdot$): a claim made for conv networks; "
    r"(RNN claim $\cdot$): the paper's claim for its recurrent network."
)
PROOF_LEGEND = (
    r"Proof (eps 0, small symbolic shapes): $\blacksquare$ proved ($y' - y$ simplifies to 0), "
    r"$\bot$ refuted (an exact rational counterexample), $\approx$ numeric only."
)

# LaTeX's special characters in text mode, as text: labels and norm names (user code's too) are plain text.
_TEX_TEXT = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _tex(text: str) -> str:
    return "".join(_TEX_TEXT.get(c, c) for c in text)


def _claims(cell: Any) -> str:
    """The claims beside a verdict, as the markdown table writes them: (paper ✓) (survey ✓)."""
    shown = []
    if cell.paper is not None:
        shown.append(f"(paper {TEX[cell.paper.verdict]})")
    if cell.survey is not None:
        shown.append(f"({LABELS[cell.survey.source]} {TEX[cell.survey.verdict]})")
    if cell.reference is not None and cell.reference.verdict != cell.verdict:
        shown.append(f"(reference {TEX[cell.reference.verdict]})")
    return " ".join(shown)


def _cell(cell: Any, notes: list[str]) -> str:
    dev = cell.result.deviation
    text = f"{TEX[cell.verdict]} {{\\scriptsize {'undefined' if dev is None else number(dev)}"
    claims = _claims(cell)
    text += (f" {claims}" if claims else "") + "}"
    if cell.proof is not None and cell.proof.status in TEX_PROOF:
        text += " " + TEX_PROOF[cell.proof.status]
    if cell.note:
        notes.append(f"{cell.layer}/{cell.norm}/{cell.transform}: {cell.note}")
        text += f"$^{{{len(notes)}}}$"
    return text


def _tabular(report: Any, layer: str, notes: list[str]) -> list[str]:
    transforms = report.transforms(layer)
    out = [
        r"\noindent\textbf{" + _tex(layer.replace(" · ", ", ")) + r"}\par\smallskip",
        r"\begin{tabular}{l" + "c" * len(transforms) + "}",
        r"\toprule",
        "norm & " + " & ".join(_tex(TRANSFORM_LABELS[t]) for t in transforms) + r" \\",
        r"\midrule",
    ]
    for norm in report.norms(layer):
        cells = [_cell(report.cell(layer, norm, t), notes) for t in transforms]
        out.append(_tex(norm) + " & " + " & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", ""]
    for label, likeness in report.meta.get("behaves_like", {}).get(layer, {}).items():
        out += [rf"\texttt{{{_tex(label)}}} {_tex(likeness)}.", ""]
    if layer in report.meta.get("not_accepted", {}):
        why = report.meta["not_accepted"][layer]
        out += [rf"\texttt{{{_tex(report.meta['module'])}}} does not run in a {layer} layer: {_tex(why)}", ""]
    return out


def table(report: Any) -> str:
    notes: list[str] = []  # numbered across the tables, written out under the last
    out = [REQUIRES, f"% {meta_line(report.meta)}", ""]
    for layer in report.sections():  # a layer, or a layer and where its norm sits
        out += _tabular(report, layer, notes)
    out.append(r"{\footnotesize " + LEGEND + (" " + PROOF_LEGEND if report.meta.get("prove") else ""))
    out += [rf"\par $^{{{i}}}$ {_tex(note)}" for i, note in enumerate(notes, 1)]
    out[-1] += "}"
    return "\n".join(out) + "\n"
