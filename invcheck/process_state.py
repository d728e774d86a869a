"""Process-wide settings user code may change in the process that runs it, taken before a check of
user code and put back after it (isolation.kept): the umask (the mode of the report files), the
SIGTERM and SIGINT handlers (a CI runner's cancel must still end the run), torch's
deterministic-algorithms flag, the recursion limit and the warnings filters. `os.umask`, `signal`,
`warnings` are bound here at import: user code that rebinds them does not change what is restored.
While it runs, user code cannot change the SIGTERM, SIGINT and SIGALRM (the deadline's) handlers at
all (`hold_exit_handlers`).
And exit handlers: one that user code registers (`atexit.register(lambda: os._exit(0))` in a layer)
would run after the report, and could change the run's exit status or print past a JSON report; it
is never registered (`hold_exit_handlers`). Packages' own registrations pass.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import sys
import threading
import warnings
from os import umask as _umask
from typing import Any

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT") if hasattr(signal, name))
# and SIGALRM, the deadline's: a layer that ignores it would make the watchdog end the whole run
_HELD = _SIGNALS + ((signal.SIGALRM,) if hasattr(signal, "SIGALRM") else ())
_getsignal, _setsignal = signal.getsignal, signal.signal
_getlimit, _setlimit = sys.getrecursionlimit, sys.setrecursionlimit


def taken() -> dict[str, Any]:
    """The settings now."""
    mask = _umask(0o022)
    _umask(mask)
    state: dict[str, Any] = {"umask": mask, "limit": _getlimit(), "filters": list(warnings.filters)}
    if threading.current_thread() is threading.main_thread():
        state["handlers"] = {sig: _getsignal(sig) for sig in _SIGNALS}
    torch = sys.modules.get("torch")
    if torch is not None:
        state["deterministic"] = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        )
    return state


def restore(state: dict[str, Any]) -> None:
    """The settings as `taken` found them (each one alone: one that cannot be set keeps none of the
    others from being put back)."""
    _umask(state["umask"])
    with contextlib.suppress(Exception):
        if _getlimit() != state["limit"]:
            _setlimit(state["limit"])
    if warnings.filters != state["filters"]:
        warnings.filters[:] = state["filters"]  # type: ignore[index]  # a list at run time
        with contextlib.suppress(AttributeError):
            warnings._filters_mutated()  # type: ignore[attr-defined]  # the cache of seen warnings
    for sig, handler in state.get("handlers", {}).items():
        with contextlib.suppress(Exception):
            if _getsignal(sig) is not handler and handler is not None:
                _setsignal(sig, handler)
    torch = sys.modules.get("torch")
    if torch is not None and "deterministic" in state:
        with contextlib.suppress(Exception):
            now = (
                torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
            )
            if now != state["deterministic"]:
                torch.use_deterministic_algorithms(
                    state["deterministic"][0], warn_only=state["deterministic"][1]
                )


_REGISTER = atexit.register  # the real one


def hold_exit_handlers() -> None:
    """While user code runs: `atexit.register` called from user code registers nothing (a package's
    call, torch's or the standard library's, still registers); nor does `signal.signal` for SIGTERM
    or SIGINT (a layer that ignores them would make a CI runner's cancel, or Ctrl-C, that arrives
    while it runs lost: putting the handler back afterwards cannot bring the signal back)."""
    atexit.register = _from_packages_only  # type: ignore[assignment]
    signal.signal = _stop_signals_kept


def release_exit_handlers() -> None:
    atexit.register = _REGISTER
    signal.signal = _setsignal


def _stop_signals_kept(signalnum: Any, handler: Any) -> Any:
    """signal.signal while user code runs: from user code, SIGTERM, SIGINT and SIGALRM keep their
    handler (the current one is returned, as if set); every other call is the real one's."""
    from invcheck.timeouts import is_user_code

    if signalnum in _HELD and is_user_code(sys._getframe(1).f_code.co_filename):
        return _getsignal(signalnum)
    return _setsignal(signalnum, handler)


def _from_packages_only(func: Any, *args: Any, **kwargs: Any) -> Any:
    from invcheck.timeouts import is_user_code

    if is_user_code(sys._getframe(1).f_code.co_filename):
        return func  # as register returns it (a decorator), never called at exit
    return _REGISTER(func, *args, **kwargs)
