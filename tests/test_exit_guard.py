"""os._exit from user code outside its check's call (isolation.py): a thread it started, or a __del__
run when its objects are collected, cannot end the process that reports (exit 0, no report)."""

from __future__ import annotations

import os
import posix
import threading
from collections.abc import Callable

import pytest

torch = pytest.importorskip("torch")

from invcheck import api, isolation  # noqa: E402
from invcheck.errors import UserCodeError  # noqa: E402


def _in_child(body: Callable[[], None], adopt: bool = True) -> int:
    """body() in a forked child of this test process; its exit status: 5 where body returned, 6
    where it raised, and whatever ended it otherwise (user code's os._exit(0): 0, as a green run)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            if adopt:
                isolation.adopt()  # it reports for itself: no stray forked by user code
            body()
        except BaseException:
            posix._exit(6)
        posix._exit(5)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


class _Norm(torch.nn.Module):
    def __init__(self, features: int = 16) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(features))

    def forward(self, a):
        return self.weight * a / a.pow(2).mean(-1, keepdim=True).sqrt()


class _ExitsLater(_Norm):
    """Starts a daemon thread that ends the process once told to: after its check."""

    go = threading.Event()
    threads: list[threading.Thread] = []

    def forward(self, a):
        if not self.threads:
            thread = threading.Thread(target=lambda: self.go.wait(60) and os._exit(0), daemon=True)
            thread.start()
            self.threads.append(thread)
        return super().forward(a)


class _ExitsWhenCollected(_Norm):
    def __del__(self) -> None:
        os._exit(0)


def test_a_thread_user_code_started_cannot_end_the_process_after_its_check(
    capfd: pytest.CaptureFixture[str],
) -> None:
    def body() -> None:
        isolation._WARNED.clear()  # said once per process: this worker may have said it before
        assert api.invariance_error(_ExitsLater, "dataset_rescale", trials=2).verdict == "invariant"
        _ExitsLater.go.set()  # the check is over: the thread calls os._exit(0) now
        _ExitsLater.threads[0].join(10)
        assert not _ExitsLater.threads[0].is_alive()  # it ran, and this process is still here
        assert api.invariance_error("rms_norm", "dataset_recenter", trials=2).verdict == "not_invariant"

    assert _in_child(body) == 5
    assert "os._exit(0) called in a thread user code started: refused" in capfd.readouterr().err


def test_a_host_program_s_own_os_exit_still_goes_through() -> None:
    """pytest's, the user's own program's: only threads user code started are refused."""

    def body() -> None:
        with isolation.kept():
            pass
        os._exit(7)

    assert _in_child(body) == 7


def test_a_del_that_calls_os_exit_in_a_layer_row_is_the_rows_error() -> None:
    """table --module and layer_row look at one instance before the row's checks (does it keep
    running statistics?): it is collected inside a check's guards too."""

    def body() -> None:
        with pytest.raises(UserCodeError, match=r"os\._exit\(0\) called in _ExitsWhenCollected\.__del__"):
            api.layer_row(_ExitsWhenCollected, kwargs={"features": "{units}"}, layers=("dense",), trials=2)

    assert _in_child(body) == 5


def test_where_invcheck_owns_the_process_a_late_del_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The command line (`own_process`): a user object collected after its check, or at exit."""
    monkeypatch.setattr(isolation, "_PROCESS", {"owned": False})
    monkeypatch.setattr(isolation, "_HOOKS", dict(isolation._HOOKS))
    monkeypatch.setattr(isolation, "_WARNED", set())
    monkeypatch.setattr("sys.unraisablehook", __import__("sys").unraisablehook)
    monkeypatch.setattr(os, "_exit", os._exit)

    def body() -> None:
        isolation.own_process()
        obj = object.__new__(_ExitsWhenCollected)
        del obj  # its __del__ calls os._exit(0): refused, one line, and this process goes on

    assert _in_child(body) == 5
    err = capfd.readouterr().err
    assert "warning: os._exit(0) called in _ExitsWhenCollected.__del__: refused" in err
    assert "Traceback" not in err


def test_a_process_a_host_program_forks_outside_user_code_runs_its_own_checks() -> None:
    """Only a child forked BY user code is a stray (it ends silently as it returns to invcheck): a
    host program's worker, forked between checks, runs checks and reports."""
    assert api.invariance_error(_Norm, "dataset_rescale", trials=2).verdict == "invariant"

    def body() -> None:  # not adopted: the fork alone must tell
        assert api.invariance_error(_Norm, "dataset_rescale", trials=2).verdict == "invariant"

    assert _in_child(body, adopt=False) == 5
