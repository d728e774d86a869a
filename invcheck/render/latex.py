"""LaTeX: a booktabs tabular per layer, for papers and reports."""

from __future__ import annotations

from typing import Any

from invcheck.names import TRANSFORM_LABELS
from invcheck.render.symbols import TEX, number

# --prove: proved (QED box), refuted (bottom), numeric only (approx)
TEX_PROOF = {"proved": r" $\blacksquare$", "refuted": r" $\bot$", "numeric only": r" $\approx$"}


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


def _cell(cell: Any) -> str:
    text = f"{TEX[cell.verdict]} {{\\scriptsize {number(cell.result.deviation)}}}"
    if cell.differs_from_paper:
        text += r"$^\dagger$"
    if cell.proof is not None and cell.proof.status in TEX_PROOF:
        text += TEX_PROOF[cell.proof.status]
    return text


def table(report: Any) -> str:
    out = []
    for layer in report.sections():  # a layer, or a layer and where its norm sits
        out += [
            f"% layer: {layer}; dtype {report.meta.get('dtype')}, seed {report.meta.get('seed')}",
            r"\begin{tabular}{l" + "c" * len(report.transforms(layer)) + "}",
            r"\toprule",
            "norm & " + " & ".join(_tex(TRANSFORM_LABELS[t]) for t in report.transforms(layer)) + r" \\",
            r"\midrule",
        ]
        for norm in report.norms(layer):
            cells = [_cell(report.cell(layer, norm, t)) for t in report.transforms(layer)]
            out.append(_tex(norm) + " & " + " & ".join(cells) + r" \\")
        out += [
            r"\bottomrule",
            r"\end{tabular}",
            r"% $\dagger$: differs from the papers' claim (made for a dense layer)",
            *(
                [r"% $\blacksquare$ proved, $\bot$ refuted exactly, $\approx$ numeric only (eps 0)"]
                if report.meta.get("prove")
                else []
            ),
            "",
        ]
    return "\n".join(out)
