"""What user code changes in invcheck's process is put back after its check (isolation.py): names
it rebinds in invcheck's modules or torch's, and threads it leaves running do not keep the program
from ending once its report is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from invcheck import api, tolerance  # noqa: E402


class _Norm(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.eps = 1e-6

    def forward(self, a):
        return a / torch.sqrt(a.pow(2).mean(-1, keepdim=True) + self.eps)


class _PatchesInvcheck(_Norm):
    def __init__(self) -> None:
        super().__init__()
        tolerance.MARGIN = 1e30  # every violation would read inconclusive


class _PatchesTorch(_Norm):
    def __init__(self) -> None:
        super().__init__()
        torch.Tensor.__sub__ = lambda a, b: torch.zeros_like(a)  # shadows the inherited operator
        torch.nn.functional.layer_norm = lambda *args, **kwargs: 0


def test_names_user_code_rebinds_in_invcheck_are_put_back() -> None:
    margin = tolerance.MARGIN
    assert api.invariance_error(_PatchesInvcheck, "dataset_rescale", trials=2).verdict == "invariant"
    assert margin == tolerance.MARGIN
    assert api.invariance_error("rms_norm", "dataset_recenter", trials=2).verdict == "not_invariant"


def test_names_user_code_rebinds_in_torch_are_put_back() -> None:
    layer_norm = torch.nn.functional.layer_norm
    assert api.invariance_error(_PatchesTorch, "dataset_rescale", trials=2).verdict == "invariant"
    assert "__sub__" not in vars(torch.Tensor) and torch.nn.functional.layer_norm is layer_norm
    assert float((torch.ones(2) - torch.zeros(2)).sum()) == 2.0


THREADS = """
import threading, time
import torch
from torch import nn


class LeavesAThread(nn.Module):
    def __init__(self, units):
        super().__init__()
        threading.Thread(target=time.sleep, args=(600,)).start()  # not a daemon: Python would wait

    def forward(self, a):
        return a / a.norm(dim=-1, keepdim=True)
"""
SPEC = """checks:
  - {norm: {module: "threads_t:LeavesAThread", kwargs: {units: "{units}"}}, transform: dataset_rescale}
  - {norm: rms_norm, transform: dataset_recenter, expect: not_invariant}
"""


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_thread_user_code_leaves_running_does_not_keep_the_program_alive(tmp_path: Path, jobs: str) -> None:
    (tmp_path / "threads_t.py").write_text(textwrap.dedent(THREADS))
    (tmp_path / "threads.yaml").write_text(SPEC)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "invcheck", "run", "threads.yaml", "--allow-import", "-f", "json", "-j", jobs],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # it waited for the thread's 600 s before
    )
    assert done.returncode == 0, done.stderr
    assert [r["verdict"] for r in json.loads(done.stdout)["results"]] == ["invariant", "not_invariant"]


@pytest.mark.slow
def test_a_thread_user_code_leaves_running_does_not_keep_pytest_waiting(tmp_path: Path) -> None:
    (tmp_path / "threads_t.py").write_text(textwrap.dedent(THREADS))
    (tmp_path / "threads.invcheck.yaml").write_text(
        SPEC + "  - {norm: rms_norm, transform: dataset_recenter, expect: invariant}\n"  # fails: exit 1
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--invcheck-allow-import",
        ]
        + ["--junit-xml", "j.xml", "threads.invcheck.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # it waited for the thread's 600 s before
    )
    assert done.returncode == 1, done.stdout + done.stderr  # pytest's own status: one check failed
    assert "1 failed, 2 passed" in done.stdout, done.stdout
    assert 'tests="3"' in (tmp_path / "j.xml").read_text()  # its report written whole
