"""Time limits, in one place: the deadline of a check of user code (its bounds, its current value, who
set it) and the SIGALRM timer both the deadline and `invcheck prove` run under. No torch here: the
command line's options, the pytest plugin and the API set the deadline before torch is imported.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

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
def alarm(seconds: float, ring: Callable[[], BaseException]) -> Iterator[None]:
    """Raise `ring()` in the main thread after `seconds` (SIGALRM; elsewhere, or without setitimer,
    no limit). An alarm someone else had set (pytest-timeout, say) is re-armed afterwards with what
    is left of it."""
    if (
        seconds <= 0
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise ring()

    previous = signal.signal(signal.SIGALRM, expire)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay > 0:
            left = max(outer_delay - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)
