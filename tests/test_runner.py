"""runner: worker processes for --jobs. User code that crashes the interpreter costs its own check
only, and no worker outlives the run, however the run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_cli_terminal import process as invcheck

# Every test here is about worker processes and signals: each runs a real `invcheck` process.
pytestmark = pytest.mark.slow

CRASH = """\
import ctypes

import torch


class Crash(torch.nn.Module):
    def __init__(self, normalized_shape=16, eps=1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        ctypes.string_at(0)  # reads address 0: SIGSEGV
        return x
"""


def test_a_check_that_crashes_its_worker_is_an_error_and_the_others_run(tmp_path: Path) -> None:
    (tmp_path / "crash.py").write_text(CRASH)
    (tmp_path / "s.yaml").write_text(
        "defaults: {trials: 2, expect: invariant, transform: dataset_rescale}\nchecks:\n"
        "  - {norm: layer_norm}\n  - {norm: {module: 'crash:Crash'}}\n  - {norm: rms_norm}\n  - {norm: batch_norm}\n"
    )
    proc = invcheck("run", "s.yaml", "-j", "2", "--allow-import", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if not line.startswith("     ")]  # not re-run lines
    assert [line[:4] for line in lines[:4]] == ["PASS", "ERR ", "PASS", "PASS"]
    assert "s.yaml:4: the process running this check died (killed by signal SIGSEGV)" in lines[1]
    assert lines[-1] == "3 passed, 0 failed, 1 error"
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_one_check_under_jobs_still_runs_in_a_worker(tmp_path: Path) -> None:
    (tmp_path / "crash.py").write_text(CRASH)
    (tmp_path / "one.yaml").write_text(
        "norm: {module: 'crash:Crash'}\ntransform: dataset_rescale\ntrials: 2\n"
    )
    proc = invcheck("run", "one.yaml", "-j", "2", "--allow-import", "--junit-xml", "one.xml", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout.startswith("ERR "), (proc.returncode, proc.stderr)
    assert (tmp_path / "one.xml").exists()  # the report is written: the crash was the worker's


HOSTILE = """\
import os
import pickle

import torch


class Junk(torch.nn.Module):
    def __init__(self, normalized_shape=16, eps=1e-5):
        super().__init__()

    def forward(self, x):
        for fd in range(3, 64):  # the descriptors a worker inherited: junk, then a forged result
            for data in (b"JUNK" * 100, pickle.dumps({"verdict": "invariant"}, 0)):  # text: stderr reads it
                try:
                    os.write(fd, data)
                except OSError:
                    pass
        return x / x.norm(dim=-1, keepdim=True)


class CloseAll(Junk):
    def forward(self, x):
        os.closerange(3, 256)
        return x / x.norm(dim=-1, keepdim=True)
"""


def test_user_code_that_writes_into_or_closes_inherited_descriptors_cannot_hang_the_run(
    tmp_path: Path,
) -> None:
    """Junk (junk and a forged result written into every inherited descriptor) and CloseAll (every
    one closed) in one run under two workers, each between built-in checks: all pass."""
    (tmp_path / "ipc.py").write_text(HOSTILE)
    (tmp_path / "s.yaml").write_text(
        "defaults: {trials: 1, transform: dataset_rescale, expect: invariant}\nchecks:\n"
        "  - {norm: layer_norm}\n  - {norm: {module: 'ipc:Junk'}}\n  - {norm: rms_norm}\n"
        "  - {norm: {module: 'ipc:CloseAll'}}\n  - {norm: layer_norm}\n"
    )
    proc = invcheck("run", "s.yaml", "-j", "2", "--allow-import", "-f", "json", "-o", "r.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert '"passed": 5' in (tmp_path / "r.json").read_text().replace("\n", "")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; the parent-death signal is Linux's"
)
def test_workers_end_with_a_run_killed_by_sigterm(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SLOW)
    run = subprocess.Popen(
        [sys.executable, "-m", "invcheck", "run", "s.yaml", "-j", "2"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(workers := _children(run.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) >= 2, "no workers started"
    os.kill(run.pid, signal.SIGTERM)
    assert run.wait(30) == -signal.SIGTERM
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, "workers outlived the run"


SLOW = "defaults: {trials: 64, transform: dataset_rescale}\nchecks:\n" + "".join(
    f"  - {{norm: layer_norm, seed: {i}, layer: {{kind: dense, cases: 256, inputs: 256}}}}\n"
    for i in range(40)
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_a_run_with_workers_at_once(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SLOW)
    run = subprocess.Popen(
        [sys.executable, "-m", "invcheck", "run", "s.yaml", "-j", "2"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while len(workers := _children(run.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) >= 2, "no workers started"
    started = time.monotonic()
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C sends: the whole process group
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and time.monotonic() - started < 15  # not after every queued check
    assert b"Traceback" not in err
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)]
