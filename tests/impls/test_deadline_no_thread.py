"""A check whose deadline's watchdog thread cannot start (user code lowered RLIMIT_AS's or RLIMIT_NPROC's
hard limit, which invcheck cannot raise back, or left threads running) is that check's error with
one line; the run goes on and writes its report. It was exit 3, 'internal error: RuntimeError:
can't start new thread', every report lost."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.conftest import Invoke

pytest.importorskip("torch")

_MODULE = """\
import torch
from torch import nn


class Norm(nn.Module):
    def __init__(self, features):
        super().__init__()

    def forward(self, a):
        return a / a.norm(dim=-1, keepdim=True)
"""
_SPEC = """\
defaults: {trials: 2, transform: dataset_rescale, expect: invariant}
checks:
  - {name: mine, norm: {module: "nothread:Norm", kwargs: {features: "{units}"}}}
  - {name: builtin, norm: layer_norm}
"""


def test_a_watchdog_that_cannot_start_is_the_check_s_error(
    tmp_path: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "nothread.py").write_text(_MODULE)
    (tmp_path / "s.yaml").write_text(_SPEC)

    def cannot_start(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Timer, "start", cannot_start)
    result = invoke("run", "s.yaml", "--allow-import", "-f", "json", "-o", "r.json", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    verdicts = {r["name"]: r for r in json.loads((tmp_path / "r.json").read_text())["results"]}
    assert verdicts["builtin"]["verdict"] == "invariant"
    assert verdicts["mine"]["verdict"] == "error"
    assert "watchdog thread cannot start (RuntimeError: can't start new thread)" in verdicts["mine"]["why"]
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow  # its own process: the limit is the process's
def test_a_soft_limit_lowered_in_forward_leaves_the_next_checks_their_thread(tmp_path: Path) -> None:
    """The outside tester's case: `resource.setrlimit(RLIMIT_AS, (300 MiB, unlimited))` in forward;
    the limit is put back after the call (process_state.py), so the next check's watchdog starts."""
    from tests.test_cli_terminal import process

    lowers = _MODULE.replace(
        "        return a /",
        "        import resource\n"
        "        resource.setrlimit(resource.RLIMIT_AS, (300 * 2**20, resource.RLIM_INFINITY))\n"
        "        return a /",
    )
    (tmp_path / "lowers.py").write_text(lowers)
    (tmp_path / "nothread.py").write_text(_MODULE)
    spec = _SPEC.replace(
        "checks:\n",
        'checks:\n  - {name: lowers, norm: {module: "lowers:Norm", kwargs: {features: "{units}"}}}\n',
    )
    (tmp_path / "s.yaml").write_text(spec)
    proc = process("run", "s.yaml", "--allow-import", "-f", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [r["verdict"] for r in json.loads(proc.stdout)["results"]] == ["invariant"] * 3
