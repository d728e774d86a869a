"""`invcheck scan` at its edges: a model with nothing to scan, one too large, the deadline."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from invcheck.cli import main

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
"""


def invcheck(
    args: list[str], folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    (folder / "nets.py").write_text(FACTORIES)
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "argv", ["invcheck", *args])
    saved = sys.stdout
    try:
        with pytest.raises(SystemExit) as ended:
            main()
    finally:
        sys.stdout = saved  # main() wraps it
    out = capsys.readouterr()
    return int(ended.value.code or 0), out.out, out.err


def test_a_model_without_parameters_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = invcheck(["scan", "nets.py:empty", "--allow-import"], tmp_path, capsys, monkeypatch)
    assert code == 2 and out == ""
    assert (
        err.strip()
        == "error: nets.py:empty: no parameter tensors to scan (the model has no floating parameters)"
    )


def test_a_model_too_large_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,001,000 parameters: 4 float64 copies are 32 MB, above a bound set to 10 MB here."""
    from invcheck.scan import memory

    monkeypatch.setattr(memory, "MAX_MEMORY", 10_000_000)
    code, out, err = invcheck(["scan", "nets.py:wide", "--allow-import"], tmp_path, capsys, monkeypatch)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "(1,001,000 parameters) needs about 32.1 MB of memory" in err
    assert "above the limit of 10 MB" in err


def test_the_deadline_counts_from_the_commands_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    code, _, err = invcheck(
        ["scan", "nets.py:slow", "--allow-import", "--timeout", "1"], tmp_path, capsys, monkeypatch
    )
    assert code == 2 and "did not finish within 1 s" in err
    assert time.monotonic() - started < 10  # the factory sleeps 30 s
