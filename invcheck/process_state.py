"""Process-wide settings user code may change in the process that runs it, taken before a check of
user code and put back after it (isolation.kept): the umask (the mode of the report files), the
SIGTERM and SIGINT handlers (a CI runner's cancel must still end the run), torch's
deterministic-algorithms flag, the recursion limit and the warnings filters; the garbage collector
(enabled, and `gc.callbacks`), the trace and profile hooks (`sys.settrace`, `threading.settrace`),
`os.environ` (keys added, removed, changed), the root logger's handlers and level, torch's backend
flags (cudnn's deterministic, benchmark, enabled and allow_tf32, cuBLAS's allow_tf32, the float32
matmul precision) and the soft resource limits (`resource.setrlimit`: a watchdog thread that cannot
start, or an allocation refused, in every later check). `os.umask`, `signal`, `warnings`, `gc`,
`os.environ`, `resource` are bound here at import: user code that rebinds them does not change what
is restored.
While it runs, user code cannot change the SIGTERM, SIGINT and SIGALRM (the deadline's) handlers at
all (`hold_exit_handlers`).
And exit handlers: one that user code registers (`atexit.register(lambda: os._exit(0))` in a layer)
would run after the report, and could change the run's exit status or print past a JSON report; it
is never registered (`hold_exit_handlers`). Packages' own registrations pass.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal.py's C half: no stubs
import atexit
import contextlib
import gc
import operator
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from os import umask as _umask
from typing import Any

try:
    import resource as _resource
except ImportError:  # Windows: no soft limits to keep
    _resource = None  # type: ignore[assignment]

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT") if hasattr(signal, name))
# and SIGALRM, the deadline's: a layer that ignores it would make the watchdog end the whole run
_HELD = _SIGNALS + ((signal.SIGALRM,) if hasattr(signal, "SIGALRM") else ())
_getsignal, _setsignal = signal.getsignal, signal.signal
# the handler as stored (an int for SIG_DFL and SIG_IGN): signal.getsignal's enum costs ~5 µs a signal
_stored_handler = _signal.getsignal
_getlimit, _setlimit = sys.getrecursionlimit, sys.setrecursionlimit
_gc_on, _gc_enable, _gc_disable = gc.isenabled, gc.enable, gc.disable
_GC_CALLBACKS = gc.callbacks  # the list the collector calls, whatever `gc.callbacks` is rebound to
_HOOKS = (  # (get, set): a trace or profile function left set slows, or runs code in, every later check
    (sys.gettrace, sys.settrace),
    (sys.getprofile, sys.setprofile),
    (threading.gettrace, threading.settrace),  # what threads started later get
    (threading.getprofile, threading.setprofile),
)
_ENVIRON = os.environ  # changed through itself, so that putenv and unsetenv follow
_RLIMITS = tuple(
    getattr(_resource, name)
    for name in ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_NOFILE", "RLIMIT_STACK", "RLIMIT_CPU", "RLIMIT_NPROC")
    if _resource is not None and hasattr(_resource, name)
)
if _resource is not None:
    _getrlimit, _setrlimit, _UNLIMITED = _resource.getrlimit, _resource.setrlimit, _resource.RLIM_INFINITY
# torch's backend flags a layer may flip (torch._C's getter and setter of each, found once): the
# matmul precision first, as setting it may set cuBLAS's allow_tf32 too
_BACKEND_FLAGS = (
    "float32_matmul_precision",
    "cudnn_enabled",
    "cudnn_deterministic",
    "cudnn_benchmark",
    "cudnn_allow_tf32",
    "cublas_allow_tf32",
)
_FOUND: dict[str, tuple[tuple[Callable[[], Any], Callable[[Any], Any]], ...]] = {}


def taken(whole: bool = True) -> dict[str, Any]:
    """The settings now; os.environ and the resource limits only with `whole` (around a whole check:
    reading the six limits costs ~8 µs, and a check calls user code ~200 times)."""
    mask = _umask(0o022)
    _umask(mask)
    state: dict[str, Any] = {"umask": mask, "limit": _getlimit(), "filters": list(warnings.filters)}
    if threading.current_thread() is threading.main_thread():
        state["handlers"] = {sig: _stored_handler(sig) for sig in _SIGNALS}
    torch = sys.modules.get("torch")
    if torch is not None:
        state["deterministic"] = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        )
        state["backends"] = [get() for get, _ in _backend_flags(torch)]
    state["gc"] = (_gc_on(), list(_GC_CALLBACKS))
    state["hooks"] = [get() for get, _ in _HOOKS]
    if whole:
        state["environ"] = _environ_now()
        state["rlimits"] = [_getrlimit(limit)[0] for limit in _RLIMITS]
    logging = sys.modules.get("logging")
    if logging is not None:
        root = logging.root
        state["logging"] = (root, root.handlers, list(root.handlers), root.level)
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
            if _stored_handler(sig) is not handler and handler is not None:
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
    for (get, put), value in zip(
        _backend_flags(torch) if torch is not None else (), state.get("backends", ())
    ):
        with contextlib.suppress(Exception):
            if get() != value:
                put(value)
    with contextlib.suppress(Exception):
        _gc_back(*state["gc"])
    for (get, put), hook in zip(_HOOKS, state["hooks"]):
        with contextlib.suppress(Exception):
            if get() is not hook:
                put(hook)
    with contextlib.suppress(Exception):
        if "environ" in state:
            _environ_back(state["environ"])
    for limit, soft in zip(_RLIMITS, state.get("rlimits", ())):
        with contextlib.suppress(Exception):
            _rlimit_back(limit, soft)
    if "logging" in state:
        with contextlib.suppress(Exception):
            _logging_back(*state["logging"])


def _backend_flags(torch: Any) -> tuple[tuple[Callable[[], Any], Callable[[Any], Any]], ...]:
    found = _FOUND.get("backends")
    if found is None:
        names = [(f"_get_{flag}", f"_set_{flag}") for flag in _BACKEND_FLAGS]
        found = tuple(
            (getattr(torch._C, get), getattr(torch._C, put))
            for get, put in names
            if hasattr(torch._C, get) and hasattr(torch._C, put)
        )
        _FOUND["backends"] = found
    return found


def _gc_back(enabled: bool, callbacks: list[Any]) -> None:
    if _gc_on() != enabled:
        (_gc_enable if enabled else _gc_disable)()
    if gc.callbacks is not _GC_CALLBACKS:
        gc.callbacks = _GC_CALLBACKS
    if len(_GC_CALLBACKS) != len(callbacks) or any(map(operator.is_not, _GC_CALLBACKS, callbacks)):
        _GC_CALLBACKS[:] = callbacks  # a callback that raises printed a traceback at every later collection


def _environ_now() -> dict[Any, Any]:
    """os.environ as it is stored (a copy of its dict costs ~1 µs; of the mapping, decoding each key, ~30)."""
    data = getattr(_ENVIRON, "_data", None)
    return dict(data) if isinstance(data, dict) else dict(_ENVIRON)


def _environ_back(saved: dict[Any, Any]) -> None:
    data = getattr(_ENVIRON, "_data", None)
    raw = isinstance(data, dict)
    if (data if raw else dict(_ENVIRON)) == saved:  # compared in C, no copy
        return
    now = _environ_now()
    key = getattr(_ENVIRON, "decodekey", None) if raw else None
    value = getattr(_ENVIRON, "decodevalue", None) if raw else None
    key, value = key or _same, value or _same
    for name in now.keys() - saved.keys():
        with contextlib.suppress(Exception):
            del _ENVIRON[key(name)]
    for name, was in saved.items():
        if now.get(name, _same) != was:
            with contextlib.suppress(Exception):
                _ENVIRON[key(name)] = value(was)


def _same(x: Any) -> Any:
    return x


def _rlimit_back(limit: int, soft: int) -> None:
    """The soft limit as it was, or as near as the hard limit (which only root can raise) allows."""
    now, hard = _getrlimit(limit)
    if now == soft:
        return
    if hard != _UNLIMITED and (soft == _UNLIMITED or soft > hard):
        soft = hard
    _setrlimit(limit, (soft, hard))


def _logging_back(root: Any, handlers: list[Any], kept: list[Any], level: int) -> None:
    """The root logger's handlers and level: `logging.basicConfig(stream=sys.stdout)` in a layer sent
    every later log line to that stream."""
    if root.handlers is not handlers:
        root.handlers = handlers
    if len(handlers) != len(kept) or any(map(operator.is_not, handlers, kept)):
        handlers[:] = kept
    if root.level != level:
        root.setLevel(level)


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
