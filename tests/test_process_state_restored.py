"""What user code changes in the process beyond names and the umask is put back after each call of it
(process_state.py): the garbage collector, the trace and profile hooks, os.environ, the root logger,
torch's backend flags and the soft resource limits. Each leaked into the next check, into the API's
caller and, under the pytest plugin, into the user's own unrelated tests."""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from invcheck import api, process_state  # noqa: E402

resource = pytest.importorskip("resource")

_KEEP, _GONE = "INVCHECK_TEST_KEEP", "INVCHECK_TEST_GONE"


def _tracer(*args: Any) -> None:
    return None


def _callback(phase: str, info: dict[str, Any]) -> None:
    raise RuntimeError("a gc callback left behind")


def _meddles(a):
    gc.disable()
    gc.callbacks.append(_callback)
    sys.settrace(_tracer)
    sys.setprofile(_tracer)
    threading.settrace(_tracer)
    threading.setprofile(_tracer)
    os.environ["INVCHECK_TEST_ADDED"] = "1"
    os.environ[_KEEP] = "changed"
    os.environ.pop(_GONE, None)
    logging.root.addHandler(logging.StreamHandler(sys.stderr))
    logging.root.setLevel(logging.DEBUG)
    torch.backends.cudnn.deterministic = not torch.backends.cudnn.deterministic
    torch.backends.cudnn.benchmark = not torch.backends.cudnn.benchmark
    torch.backends.cudnn.allow_tf32 = not torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = not torch.backends.cuda.matmul.allow_tf32
    torch.set_float32_matmul_precision("medium")
    # lowered, never below what this process uses: 2**44 bytes of address space (16 TiB), 10**7 s of CPU
    for limit, far in (
        (resource.RLIMIT_AS, 2**44),
        (resource.RLIMIT_CPU, 10**7),
        (resource.RLIMIT_STACK, 2**40),
    ):
        soft, hard = resource.getrlimit(limit)
        resource.setrlimit(limit, (far if soft == resource.RLIM_INFINITY else soft - 1, hard))
    return a / a.norm(dim=-1, keepdim=True)


def _state() -> dict[str, Any]:
    return {
        "gc": (gc.isenabled(), list(gc.callbacks)),
        "hooks": (sys.gettrace(), sys.getprofile(), threading.gettrace(), threading.getprofile()),
        "environ": dict(os.environ),
        "getenv": (os.getenv(_KEEP), os.getenv(_GONE), os.getenv("INVCHECK_TEST_ADDED")),
        "logging": (list(logging.root.handlers), logging.root.level),
        "backends": (
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark,
            torch.backends.cudnn.allow_tf32,
            torch.backends.cuda.matmul.allow_tf32,
            torch.get_float32_matmul_precision(),
        ),
        "limits": [
            resource.getrlimit(r) for r in (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_STACK)
        ],
    }


def test_what_user_code_changes_in_the_process_is_put_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_KEEP, "kept")
    monkeypatch.setenv(_GONE, "here")
    before = _state()
    try:
        assert api.invariance_error(_meddles, "case_rescale", trials=2).verdict == "invariant"
        after = _state()
    finally:
        _undo(before)  # what leaked, by hand: no later test runs with it
    assert [key for key in before if after[key] != before[key]] == []


def _undo(before: dict[str, Any]) -> None:
    gc.enable() if before["gc"][0] else gc.disable()
    gc.callbacks[:] = before["gc"][1]
    sys.settrace(before["hooks"][0])
    sys.setprofile(before["hooks"][1])
    threading.settrace(before["hooks"][2])  # type: ignore[arg-type]
    threading.setprofile(before["hooks"][3])  # type: ignore[arg-type]
    logging.root.handlers[:] = before["logging"][0]
    logging.root.setLevel(before["logging"][1])
    os.environ.pop("INVCHECK_TEST_ADDED", None)
    cudnn = torch.backends.cudnn
    cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32 = before["backends"][:3]
    torch.backends.cuda.matmul.allow_tf32 = before["backends"][3]
    torch.set_float32_matmul_precision(before["backends"][4])
    for limit, (soft, hard) in zip(
        (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_STACK), before["limits"]
    ):
        resource.setrlimit(limit, (soft, hard))


def test_the_environment_s_own_copy_follows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put back through os.environ, so that the C environment a subprocess inherits follows."""
    import subprocess

    monkeypatch.setenv(_KEEP, "kept")

    def meddles(a):
        os.environ[_KEEP] = "changed"
        os.environ["INVCHECK_TEST_ADDED"] = "1"
        return a / a.norm(dim=-1, keepdim=True)

    api.invariance_error(meddles, "case_rescale", trials=2)
    code = f"import os; print(os.getenv({_KEEP!r}), os.getenv('INVCHECK_TEST_ADDED'))"
    seen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert seen.stdout.split() == ["kept", "None"]


def test_each_setting_is_put_back_though_another_cannot_be() -> None:
    def refuses(value: Any) -> None:
        raise RuntimeError("refused")

    state = process_state.taken()
    flags = process_state._backend_flags(torch)
    gc.disable()
    try:
        process_state._FOUND["backends"] = tuple((lambda: "moved", refuses) for _ in flags)
        process_state.restore(state)
        assert gc.isenabled()
    finally:
        process_state._FOUND["backends"] = flags
        gc.enable()


def test_a_soft_limit_comes_back_as_near_as_the_hard_limit_allows() -> None:
    """Only root raises a hard limit: the soft one goes back up to it, no further (in a child process,
    whose limits are its own)."""
    import subprocess

    code = (
        "import resource\n"
        "from invcheck import process_state\n"
        "r = resource.RLIMIT_CPU\n"
        "resource.setrlimit(r, (10**6, 10**6))\n"
        "state = process_state.taken()\n"
        "resource.setrlimit(r, (10, 1000))\n"
        "process_state.restore(state)\n"
        "print(*resource.getrlimit(r))\n"
    )
    seen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert seen.stdout.split() == ["1000", "1000"]
