"""The command line at a terminal and in pipelines: -h, '-' for stdin, --quiet, --jobs, NO_COLOR,
the 80-column table, and a broken check that does not stop the run.

Commands run in-process (conftest.invoke) unless the process itself is the point (signals, pipes,
workers): those are `slow`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.derived_rows import I, count

if TYPE_CHECKING:
    from conftest import Invoke

ROOT = Path(__file__).resolve().parents[1]

SPEC = """\
checks:
  - {name: kept, norm: layer_norm, transform: dataset_rescale, trials: 2, expect: invariant}
  - {name: on a gpu, norm: layer_norm, transform: dataset_rescale, trials: 2, device: cuda, expect: invariant}
  - {name: broken claim, norm: layer_norm, transform: weight_vector_rescale, trials: 2, expect: invariant}
  - {name: no claim, norm: rms_norm, transform: case_rescale, trials: 2}
"""


def process(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m invcheck ARGS`: a real process, for the tests about one."""
    return subprocess.run(
        [sys.executable, "-m", "invcheck", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd or ROOT,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def invcheck(invoke: Invoke) -> Invoke:
    """The command in-process (conftest.invoke), in the repository's root unless cwd= says otherwise."""
    return invoke


def cuda_missing() -> bool:
    import torch

    return not torch.cuda.is_available()


@pytest.mark.parametrize(
    "args", [["-h"], ["run", "-h"], ["table", "-h"], ["validate", "-h"], ["schema", "-h"]]
)
def test_h_is_help_everywhere(args: list[str], invcheck: Invoke) -> None:
    proc = invcheck(*args)
    assert proc.returncode == 0 and proc.stdout.startswith("Usage:") and "-h, --help" in proc.stdout


def test_no_color_wins_and_the_table_fits_80_columns(invcheck: Invoke) -> None:
    env = {"NO_COLOR": "1", "FORCE_COLOR": "1", "COLUMNS": "80"}
    proc = invcheck("table", "--layer", "dense", "--trials", "2", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80
    coloured = invcheck(
        "table", "--layer", "dense", "--trials", "2", env={"FORCE_COLOR": "1", "NO_COLOR": ""}
    )
    assert "\x1b[" in coloured.stdout


@pytest.mark.slow  # each command twice: seconds of explanation, proof and sweep
@pytest.mark.parametrize("args", [["explain"], ["prove"], ["sweep", "--per-decade", "1"]])
def test_why_commands_follow_no_color_and_force_color(args: list[str], invcheck: Invoke) -> None:
    cell = ["--norm", "layer_norm", "--transform", "dataset_rescale"]
    coloured = invcheck(args[0], *cell, *args[1:], env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert coloured.returncode == 0, coloured.stderr
    assert "\x1b[" in coloured.stdout  # forced, though stdout is a pipe
    plain = invcheck(args[0], *cell, *args[1:], env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" not in plain.stdout


@pytest.mark.slow
def test_ctrl_c_stops_the_run_and_is_not_blamed_on_user_code(tmp_path: Path) -> None:
    """A SIGINT while user code runs (here the code sends it, as a person's Ctrl-C would arrive):
    exit 130, no later check runs, the output file is left as it was."""
    (tmp_path / "ctrlc.py").write_text(
        "import os, signal, time\n"
        "class N:\n"
        "    def __call__(self, a):\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        time.sleep(5)\n"
        "        return a\n"
    )
    (tmp_path / "s.yaml").write_text(
        "checks:\n  - {name: first, norm: {module: 'ctrlc:N'}, transform: dataset_rescale}\n"
        "  - {name: second, norm: layer_norm, transform: dataset_rescale, trials: 2}\n"
    )
    (tmp_path / "out.txt").write_text("old")
    proc = process("run", "s.yaml", "--allow-import", "-o", "out.txt", cwd=tmp_path)
    assert proc.returncode == 130, proc.stderr
    assert "KeyboardInterrupt" not in proc.stderr and "raised" not in proc.stderr
    assert (tmp_path / "out.txt").read_text() == "old"


def test_a_spec_on_stdin(invcheck: Invoke) -> None:
    text = "norm: layer_norm\ntransform: dataset_rescale\ntrials: 2\nexpect: invariant\n"
    proc = invcheck("run", "-", input=text)
    assert proc.returncode == 0, proc.stderr
    assert "PASS dense/layer_norm/dataset_rescale" in proc.stdout and "<stdin>:1" in proc.stdout
    assert invcheck("validate", "-", input=text).stdout.strip() == "1 check in 1 file: valid"
    bad = invcheck("validate", "-", input="norm: {id: layer_nrom}\ntransform: dataset_rescale\n")
    assert (
        bad.returncode == 2
        and "<stdin>:1: unknown norm 'layer_nrom' (did you mean 'layer_norm'?)" in bad.stderr
    )


@pytest.mark.skipif(not cuda_missing(), reason="needs a machine without CUDA")
def test_a_broken_check_does_not_stop_the_run(tmp_path: Path, invcheck: Invoke) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    junit, out = tmp_path / "r.xml", tmp_path / "r.json"
    proc = invcheck("run", str(spec), "--junit-xml", str(junit))
    assert proc.returncode == 2, proc.stderr  # an error outranks a failed expectation, at the end
    lines = [line for line in proc.stdout.splitlines() if not line.startswith(" ")]  # not the reasons
    assert [line.split()[0] for line in lines[:4]] == [
        "PASS",
        "ERR",
        "FAIL",
        "----",
    ]  # all ran, in spec order
    assert "no CUDA device" in lines[1] and f"{spec}:3" in lines[1]
    assert lines[-1].startswith("1 passed, 1 failed, 1 error")
    cases = ET.parse(junit).getroot()[0]
    assert [c.find("error") is not None for c in cases] == [False, True, False, False]
    assert invcheck("run", str(spec), "-f", "json", "-o", str(out)).returncode == 2
    data = json.loads(out.read_text())
    assert data["schema_version"] == 1 and data["errors"] == 1
    error = data["results"][1]
    assert error["verdict"] == "error" and "no CUDA device" in error["why"]


def test_quiet_prints_failures_and_the_summary(tmp_path: Path, invcheck: Invoke) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.replace("device: cuda", "device: cpu"))
    proc = invcheck("run", str(spec), "--quiet")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith("FAIL broken claim")
    assert "PASS" not in proc.stdout and proc.stdout.splitlines()[-1].startswith("2 passed, 1 failed")


@pytest.mark.slow
def test_jobs_give_the_same_results_in_spec_order(tmp_path: Path, invcheck: Invoke) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    one = json.loads(invcheck("run", str(spec), "-f", "json").stdout)  # in-process: no workers
    two = json.loads(process("run", str(spec), "-f", "json", "--jobs", "2").stdout)
    keys = ("name", "verdict", "deviation", "tolerance", "why")
    assert [[r[k] for k in keys] for r in one["results"]] == [[r[k] for k in keys] for r in two["results"]]
    streamed = [
        line for line in process("run", str(spec), "-j", "2").stdout.splitlines() if not line.startswith(" ")
    ]
    assert [line[5:].split("  ")[0] for line in streamed[:4]] == [
        "kept",
        "on a gpu",
        "broken claim",
        "no claim",
    ]


def test_run_and_pytest_give_the_same_junit_ids(pytester: pytest.Pytester, invcheck: Invoke) -> None:
    tmp_path = pytester.path
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "norms.invcheck.yaml").write_text(
        "defaults: {trials: 2}\nchecks:\n"
        "  - {name: twice, norm: layer_norm, transform: dataset_rescale}\n"
        "  - {name: twice, norm: rms_norm, transform: dataset_rescale}\n"
        "  - {norm: batch_norm, transform: case_rescale, expect: not_invariant}\n"
    )
    assert invcheck("run", "specs", "--junit-xml", "run.xml", cwd=tmp_path).returncode == 0
    pytest_run = pytester.runpytest("-q", "-p", "no:cacheprovider", "specs", "--junit-xml", "pytest.xml")
    assert pytest_run.ret == 0, pytest_run.stdout.str()

    def ids(name: str) -> list[tuple[str, str]]:
        return sorted(
            (c.get("classname"), c.get("name")) for c in ET.parse(tmp_path / name).getroot().iter("testcase")
        )

    assert ids("run.xml") == ids("pytest.xml")
    assert ("specs.norms.invcheck.yaml", "twice@4") in ids("run.xml")


@pytest.mark.parametrize(("columns", "widest"), [("0", 80), ("10", 30), ("abc", 80)])
def test_a_zero_or_tiny_width_keeps_every_number(columns: str, widest: int, invcheck: Invoke) -> None:
    """COLUMNS=0 is unset (80), not an empty report; below 30 columns lines wrap instead of losing
    their numbers."""
    proc = invcheck("table", "--layer", "dense", "--trials", "2", env={"COLUMNS": columns})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) == widest
    # the invariant cells' deviations (22 for the paper's and the added norms), all there
    assert sum(line.count("e-1") for line in lines) == count("dense", I)
    run = invcheck("run", "specs/paper_table1.yaml", env={"COLUMNS": columns})
    assert run.returncode == 0 and run.stdout.splitlines()[-1] == "24 passed, 0 failed"


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGPIPE"), reason="no SIGPIPE")
def test_a_reader_that_goes_away_ends_the_run_as_sigpipe_ends_cat(tmp_path: Path) -> None:
    """`invcheck run ... | head -1`: the shell's 141, quietly; with --jobs too, no worker left."""
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "defaults: {trials: 2}\nchecks:\n"
        + "".join(f"  - {{norm: layer_norm, transform: dataset_rescale, seed: {i}}}\n" for i in range(200))
    )
    for jobs in ("1", "2"):
        run = subprocess.Popen(
            [sys.executable, "-m", "invcheck", "run", str(spec), "-j", jobs],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert run.stdout.readline()
        run.stdout.close()  # head -1 exits
        assert run.wait(120) == -13, run.stderr.read()  # killed by SIGPIPE: 141 in a shell
        assert run.stderr.read() == b""
