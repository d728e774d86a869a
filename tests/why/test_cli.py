"""The why-commands from the command line: explain, prove, sweep (with and without matplotlib)."""

from __future__ import annotations

import importlib.util
import json
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Invoke

HAS_MPL = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture
def invcheck(invoke: Invoke) -> Invoke:
    """The command in-process (conftest.invoke)."""
    return invoke


def test_explain_json_holds_the_counterexample(invcheck: Invoke):
    proc = invcheck("explain", "--norm", "layer_norm", "--transform", "dataset_recenter", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    top = json.loads(proc.stdout)
    assert top["schema_version"] == 1 and len(top["explanations"]) == 1
    doc = top["explanations"][0]
    assert doc["verdict"] == "not_invariant"
    assert {"X", "W", "X2", "W2", "a", "a2", "y", "y2", "g", "b"} <= set(doc["counterexample"])


def test_explain_text_fits_80_columns(invcheck: Invoke):
    proc = invcheck("explain", "--norm", "batch_norm", "--transform", "case_rescale")
    assert proc.returncode == 0, proc.stderr
    assert "y' ≠ y" in proc.stdout and max(map(len, proc.stdout.splitlines())) <= 80


def test_prove_json_and_bad_names(invcheck: Invoke):
    top = json.loads(
        invcheck("prove", "--norm", "rms_norm", "--transform", "case_rescale", "-f", "json").stdout
    )
    assert top["schema_version"] == 1 and [doc["proof"] for doc in top["proofs"]] == ["proved"]
    bad = invcheck("prove", "--norm", "nope", "--transform", "case_rescale")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_sweep_json_points(invcheck: Invoke):
    proc = invcheck(
        "sweep",
        "--norm",
        "layer_norm",
        "--transform",
        "dataset_rescale",
        "--eps",
        "1e-5",
        "--low",
        "1e-2",
        "--high",
        "1e2",
        "--per-decade",
        "1",
        "-f",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    top = json.loads(proc.stdout)
    assert top["schema_version"] == 1 and len(top["crossovers"]) == 1
    points = top["points"]
    assert len(points) == 4 and {"scale", "deviation", "tolerance", "verdict"} <= set(points[0])


@pytest.mark.slow  # a sweep and a matplotlib figure: seconds
@pytest.mark.skipif(not HAS_MPL, reason="matplotlib (invcheck[plot]) not installed")
def test_sweep_plot_written(tmp_path, invcheck: Invoke):
    for name in ("s.png", "s.svg"):
        out = tmp_path / name
        proc = invcheck(
            "sweep",
            "--norm",
            "layer_norm",
            "--transform",
            "dataset_rescale",
            "--low",
            "0.1",
            "--high",
            "10",
            "--per-decade",
            "1",
            "--plot",
            str(out),
        )
        assert proc.returncode == 0, proc.stderr
        head = out.read_bytes()[:8]
        assert head.startswith(b"\x89PNG") if name.endswith("png") else b"<?xml" in head


@pytest.mark.skipif(HAS_MPL, reason="matplotlib is installed")
def test_sweep_plot_without_matplotlib_is_one_line(tmp_path, invcheck: Invoke):
    proc = invcheck(
        "sweep", "--norm", "layer_norm", "--transform", "dataset_rescale", "--plot", str(tmp_path / "s.png")
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and 'pip install "invcheck[plot]"' in proc.stderr


def test_explain_a_spec_file(tmp_path, invcheck: Invoke):
    spec = tmp_path / "one.yaml"
    spec.write_text(
        "checks:\n  - norm: rms_norm\n    transform: weight_matrix_recenter\n    expect: not_invariant\n"
        "  - {norm: layer_norm, transform: dataset_rescale}\n"
    )
    docs = json.loads(invcheck("explain", str(spec), "-f", "json").stdout)[
        "explanations"
    ]  # one shape, any count
    assert [doc["norm"] for doc in docs] == ["rms_norm", "layer_norm"] and docs[0]["counterexample"][
        "differs"
    ]


def test_unknown_plot_format_is_refused_before_computing(tmp_path, invcheck: Invoke):
    proc = invcheck(
        "sweep", "--norm", "layer_norm", "--transform", "dataset_rescale", "--plot", str(tmp_path / "s.pdf")
    )
    assert proc.returncode == 2 and ("png or .svg" in proc.stderr or "matplotlib" in proc.stderr)


def test_why_commands_read_a_spec_on_stdin(invcheck: Invoke):
    spec = "norm: layer_norm\ntransform: dataset_recenter\n"
    for command in ("explain", "prove"):
        proc = invcheck(command, "-", input=spec)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("layer_norm × dataset_recenter in a dense layer")


@pytest.mark.parametrize(
    "args",
    [
        ("explain", "--norm", "layer_norm", "--transform", "dataset_recenter"),
        ("prove", "--norm", "batch_norm", "--transform", "case_rescale"),
        (
            "sweep",
            "--norm",
            "layer_norm",
            "--transform",
            "dataset_rescale",
            "--eps",
            "1e-5",
            "--per-decade",
            "1",
        ),
    ],
)
def test_why_commands_follow_the_terminal_width(args: tuple[str, ...], invcheck: Invoke) -> None:
    proc = invcheck(*args, env={"COLUMNS": "40"})
    assert proc.returncode == 0, proc.stderr
    assert max(map(len, proc.stdout.splitlines())) <= 40
    assert "…" not in proc.stdout  # folded or abbreviated, never cut
    if args[0] == "sweep":
        assert "✗ not_invariant" in proc.stdout  # verdicts as marks in the table, the marks explained below


def test_explain_uses_a_wide_terminal(invcheck: Invoke):
    proc = invcheck(
        "explain", "--norm", "layer_norm", "--transform", "dataset_recenter", env={"COLUMNS": "120"}
    )
    assert 80 < max(map(len, proc.stdout.splitlines())) <= 120  # its definitions folded at 120, not 80
