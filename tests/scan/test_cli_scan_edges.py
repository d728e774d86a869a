"""`invcheck scan` at its edges: a model with nothing to scan, one too large, the deadline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Invoke

pytest.importorskip("torch")

FACTORIES = """\
import time

import torch
from torch import nn


class BufferOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("w", torch.ones(4, 4))

    def forward(self, x):
        return x @ self.w


def empty():
    return BufferOnly(), torch.randn(2, 4)


def wide():
    return nn.Linear(1000, 1000), torch.randn(2, 1000)


def slow():
    time.sleep(30)


def on_meta():
    return nn.Linear(4, 4, device="meta"), torch.randn(2, 4)


class MetaOut(nn.Linear):
    def forward(self, x):
        return super().forward(x).to("meta")


def meta_output():
    return MetaOut(4, 4), torch.randn(2, 4)


class Broken(nn.Linear):
    def forward(self, x):
        raise ValueError("broken model")


def exit_stubbed():
    import sys

    sys.exit = lambda *args: None
    return Broken(4, 4), torch.randn(2, 4)
"""


@pytest.fixture
def nets(tmp_path: Path) -> Path:
    """A folder holding nets.py (the factories above), to run `invcheck scan` in."""
    (tmp_path / "nets.py").write_text(FACTORIES)
    return tmp_path


@pytest.mark.parametrize("factory", ["on_meta", "meta_output"])
def test_a_model_on_the_meta_device_is_the_user_s_error(nets: Path, invoke: Invoke, factory: str) -> None:
    """A model (or output) with shapes but no values: one line, exit 2, never an internal error."""
    r = invoke("scan", f"nets.py:{factory}", "--allow-import", cwd=nets)
    assert r.exit_code == 2, r.stderr
    assert (
        r.stderr.startswith("error: the model (or its output) is on the meta device")
        and r.stderr.count("\n") == 1
    )


def test_user_code_stubbing_sys_exit_leaves_a_failed_scan_exit_2(nets: Path, invoke: Invoke) -> None:
    r = invoke("scan", "nets.py:exit_stubbed", "--allow-import", cwd=nets)
    assert r.exit_code == 2, r.stderr
    assert r.stderr.startswith("error: the model's forward pass raised ValueError: broken model")
    assert "Traceback" not in r.stderr


def test_a_model_without_parameters_is_one_line_and_exit_2(nets: Path, invoke: Invoke) -> None:
    r = invoke("scan", "nets.py:empty", "--allow-import", cwd=nets)
    assert r.exit_code == 2 and r.stdout == ""
    assert (
        r.stderr.strip()
        == "error: nets.py:empty: no parameter tensors to scan (the model has no floating parameters)"
    )


def test_a_model_too_large_is_refused_in_one_line(
    nets: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,001,000 parameters: 4 float64 copies are 32 MB, above a bound set to 10 MB here."""
    from invcheck.scan import memory

    monkeypatch.setattr(memory, "MAX_MEMORY", 10_000_000)
    r = invoke("scan", "nets.py:wide", "--allow-import", cwd=nets)
    assert r.exit_code == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "(1,001,000 parameters) needs about 32.1 MB of memory" in r.stderr
    assert "above the limit of 10 MB" in r.stderr


def test_the_deadline_counts_from_the_commands_start(nets: Path, invoke: Invoke) -> None:
    started = time.monotonic()
    r = invoke("scan", "nets.py:slow", "--allow-import", "--timeout", "1", cwd=nets)
    assert r.exit_code == 2 and "did not finish within 1 s" in r.stderr
    assert time.monotonic() - started < 10  # the factory sleeps 30 s
