"""Time limits, in one place: the deadline of a check of user code (its bounds, its current value, who
set it) and the SIGALRM timer both the deadline and `invcheck prove` run under. No torch here: the
command line's options, the pytest plugin and the API set the deadline before torch is imported.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sysconfig
import threading
from collections.abc import Callable, Iterator
from time import monotonic  # bound here: user code may rebind time.monotonic
from types import FrameType
from typing import Any

# Bound at import: user code that rebinds `signal.setitimer` (a stub) or `signal.signal` would
# otherwise leave the timer running after its block, and SIGALRM's default action end the process.
_setsignal = signal.signal
_setitimer = getattr(signal, "setitimer", None)
_sigmask = getattr(signal, "pthread_sigmask", None)  # the same for user code that blocks SIGALRM
_sigtimedwait = getattr(signal, "sigtimedwait", None)

DEFAULT_TIMEOUT = 15.0  # seconds per check of user code: a hang ends as one line, not never
# The deadline's bounds, for every place that sets it (below 0.1 s the alarm races the code).
LOW, HIGH = 0.1, 86400
BOUNDS = f"[{LOW:g}, {HIGH:g}]"


# The deadline of each check of user code: its seconds; the option that set it (for the message;
# None: nobody did); and, where it counts from one moment (`invcheck scan`: the command's start, so
# that torch's import counts), that moment (time.monotonic()), else None: each check's start.
DEADLINE: dict[str, Any] = {"seconds": DEFAULT_TIMEOUT, "flag": None, "started": None}


def within_bounds(seconds: object) -> bool:
    """A number of seconds the deadline may be."""
    return not isinstance(seconds, bool) and isinstance(seconds, (int, float)) and LOW <= seconds <= HIGH


def set_timeout(seconds: float, flag: str | None = None, started: float | None = None) -> None:
    """The deadline of each check of user code, and the option that sets it (see DEADLINE)."""
    DEADLINE.update(seconds=float(seconds), flag=flag, started=started)


@contextlib.contextmanager
def alarm(
    seconds: float,
    ring: Callable[[], BaseException],
    spared: Callable[[FrameType | None], bool] | None = None,
    every: float = 0.005,
) -> Iterator[None]:
    """Raise `ring()` in the main thread after `seconds` (SIGALRM; elsewhere, or without setitimer,
    no limit). It keeps ringing every `every` seconds until the block ends: a stop swallowed (by a
    __del__, which Python cannot let raise, or by a library's `except Exception`: sympy's, under
    `invcheck prove`) is raised again. With `spared` (a test of the interrupted frame), the stop is
    not raised in the frames it spares (the caller's own cleanup: a context's exit, a `finally`),
    and a block that ends normally after the first ring raises `ring()` as it ends. An alarm someone else had set (pytest-timeout, say) is
    re-armed afterwards with what is left of it."""
    if seconds <= 0 or _setitimer is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    rang: list[bool] = []

    def expire(signum: int, frame: FrameType | None) -> None:
        if spared is None:
            raise ring()
        if not rang:
            rang.append(True)
        if not spared(frame):
            raise ring()

    mask = _sigmask(signal.SIG_BLOCK, ()) if _sigmask is not None else None
    previous = _setsignal(signal.SIGALRM, expire)
    outer_delay, outer_interval = _setitimer(signal.ITIMER_REAL, seconds, every)
    started = monotonic()
    try:
        yield
    finally:
        _setitimer(signal.ITIMER_REAL, 0)
        if _take_pending(mask):
            rang.append(True)
        _setsignal(signal.SIGALRM, previous)
        if outer_delay > 0:
            left = max(outer_delay - (monotonic() - started), 1e-3)
            _setitimer(signal.ITIMER_REAL, left, outer_interval)
    if rang:  # past the deadline, every stop spared or swallowed: the block did not end in time
        raise ring()


def _take_pending(mask: set[signal.Signals] | None) -> bool:
    """Take a SIGALRM the timer sent that no thread has taken yet, before `alarm` puts the previous
    handler back, and give the main thread its signal mask back: code that blocks SIGALRM in the
    main thread has it delivered to another thread, whenever that thread runs; after the default
    handler was back, that ended the whole run (exit 142, no report) one time in three. Whether one
    was pending (the deadline passed)."""
    if mask is None or _sigmask is None:
        return False
    taken = False
    _sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        while _sigtimedwait is not None and _sigtimedwait({signal.SIGALRM}, 0) is not None:
            taken = True
    finally:
        _sigmask(signal.SIG_SETMASK, mask)
    return taken


# Where a stop may land: the interrupted frame, or the first caller of it outside the standard
# library (a `with` exit or a lock's wait runs there on someone's behalf), is not in these folders.
_STDLIB = tuple({os.path.realpath(sysconfig.get_paths()[k]) + os.sep for k in ("stdlib", "platstdlib")})
_INSTALLED = {"site-packages", "dist-packages"}  # installed packages, under the stdlib's folder or not
_OURS = os.path.dirname(os.path.realpath(__file__)) + os.sep  # the invcheck package
_kinds: dict[str, str] = {}


def _kind(filename: str) -> str:
    """'stdlib', 'ours' or 'other' (user code, torch, any installed package) for a code's file."""
    kind = _kinds.get(filename)
    if kind is None:
        path = os.path.realpath(filename) if not filename.startswith("<") else filename
        if path.startswith(_OURS):
            kind = "ours"
        elif filename.startswith("<frozen ") or (
            path.startswith(_STDLIB) and not _INSTALLED.intersection(path.split(os.sep))
        ):
            kind = "stdlib"
        else:
            kind = "other"
        _kinds[filename] = kind
    return kind


def is_user_code(filename: str) -> bool:
    """A code's file is the user's: neither invcheck's, the standard library's nor an installed
    package's (torch's)."""
    if _kind(filename) != "other":
        return False
    path = os.path.realpath(filename) if not filename.startswith("<") else filename
    return not _INSTALLED.intersection(path.split(os.sep))


_SHIELDS: list[bool] = []  # one per `shielded` block open now


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """invcheck's cleanup after user code (fd 1, the working directory, torch's defaults put back):
    no stop lands inside, in whatever library it calls (torch's own Python frames included)."""
    _SHIELDS.append(True)
    try:
        yield
    finally:
        _SHIELDS.pop()


def in_our_code(frame: FrameType | None) -> bool:
    """The interrupted frame is invcheck's own, or the standard library's on invcheck's behalf: a
    stop raised there could cut invcheck's cleanup short (fd 1 left on stderr, a setting not put
    back). User code, torch and other packages are not spared, nor the standard library working for
    them (a lock's wait in user code is stopped)."""
    if _SHIELDS:
        return True
    while frame is not None and _kind(frame.f_code.co_filename) == "stdlib":
        frame = frame.f_back
    return frame is not None and _kind(frame.f_code.co_filename) == "ours"
