"""The deadline's alarm: past its first ring it keeps stopping the code it limits (a stop swallowed by a
__del__ or an `except` is raised again) and never interrupts the frames it spares (invcheck's cleanup)."""

from __future__ import annotations

import contextlib
import gc
import signal
import sys
import time
from collections.abc import Iterator
from types import FrameType, SimpleNamespace
from typing import Any

import pytest

from invcheck import timeouts

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="SIGALRM timers are POSIX")


class Stop(BaseException):
    pass


@contextlib.contextmanager
def quiet_unraisable() -> Iterator[list[Any]]:
    seen: list[Any] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda u: seen.append(u.exc_value)
    try:
        yield seen
    finally:
        sys.unraisablehook = previous


def test_a_swallowed_stop_is_raised_again() -> None:
    swallowed = 0
    started = time.monotonic()
    with pytest.raises(Stop), timeouts.alarm(0.05, Stop, spared=lambda frame: False):
        while True:
            try:
                time.sleep(10)
            except Stop:
                swallowed += 1
                if swallowed == 3:
                    raise
    assert swallowed == 3 and time.monotonic() - started < 2


def test_sleeping_dels_are_each_stopped_at_the_deadline() -> None:
    stopped: list[bool] = []

    class SlowDel:
        def __del__(self) -> None:
            try:
                time.sleep(30)
            finally:
                stopped.append(True)

    here = sys._getframe().f_code  # spared: the cleanup that drops them, past the deadline

    def spared(frame: FrameType | None) -> bool:
        return frame is not None and frame.f_code is here

    started = time.monotonic()
    with quiet_unraisable() as seen, pytest.raises(Stop), timeouts.alarm(0.05, Stop, spared=spared):
        held = [SlowDel() for _ in range(16)]
        time.sleep(0.1)
        del held  # 16 stops, each swallowed by its __del__; the block then ends in the stop
        gc.collect()
    assert len(stopped) == 16 and all(
        isinstance(e, Stop) for e in seen
    )  # another finalizer may be stopped too
    assert time.monotonic() - started < 3


def cleanup() -> None:
    time.sleep(0.2)  # rung many times while it sleeps


def test_spared_frames_are_never_interrupted_and_the_block_still_ends_in_the_stop() -> None:
    def spared(frame: FrameType | None) -> bool:
        return frame is not None and frame.f_code is cleanup.__code__

    finished = []
    with pytest.raises(Stop), timeouts.alarm(0.01, Stop, spared=spared):
        cleanup()
        finished.append(True)
    assert finished  # past the deadline, but not cut short: the stop is raised as the block ends


def chain(*files: str) -> Any:
    """A frame stack, innermost first, as in_our_code reads it (each frame's file and caller)."""
    frame = None
    for file in reversed(files):
        frame = SimpleNamespace(f_code=SimpleNamespace(co_filename=file), f_back=frame)
    return frame


def test_our_code_and_the_stdlib_on_its_behalf_are_spared_user_code_and_torch_are_not() -> None:
    ours, stdlib, user = timeouts.__file__, contextlib.__file__, "/home/me/mynorms.py"
    torch_file = "/venv/lib/python3.11/site-packages/torch/nn/modules/module.py"
    assert timeouts.in_our_code(chain(ours, user))
    assert timeouts.in_our_code(chain(stdlib, stdlib, ours, user))  # a `with` exit in invcheck
    assert not timeouts.in_our_code(chain(user, ours))  # a __del__ run by invcheck's collection
    assert not timeouts.in_our_code(chain(stdlib, user, ours))  # a lock's wait in user code
    assert not timeouts.in_our_code(chain(torch_file, user))
    assert not timeouts.in_our_code(chain("<frozen importlib._bootstrap>", user))
    assert not timeouts.in_our_code(chain(stdlib)) and not timeouts.in_our_code(None)
    with timeouts.shielded():  # invcheck's cleanup, in whatever it calls
        assert timeouts.in_our_code(chain(torch_file, ours)) and timeouts.in_our_code(chain(user))
    assert not timeouts.in_our_code(chain(torch_file, ours))


def test_without_spared_frames_a_swallowed_stop_comes_again() -> None:
    swallowed = []
    with pytest.raises(TimeoutError), timeouts.alarm(0.05, TimeoutError):
        try:  # a library's `except Exception` (sympy's under `invcheck prove`)
            time.sleep(5)
        except Exception:
            swallowed.append(True)
        time.sleep(5)
    assert swallowed


def test_without_spared_frames_it_rings_anywhere() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError), timeouts.alarm(0.05, TimeoutError):
        time.sleep(5)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert time.monotonic() - started < 2
