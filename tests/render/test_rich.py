"""The terminal renderer: fits its width, colours only when asked, explains every mark it draws."""

from __future__ import annotations

import io
import re

import pytest

from invcheck import table
from invcheck.errors import DeviceError
from invcheck.render import rich
from invcheck.render.symbols import SYMBOL
from invcheck.runner import RunReport, error_result, run_check
from invcheck.settings import CheckConfig, NormConfig, TransformConfig

ANSI = re.compile(r"\x1b\[[0-9;]*m")


# `report`, the table these tests read, is conftest.py's; one worker runs the group: built once
pytestmark = pytest.mark.xdist_group("render:report")


def widest(text: str) -> int:
    return max(len(ANSI.sub("", line)) for line in text.splitlines())


@pytest.mark.parametrize("width", [80, 60, 40])
def test_the_table_fits_the_width(report: table.TableReport, width: int) -> None:
    text = rich.table(report, width=width)
    assert widest(text) <= width
    assert text.count("batch_norm") >= 2  # every row is there (stacked below 80 columns)
    for label in ("W rescale", "case"):
        assert label in text  # no column dropped


def test_80_columns_keep_all_six_transforms_side_by_side(report: table.TableReport) -> None:
    text = rich.table(report, width=80)
    assert text.count("layer: dense") == 1  # not stacked
    assert ("p✓=" in text and "p✗≠" in text) or "p✓≠" in text  # compact claim marks


def test_wide_terminals_get_the_full_cells(report: table.TableReport) -> None:
    text = rich.table(report, width=150)
    assert "paper ✓ =" in text and "paper ✓ ≠" in text and widest(text) <= 150


@pytest.mark.parametrize("width", [80, 150])
def test_the_legend_explains_every_mark(report: table.TableReport, width: int) -> None:
    text = rich.table(report, width=width)
    legend = " ".join(text.split("✓ invariant", 1)[1].split())
    for word in (
        "✗ not invariant",
        "? inconclusive",
        "– undefined",
        "deviation",
        "= agrees",
        "≠ differs",
        "survey's claim",
    ):
        assert word in legend
    marks = ("p✓= p✗≠", "s✓= s✗≠") if width < rich.FULL_WIDTH else ("paper ✓ =", "survey ✓ =")
    for mark in marks:
        assert mark in legend
    assert set(SYMBOL.values()) <= set(legend)
    assert "reference" not in legend and "recurrent" not in legend  # marks this table never draws


def test_the_rnn_claim_has_its_own_mark() -> None:
    body, legend = rich.table(table.build(["recurrent"], trials=2), width=80).split("✓ invariant", 1)
    assert "n✓=" in body and "s✓" not in body
    assert "n✓= n✗≠: the paper's claim for its recurrent network" in " ".join(legend.split())
    assert "survey" not in legend


def test_every_kind_of_claim_has_a_mark_and_a_meaning() -> None:
    for compact, marks in (
        (True, ("p✓=", "s✓=", "n✓=", "r✓")),
        (False, ("paper ✓ =", "survey ✓ =", "RNN claim ✓ =", "reference ✓")),
    ):
        full = rich.legend(compact)
        assert all(mark in full for mark in marks)


def test_colour_only_when_asked(report: table.TableReport) -> None:
    assert "\x1b[" not in rich.table(report)
    assert "\x1b[" in rich.table(report, color=True)


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, False),  # a StringIO is no terminal
        ({"FORCE_COLOR": "1"}, True),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
    ],
)
def test_terminal_colour_follows_rich_and_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict, expected: bool
) -> None:
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert rich.terminal(io.StringIO())[0] is expected


def test_terminal_width_from_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "97")
    assert rich.terminal(io.StringIO())[1] == 97


def run_report_with_error() -> RunReport:
    checks = [
        CheckConfig(
            norm=NormConfig(id="layer_norm"),
            transform=TransformConfig(id=t),
            expect="invariant",
            trials=2,
            file="s.yaml",
            line=i + 1,
        )
        for i, t in enumerate(("dataset_rescale", "weight_vector_rescale"))
    ]
    results = [run_check(c) for c in checks]
    broken = checks[0].with_(name="on gpu", device="cuda", line=9)
    results.append(error_result(broken, DeviceError("no CUDA device here (use --device cpu)")))
    return RunReport(results)


def test_run_lines_errors_and_quiet() -> None:
    rep = run_report_with_error()
    text = rich.run(rep)
    lines = text.splitlines()
    assert lines[0].startswith("PASS ") and lines[1].startswith("FAIL ")
    assert any(
        line.startswith("ERR  on gpu  error  no CUDA device here") and "s.yaml:9" in line for line in lines
    )
    assert lines[-1] == "1 passed, 1 failed, 1 error"
    quiet = rich.run(rep, quiet=True)
    assert (
        "PASS" not in quiet
        and "FAIL" in quiet
        and "ERR" in quiet
        and quiet.endswith("1 passed, 1 failed, 1 error\n")
    )


def test_an_error_that_names_its_place_is_not_followed_by_it_again() -> None:
    check = CheckConfig(
        norm=NormConfig(id="layer_norm"),
        transform=TransformConfig(id="dataset_rescale"),
        name="on gpu",
        file="s.yaml",
        line=9,
    )
    r = error_result(check, DeviceError("s.yaml:9: device 'cuda' requested, but no CUDA device"))
    line = ANSI.sub("", rich.run_line(r)).rstrip("\n")
    assert line.count("s.yaml:9") == 1 and line.endswith("no CUDA device")


def test_a_deviation_and_its_tolerance_never_print_alike_unless_equal() -> None:
    from invcheck.render.symbols import compared

    assert compared(1.5e-4, 1.54e-4) == ("0.00015", "0.000154")  # two digits would show 0.00015 twice
    assert compared(3.7e-16, 1.6e-15) == ("3.7e-16", "1.6e-15")
    assert compared(2e-5, 2e-5) == ("2e-05", "2e-05") and compared(None, 0.01) == ("-", "0.01")
