"""Each renderer takes a report and returns text with the numbers in it."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from invcheck import render, table
from invcheck.runner import run_report
from invcheck.settings import CheckConfig, NormConfig, TransformConfig

# `report`, the table these tests read, is conftest.py's; one worker runs the group: built once
pytestmark = pytest.mark.xdist_group("render:report")


def test_rich_shows_verdicts_deviations_claims_and_notes(report: table.TableReport) -> None:
    text = render.table(report, "rich", width=150)  # wide enough for the full cells
    assert "layer: dense" in text and "layer: conv" in text
    assert "✓" in text and "✗" in text and "paper ✓ ≠" in text
    assert "differs from Ba, Kiros & Hinton 2016" in text
    assert "\x1b[" not in text  # no color codes when not asked for


def test_markdown_has_one_table_per_layer_and_footnotes(report: table.TableReport) -> None:
    text = render.table(report, "markdown")
    assert text.count("| norm |") == 2
    assert "[1]" in text and "\n1. conv/layer_norm/weight_matrix_recenter" in text


def test_csv_round_trips(report: table.TableReport) -> None:
    rows = list(csv.DictReader(io.StringIO(render.table(report, "csv"))))
    assert len(rows) == len(report.cells)
    row = next(
        r
        for r in rows
        if (r["layer"], r["norm"], r["transform"]) == ("dense", "layer_norm", "dataset_rescale")
    )
    assert row["verdict"] == "invariant" and float(row["deviation"]) < float(row["tolerance"])


def test_latex_is_a_tabular_per_layer(report: table.TableReport) -> None:
    text = render.table(report, "latex")
    assert text.count(r"\begin{tabular}") == 2 and r"layer\_norm" in text and "$^{1}$" in text
    body = [line for line in text.splitlines() if not line.startswith("%")]  # comments take anything
    text_mode = [re.sub(r"\$[^$]*\$", "", line) for line in body]  # math mode takes _ and ^
    assert not [line for line in text_mode if re.search(r"(?<!\\)[_%#^~]", line)]  # 'w_i rescale' was bare
    assert r"w\_i rescale" in text


def test_json_table(report: table.TableReport) -> None:
    data = json.loads(render.table(report, "json"))
    assert data["trials"] == 2 and len(data["cells"]) == len(report.cells)
    assert data["schema_version"] == 1


def test_run_renderers() -> None:
    checks = [
        CheckConfig(
            norm=NormConfig(id="layer_norm"), transform=TransformConfig(id=t), expect="invariant", trials=2
        )
        for t in ("dataset_rescale", "weight_vector_rescale")
    ]
    rep = run_report(checks)
    text = render.run(rep, "rich")
    assert "PASS" in text and "FAIL" in text and "1 passed, 1 failed" in text
    data = json.loads(render.run(rep, "json"))
    assert data["passed"] == 1 and data["failed"] == 1 and data["errors"] == 0 and data["schema_version"] == 1
    assert [r["passed"] for r in data["results"]] == [True, False]
