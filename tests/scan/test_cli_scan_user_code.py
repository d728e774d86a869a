"""`invcheck scan` guards each call of the model's code as `invcheck run` guards a layer's
(passes.call_user, user_load.guarded): what the forward raises, prints or rebinds stays its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Invoke

torch = pytest.importorskip("torch")

FACTORIES = """\
import os

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(4, 4)
        self.ln = nn.LayerNorm(4)

    def forward(self, x):
        return self.ln(self.l(x))


class Exits(Net):
    def forward(self, x):
        raise SystemExit(0)


class ExitsWithText(Net):
    def forward(self, x):
        raise SystemExit("bye")


class Interrupts(Net):
    def forward(self, x):
        raise KeyboardInterrupt


class Prints(Net):
    def forward(self, x):
        os.write(1, b"FD_LEAK\\n")
        print("PRINT_LEAK")
        return super().forward(x)


class PatchesAbs(Net):
    def forward(self, x):
        torch.Tensor.abs = lambda s: s * 0
        return super().forward(x)


def make(cls):
    torch.manual_seed(0)
    return cls(), torch.randn(8, 4)


def net():
    return make(Net)


def exits():
    return make(Exits)


def exits_with_text():
    return make(ExitsWithText)


def interrupts():
    return make(Interrupts)


def prints():
    return make(Prints)


def patches_abs():
    return make(PatchesAbs)
"""


@pytest.fixture
def nets(tmp_path: Path) -> Path:
    (tmp_path / "nets.py").write_text(FACTORIES)
    return tmp_path


@pytest.mark.parametrize(
    ("factory", "raised", "line"),
    [
        ("exits", "SystemExit: 0", 19),
        ("exits_with_text", "SystemExit: bye", 24),
        ("interrupts", "KeyboardInterrupt", 29),
    ],
)
def test_a_forward_raising_what_is_no_exception_is_one_line_and_exit_2(
    nets: Path, invoke: Invoke, factory: str, raised: str, line: int
) -> None:
    """As for the factory: exit 2 and one line naming the user's code, never its exit code."""
    r = invoke("scan", f"nets.py:{factory}", "--allow-import", "--format", "json", cwd=nets)
    assert r.exit_code == 2, r.stderr
    assert r.stdout == ""
    assert r.stderr == f"error: the model's code raised {raised} (at nets.py:{line})\n"


def test_the_model_s_prints_stay_off_stdout_and_the_json_parses(
    nets: Path, invoke: Invoke, capfd: pytest.CaptureFixture[str]
) -> None:
    """print() and os.write(1, ...) in the forward go to stderr: stdout holds only the JSON (the
    in-process run's fd 1 is capfd's: a write to it would land in capfd's out)."""
    capfd.readouterr()
    r = invoke("scan", "nets.py:prints", "--allow-import", "--format", "json", cwd=nets)
    fds = capfd.readouterr()
    assert r.exit_code == 0, r.stderr
    assert "LEAK" not in r.stdout and "LEAK" not in fds.out
    assert json.loads(r.stdout)["parameters"]
    assert "PRINT_LEAK" in r.stderr and "FD_LEAK" in fds.err


def test_a_forward_rebinding_tensor_abs_does_not_change_the_scan_s_measurements(
    nets: Path, invoke: Invoke
) -> None:
    """The scan's own arithmetic runs on torch as it was: the same verdicts as the model unpatched."""
    abs_before = torch.Tensor.abs
    patched = invoke("scan", "nets.py:patches_abs", "--allow-import", "--format", "json", cwd=nets)
    assert torch.Tensor.abs is abs_before
    plain = invoke("scan", "nets.py:net", "--allow-import", "--format", "json", cwd=nets)
    assert patched.exit_code == 0 == plain.exit_code, patched.stderr
    verdicts = [
        [(p["name"], p["transform"], p["verdict"]) for p in json.loads(r.stdout)["parameters"]]
        for r in (patched, plain)
    ]
    assert verdicts[0] == verdicts[1]


def test_api_scan_of_none_is_a_type_error_naming_model() -> None:
    from invcheck import api

    with pytest.raises(TypeError, match=r"^model is None"):
        api.scan(None, torch.randn(2, 4))
