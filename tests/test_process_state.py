"""What user code changes in the process's settings and in the modules the report's writer uses is
put back after its check (process_state.py, isolation.py): umask, SIGTERM, torch's deterministic
flag, recursion limit, warnings filters; os.replace, json.dumps."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from invcheck import api  # noqa: E402
from invcheck.isolation import kept  # noqa: E402


def _meddles(a):
    os.umask(0o777)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    torch.use_deterministic_algorithms(True)
    sys.setrecursionlimit(100000)
    warnings.simplefilter("ignore")
    os.replace = lambda *args, **kwargs: None
    json.dumps = lambda *args, **kwargs: '{"hacked": true}'
    return a / a.norm(dim=-1, keepdim=True)


def test_what_user_code_changes_in_the_process_is_put_back() -> None:
    def state() -> tuple[object, ...]:
        mask = os.umask(0o022)
        os.umask(mask)
        return (
            mask,
            signal.getsignal(signal.SIGTERM),
            torch.are_deterministic_algorithms_enabled(),
            sys.getrecursionlimit(),
            list(warnings.filters),
            os.replace,
            json.dumps,
        )

    before = state()
    assert api.invariance_error(_meddles, "case_rescale", trials=2).verdict == "invariant"
    assert state() == before


@pytest.mark.slow  # the CLI's own report writer, in its own process
def test_a_report_is_written_whole_with_the_umask_s_mode_after_user_code_meddled(tmp_path: Path) -> None:
    (tmp_path / "meddle.py").write_text(
        "import os, json\nfrom torch import nn\n\n\nclass Meddles(nn.Module):\n"
        "    def __init__(self, features):\n        super().__init__()\n\n    def forward(self, a):\n"
        "        os.umask(0o777)\n        os.replace = os.rename = lambda *a, **k: None\n"
        "        json.dumps = lambda *a, **k: '{\"hacked\": true}'\n"
        "        return a / a.norm(dim=-1, keepdim=True)\n"
    )
    (tmp_path / "s.yaml").write_text(
        'norm: {module: "meddle:Meddles", kwargs: {features: "{units}"}}\ntransform: dataset_rescale\ntrials: 2\n'
    )
    from tests.test_cli_terminal import process

    mask = os.umask(0o022)
    try:
        proc = process("run", "s.yaml", "--allow-import", "-f", "json", "-o", "r.json", cwd=tmp_path)
    finally:
        os.umask(mask)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r.json").read_text())["results"][0]["verdict"] == "invariant"
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_kept_costs_about_a_millisecond() -> None:
    import time

    start = time.process_time()
    for _ in range(100):
        with kept():
            pass
    assert (time.process_time() - start) / 100 < 0.01  # measured ~1 ms; a check takes ~100 ms


def test_exit_handlers_user_code_registers_never_run() -> None:
    """A handler run after the report could end the run with status 0 or print past a JSON report."""
    import atexit

    def registers(a):
        atexit.register(os._exit, 0)
        return a / a.norm(dim=-1, keepdim=True)

    before = atexit._ncallbacks()
    api.invariance_error(registers, "dataset_rescale", trials=2)
    assert atexit._ncallbacks() == before
    from invcheck import process_state

    assert atexit.register is process_state._REGISTER  # put back after the check


def test_a_layer_rebinding_torch_functions_cannot_change_its_own_verdict() -> None:
    """torch.sub rebound inside forward used to make every later difference zero: any layer 'invariant'."""

    def identity(a):
        torch.sub = lambda s, o, **k: torch.zeros_like(s)
        return a

    real = torch.sub
    assert api.invariance_error(identity, "dataset_recenter", trials=2).verdict == "not_invariant"
    assert torch.sub is real


def test_whole_numbers_written_as_floats_are_integers_in_the_api() -> None:
    r = api.invariance_error("layer_norm", "dataset_rescale", trials=8.0, seed=3.0, units=16.0)
    assert r.verdict == "invariant"  # before: torch's randn refused trials 8.0
    assert r.to_dict()["trials"] == 8 and r.to_dict()["seed"] == 3
