"""The Markdown table and the heatmap of a scan, from hand-built reports."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from invcheck.errors import InvcheckError
from invcheck.scan import markdown
from invcheck.scan.heuristics import AdampCount, HeuristicsReport, TensorCalls
from tests.scan.handmade import group, report

INV, NOT = "invariant", "not_invariant"


def _report():
    return report(
        {
            "conv.weight": ((8, 3, 3, 3), "conv", "Conv2d", (INV, INV, NOT)),
            "bn.weight": ((8,), "bn", "BatchNorm2d", (NOT, NOT, "undefined")),
            "head.weight": ((2, 8), "head", "Linear", (NOT, NOT, NOT)),
            "head.bias": ((2,), "head", "Linear", (NOT, NOT, INV)),
        },
        model="mypkg.nets:tiny|net",
        groups=[group(("head.weight", "head.bias"))],
    )


def test_one_table_per_module_in_report_order() -> None:
    text = markdown.table(_report())
    heads = [line for line in text.splitlines() if line.startswith("### ")]
    assert heads[:3] == ["### `conv` (Conv2d)", "### `bn` (BatchNorm2d)", "### `head` (Linear)"]
    assert "## Scan of `mypkg.nets:tiny\\|net` (train mode)" in text  # a | would end a cell
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows[0].startswith(
        "| `weight` | 8×3×3×3 | ✓ 1e-16 | ✓ 1e-16 | ✗ 0.3 | bn (BatchNorm1d, batch statistics) |"
    )
    assert "| – undefined |" in rows[1]


def test_every_row_has_as_many_cells_as_the_head() -> None:
    for line in markdown.table(_report()).splitlines():
        if line.startswith("|"):
            assert line.replace("\\|", "").count("|") in (7, 5), line  # tensor tables, groups table


def test_at_these_values_only_is_starred() -> None:
    r = _report()
    r = replace(
        r, parameters=tuple(replace(p, at_these_values_only=p.name == "head.bias") for p in r.parameters)
    )
    text = markdown.table(r)
    row = next(line for line in text.splitlines() if line.startswith("| `bias`"))
    assert row.count("*") == 3
    assert "holds at the model's own values only" in text


def test_groups_are_listed() -> None:
    text = markdown.table(_report())
    assert "| `head.weight`, `head.bias` | weight_matrix_rescale | ✓ 1e-16 | ln (LayerNorm) |" in text


def test_heuristics_columns_mark_disagreements() -> None:
    calls = HeuristicsReport(
        (
            TensorCalls(
                "conv.weight", (8, 3, 3, 3), True, {"adamp": True, "timm": False}, AdampCount(4, 5, ())
            ),
            TensorCalls("bn.weight", (8,), False, {"adamp": False, "timm": True}, AdampCount(0, 5, ())),
            TensorCalls("head.weight", (2, 8), False, {"adamp": True, "timm": False}, AdampCount(3, 5, ())),
            TensorCalls("head.bias", (2,), None, {"adamp": False, "timm": True}, None),
        ),
        batches=5,
        heuristics=("adamp", "timm"),
    )
    text = markdown.table(_report(), calls)
    conv, bn, head_w, head_b = [line for line in text.splitlines() if line.startswith("| `")][:4]
    assert conv.endswith("| ✓ | ✓ 4/5 | ✗ ! |")  # timm decays an invariant tensor
    assert bn.endswith("| ✗ | ✗ | ✓ ! |")  # AdamP never looks at a vector: no count shown
    assert head_w.endswith("| ✗ | ✓ 3/5 ! | ✗ |")
    assert head_b.endswith("|  | ✗ | ✓ |")  # no exact answer: nothing to disagree with
    assert "| AdamP/SGDP projection | 2/3 (66.7%) | 1/2 (50.0%) | 1 | 0 |" in text
    assert "| timm no-decay | 1/3 (33.3%) | 1/2 (50.0%) | 1 | 1 |" in text


def test_root_parameters_are_the_model_itself() -> None:
    r = report({"cls_token": ((1, 1, 4), "", "", (NOT, NOT, INV))})
    assert "### (the model itself)" in markdown.table(r)


# Heatmap ----------------------------------------------------------------------------------------


def test_heatmap_png_and_svg_with_only_the_verdicts_present(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from invcheck.scan import heatmap

    png = heatmap.image(_report(), tmp_path / "scan.png")
    assert png.startswith(b"\x89PNG")
    only_two = report({"a.weight": ((2, 2), "a", "Linear", (INV, NOT, NOT))})
    svg = heatmap.image(only_two, tmp_path / "scan.svg").decode()
    assert "not invariant" in svg and "inconclusive" not in svg and "undefined" not in svg
    assert "undefined" in heatmap.image(_report(), tmp_path / "scan.svg").decode()


def test_heatmap_refuses_another_format(tmp_path: Path) -> None:
    from invcheck.scan import heatmap

    with pytest.raises(InvcheckError, match=r"write \.png or \.svg, not '\.jpg'"):
        heatmap.ready(tmp_path / "scan.jpg")


def test_heatmap_without_matplotlib_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from invcheck.scan import heatmap

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    with pytest.raises(InvcheckError, match=r"pip install \"invcheck\[plot\]\""):
        heatmap.image(_report(), tmp_path / "scan.png")
