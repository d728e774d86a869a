"""LaTeX output: says which packages it needs and carries the claims, notes and legend that markdown does."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from invcheck import render, table

# `report`, the table these tests read, is conftest.py's; one worker runs the group: built once
pytestmark = pytest.mark.xdist_group("render:report")


@pytest.fixture(scope="module")
def latex(report: table.TableReport) -> str:
    return render.table(report, "latex")


def test_first_line_names_the_packages_it_uses(latex: str) -> None:
    assert latex.splitlines()[0] == r"% requires \usepackage{booktabs,amssymb}"
    assert r"\toprule" in latex and r"\checkmark" in latex  # booktabs and amssymb are really used


def test_claims_beside_each_cell_as_in_markdown(report: table.TableReport, latex: str) -> None:
    markdown = render.table(report, "markdown")
    assert latex.count("(paper ") == markdown.count("(paper ")
    assert latex.count("(survey ") == markdown.count("(survey ")
    assert r"(paper \checkmark)" in latex and r"(survey $\times$)" in latex


def test_notes_numbered_and_written_out(latex: str) -> None:
    assert r"$\times$ {\scriptsize" in latex and "$^{1}$" in latex
    assert r"\par $^{1}$ conv/layer\_norm/weight\_matrix\_recenter: differs from Ba, Kiros \& Hinton" in latex


def test_legend_and_settings(latex: str) -> None:
    assert "invariant, $\\times$ not invariant" in latex and "(paper $\\cdot$): the papers' claim" in latex
    assert re.search(r"^% invcheck .* dtype float64, device cpu, trials 2, seed 0", latex, re.MULTILINE)


def test_text_mode_has_no_bare_special_characters(latex: str) -> None:
    body = [line for line in latex.splitlines() if not line.startswith("%")]
    text_mode = [re.sub(r"\$[^$]*\$", "", line) for line in body]  # math mode takes _ and ^
    assert not [line for line in text_mode if re.search(r"(?<!\\)[_%#^~]", line)]
    assert all(ord(c) < 128 for line in body for c in line)  # pdflatex needs no inputenc for it


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_compiles_with_the_packages_it_names(latex: str, tmp_path: Path) -> None:
    doc = "\\documentclass{article}\n\\usepackage{booktabs,amssymb}\n\\begin{document}\n" + latex
    (tmp_path / "t.tex").write_text(doc + "\\end{document}\n", encoding="utf-8")
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:]
