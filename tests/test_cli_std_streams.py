"""The command line's standard streams (cli/std_streams.py, GuardedStdout): stderr that cannot take a
message loses it and the run keeps its exit code and reports; stdout cut short is one line, exit 2."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli_terminal import ROOT

# Each test is about a process's own descriptors: a real `invcheck` process.
pytestmark = pytest.mark.slow

WRONG = "norm: layer_norm\ntransform: weight_vector_rescale\ntrials: 2\nexpect: invariant\n"


def _run(tmp_path: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    (tmp_path / "wrong.yaml").write_text(WRONG)
    return subprocess.run(
        [sys.executable, "-m", "invcheck", "run", "wrong.yaml", *args],
        cwd=tmp_path,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.mark.parametrize("stderr", ["closed", "full"])
def test_a_stderr_that_cannot_take_a_message_keeps_the_run_s_exit_code_and_reports(
    tmp_path: Path, stderr: str
) -> None:
    with open(os.devnull, "wb") as null, open("/dev/full", "wb") as full:
        target: dict[str, object] = {"stderr": full}
        if stderr == "closed":  # 2>&- : the child starts with descriptor 2 closed
            target = {"stderr": null, "preexec_fn": lambda: os.close(2)}
        proc = _run(tmp_path, "-f", "json", "-o", "w.json", "--junit-xml", "w.xml", stdout=null, **target)
    assert proc.returncode == 1  # the expectation failed: not 3
    assert json.loads((tmp_path / "w.json").read_text())["results"][0]["verdict"] == "not_invariant"
    assert (tmp_path / "w.xml").read_text().startswith("<?xml")


def test_a_stdout_write_cut_short_is_one_line_and_exit_2(tmp_path: Path) -> None:
    def limit() -> None:  # `ulimit -f 1`: a file of at most 1024 bytes
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    with open(tmp_path / "big.json", "wb") as out:
        proc = _run(tmp_path, "-f", "json", stdout=out, stderr=subprocess.PIPE, preexec_fn=limit)
    assert proc.returncode == 2
    assert proc.stderr.decode() == "error: cannot write to standard output: File too large\n"
