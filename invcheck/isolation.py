"""What user code may change in the process that runs it, put back after each check of it.

User code runs inside invcheck's process: its constructor or forward may change the working
directory (`os.chdir`), torch's default device or dtype (`torch.set_default_device("meta")`), or
fork the process, or leave a thread running. None of that may reach the next check or the report:
`kept` restores the first two after each check of user code, with every name user code rebound in
invcheck's own modules or in the torch namespaces invcheck computes with (a layer that sets
invcheck's MARGIN, or patches `torch.Tensor.__sub__`, changes no other check's verdict); a forked child
never goes on to run the rest of the run or write a report: it ends, silently, as soon as the user
code that forked it returns to invcheck; and a thread user code left running does not keep the
process alive once its report is written (`end`, `end_workers_promptly` for --jobs workers, and
`end_host_promptly` for a host program such as pytest).
"""

from __future__ import annotations

import atexit
import contextlib
import operator
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from invcheck import dict_version, process_state
from invcheck.timeouts import shielded

# invcheck's own exit, bound here: `os._exit` is refused while user code runs (a __del__ that calls
# it when its check's objects are collected raises instead of ending the run), and user code may rebind it.
# The C module's: os._exit is the guard below once user code has run (`_guard_exits`), and a module
# imported after that (a --jobs worker's) binds this, never os._exit.
real_exit: Callable[[int], NoReturn] = (sys.modules.get("posix") or sys.modules["nt"])._exit
_hard_exit = real_exit
# and its own pid: a layer that rebinds os.getpid (to 1) made the owner look like a forked child,
# which ended the run silently, exit 0 and no report
_getpid = os.getpid
_OWNER = {"pid": _getpid()}  # the process whose report this is (a --jobs worker adopts itself)


def _forked() -> None:
    """A child forked while no user code runs is its own owner (a host program's worker process that
    runs checks of its own); one forked by user code (inside `kept`) is a stray that ends silently."""
    if not _OPEN:
        _OWNER["pid"] = _getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)
# Non-daemon threads started while user code ran, and left running by it (a host program, pytest,
# has threads of its own or of other tests: only these are user code's).
_LEFT: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def adopt() -> None:
    """This process (a --jobs worker) runs checks of its own: it is no forked stray."""
    _OWNER["pid"] = _getpid()


def exit_if_forked() -> None:
    """A child forked by user code ends here, without a word: only the owner reports."""
    if _getpid() != _OWNER["pid"]:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        _hard_exit(0)


@contextlib.contextmanager
def kept() -> Iterator[None]:
    """Run user code; afterwards the working directory and torch's defaults are as they were, and a
    child the code forked has ended, and the names it rebound are put back: around each call, in the
    torch namespaces a layer would patch to change its own check's arithmetic (operators, functional);
    around a whole check (the outermost `kept`), also in invcheck's modules and torch's top namespace
    (watching all of them around each call of a layer cost ~3 ms a call, most of a user module's check)."""
    torch = sys.modules.get("torch")
    with shielded():  # a stop here would leave the folder's descriptor open
        try:
            cwd: int | None = os.open(".", os.O_RDONLY)
        except OSError:  # no working directory to keep
            cwd = None
        defaults = (torch.get_default_dtype(), _default_device(torch)) if torch is not None else None
        if not _OPEN:
            _guard_exits()
        exit_before = os._exit
        names = [(space, *_snapshot(space), drop) for space, drop in _spaces(every=not _OPEN)]
        state = process_state.taken(whole=not _OPEN)
        threads = set(threading.enumerate())
        imports = _imports_taken(whole=not _OPEN)
        if not _OPEN:
            process_state.hold_exit_handlers()
            os._exit = _refuse_exit
        _OPEN.append(True)
    try:
        yield
    finally:
        with shielded():  # no deadline's stop cuts this short
            _OPEN.pop()
            if not _OPEN:
                process_state.release_exit_handlers()
                os._exit = exit_before
            exit_if_forked()
            started = [t for t in threading.enumerate() if t not in threads]
            _USER_THREADS.update(started)
            _LEFT.update(t for t in started if not t.daemon)
            _rebind(names)
            _imports_back(imports)
            process_state.restore(state)
            if cwd is not None:
                with contextlib.suppress(OSError):
                    os.fchdir(cwd)
                with contextlib.suppress(OSError):  # user code may have closed it (os.closerange)
                    os.close(cwd)
            if torch is not None and defaults is not None:
                if torch.get_default_dtype() != defaults[0]:
                    torch.set_default_dtype(defaults[0])
                if _default_device(torch) != defaults[1]:
                    torch.set_default_device(defaults[1])


_ABSENT = object()
_OPEN: list[bool] = []  # one entry per `kept` open now
# What writes the report and ends the run: `builtins.open = ...`, `sys.exit = lambda *a: None`,
# `signal.setitimer = ...` in a layer reach no later check (invcheck's own code binds what it
# calls at import besides, for a thread that rebinds them after its check).
_STDLIB = (
    "os",
    "os.path",
    "json",
    "json.encoder",
    "tempfile",
    "builtins",
    "io",
    "sys",
    "signal",
    "atexit",
    "math",
    "time",  # a layer setting math.isnan = lambda x: True changed later checks' verdicts
)


# Every thread started while user code ran: one that calls os._exit after its check (a daemon that
# sleeps first) ended the run with exit 0 and no report.
_USER_THREADS: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
_PROCESS = {"owned": False}  # the command line: only invcheck may end this process
_HOOKS: dict[str, Callable[[Any], object]] = {}  # the hooks _guard_exits wrapped


def own_process() -> None:
    """The command line owns its process: os._exit from anything but invcheck (a user object's
    __del__ run at a later check, or at exit) is refused in it, with one line, for good."""
    _PROCESS["owned"] = True
    _guard_exits()
    if "unraisable" not in _HOOKS:  # (a check's deadline puts its own hook in front while it runs)
        _HOOKS["unraisable"] = sys.unraisablehook
        sys.unraisablehook = _unraisable


def _guard_exits() -> None:
    """os._exit, from the first check of user code on, refuses a thread user code started (and
    anything, where invcheck owns the process); the refusal is one line on stderr, not a traceback
    (in a thread; in a __del__ where invcheck owns the process).
    A host program's own calls (pytest's, the user's) go through: its threads are not user code's."""
    if os._exit is _hard_exit:
        os._exit = _guarded_exit
    if "thread" not in _HOOKS:
        _HOOKS["thread"] = threading.excepthook
        threading.excepthook = _thread_exception


def _guarded_exit(status: int = 0) -> NoReturn:
    if _PROCESS["owned"] or threading.current_thread() in _USER_THREADS:
        raise OsExit(f"os._exit({status}) called")
    _hard_exit(status)


def _thread_exception(args: Any) -> None:
    if isinstance(args.exc_value, OsExit):
        _warn(f"{args.exc_value} in a thread user code started: refused")
        return
    _HOOKS["thread"](args)


def _unraisable(unraisable: Any) -> None:
    if isinstance(unraisable.exc_value, OsExit):
        what = getattr(unraisable.object, "__qualname__", None) or type(unraisable.object).__name__
        _warn(f"{unraisable.exc_value} in {what}: refused")
        return
    _HOOKS["unraisable"](unraisable)


_WARNED: set[str] = set()


def _warn(message: str) -> None:
    """Once per message: a layer starts a thread per call."""
    if message in _WARNED:
        return
    _WARNED.add(message)
    with contextlib.suppress(Exception):
        sys.stderr.write(f"warning: {message}\n")
        sys.stderr.flush()


class OsExit(BaseException):
    """os._exit called by user code: an error instead of a silent end of the process."""


def _refuse_exit(status: int = 0) -> NoReturn:
    """os._exit while a check of user code is open (its forward, or a __del__ run when the check's
    objects are collected): an exception, not a silent end of the run."""
    raise OsExit(f"os._exit({status}) called")


def _spaces(every: bool) -> list[tuple[object, bool]]:
    """(namespace, whether names added later go too) for the torch namespaces invcheck's measurements
    call and, with `every`, invcheck's modules and the standard library's that write the report: modules keep what was added (torch
    imports submodules lazily), a class drops it (`torch.Tensor.__sub__ = ...` shadows the inherited
    operator)."""
    modules: list[object] = []
    if every:  # invcheck's modules, and the standard library's that write the report
        modules += _invcheck_modules()
        modules += [sys.modules[name] for name in _STDLIB if name in sys.modules]
    torch = sys.modules.get("torch")
    if torch is not None:  # around each call: a layer rebinding torch.sub changes its own check's math
        modules += [torch, torch.nn.functional, torch.linalg]
    found: list[tuple[object, bool]] = [(m, False) for m in modules]
    if every and "json" in sys.modules:  # the report's encoder: `JSONEncoder.encode = ...` wrote junk
        found.append((sys.modules["json"].JSONEncoder, True))
    if torch is not None:
        found += [(cls, True) for cls in (torch.Tensor, torch.nn.Module)]
    return found


_FOUND: dict[str, object] = {"count": -1, "modules": ()}  # the last scan of sys.modules, and its size


def _invcheck_modules() -> tuple[object, ...]:
    """invcheck's modules, scanned again only when a module was imported since (the scan is most of
    kept's cost, and kept runs around every call of user code)."""
    if _FOUND["count"] != len(sys.modules):
        found = [
            m for name, m in list(sys.modules.items()) if name == "invcheck" or name.startswith("invcheck.")
        ]
        _FOUND.update(count=len(sys.modules), modules=tuple(found))
    return _FOUND["modules"]  # type: ignore[return-value]


_SEEN: dict[object, tuple[int, dict[str, object]]] = {}  # namespace: (its version, a copy of it then)


def _snapshot(space: object) -> tuple[dict[str, object], int | None]:
    """A copy of `vars(space)` as it is now, and its version: the copy taken before while the version
    says nothing changed since (copying torch's ~1,900 names around every call was most of its cost)."""
    version = dict_version.version(space)
    seen = _SEEN.get(space)
    if version is not None and seen is not None and seen[0] == version:
        return seen[1], version
    copy = dict(vars(space))
    if version is not None:
        _SEEN[space] = (version, copy)
    return copy, version


def _rebind(names: list[tuple[object, dict[str, object], int | None, bool]]) -> None:
    for space, before, version, drop_added in names:
        if version is not None and dict_version.version(space) == version:
            continue  # not one name rebound, added or removed: the dict's version says so
        now = vars(space)
        if (
            len(now) == len(before)
            and all(map(operator.is_, now.values(), before.values()))
            and all(map(operator.is_, now.keys(), before.keys()))
        ):
            continue  # nothing rebound, added or removed (compared in C: where no version is kept)
        for name, value in before.items():
            if now.get(name, _ABSENT) is not value:
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(space, name, value)
        if drop_added:
            for name in [n for n in now if n not in before]:
                with contextlib.suppress(AttributeError, TypeError):
                    delattr(space, name)


_Imports = tuple[dict[str, object] | None, list[Any], list[Any], list[Any], list[Any]]


def _imports_taken(whole: bool) -> _Imports:
    """What imports go through: sys.meta_path and sys.path_hooks (each list, and what it holds) and,
    around a whole check (a copy of sys.modules costs ~0.1 ms), sys.modules."""
    meta, hooks = sys.meta_path, sys.path_hooks
    return (dict(sys.modules) if whole else None, meta, list(meta), hooks, list(hooks))


def _imports_back(taken: _Imports) -> None:
    """Imports as `_imports_taken` found them: `sys.modules['json'] = None`, or a finder put first on
    sys.meta_path that refuses `invcheck.*`, in a layer made invcheck's own later imports fail (exit
    3, no report). Modules user code imported stay; a None it added (an import blocked) goes."""
    modules, meta, metas, hooks, hooked = taken
    for name, held, items in (("meta_path", meta, metas), ("path_hooks", hooks, hooked)):
        if getattr(sys, name, None) is not held:
            setattr(sys, name, held)
        if len(held) != len(items) or any(map(operator.is_not, held, items)):
            held[:] = items
            if name == "path_hooks":
                sys.path_importer_cache.clear()  # the finders the changed hooks made
    if modules is None:
        return
    now = sys.modules
    try:
        same = modules.items() <= now.items()  # compared in C: no entry removed or replaced
    except Exception:  # a value user code put there whose == raises
        same = False
    if not same:
        for name, module in modules.items():
            if now.get(name, _ABSENT) is not module:
                now[name] = module  # type: ignore[assignment]
    for name in [n for n, m in now.items() if m is None and n not in modules]:
        del now[name]


def _default_device(torch: object) -> object:
    return torch.get_default_device()  # type: ignore[attr-defined]


def stray_threads() -> list[threading.Thread]:
    """Threads still running that Python would wait for at exit: none are invcheck's own (its
    watchdog is a daemon), so user code started them (`threading.Thread(...).start()` in a layer)."""
    return [
        t for t in threading.enumerate() if t.is_alive() and not t.daemon and t is not threading.main_thread()
    ]


def end(code: object) -> None:
    """End the program with `code`; where user code left threads running, without waiting for
    them (Python would, forever: the report is written, nothing of invcheck's is left to do)."""
    status = code if isinstance(code, int) else 0 if code is None else 1  # sys.exit's own reading
    if stray_threads():
        _flush()
        _hard_exit(status)
    raise SystemExit(
        code if isinstance(code, (int, str)) or code is None else status
    )  # not sys.exit: rebindable


def end_workers_promptly() -> None:
    """In a --jobs worker: the same at its exit, which multiprocessing reaches through threading's
    shutdown (it would wait for user code's threads before the parent can finish)."""
    register = getattr(threading, "_register_atexit", None)  # called before threads are joined
    if register is not None:
        register(_end_worker)


def _end_worker() -> None:
    if stray_threads():
        _flush()
        _hard_exit(0)


_HOST_STATUS: dict[str, Callable[[], int]] = {}


def end_host_promptly(status: Callable[[], int]) -> None:
    """In a host program that runs checks (pytest): at its exit, where a thread user code started is
    still running, end it without waiting for it, once the program's own exit handlers have run
    (pytest has written its report): exit status `status()`. The last caller's status counts (an
    in-process pytest run inside another ends first)."""
    register = getattr(threading, "_register_atexit", None)  # called before threads are joined
    if register is None:
        return
    if not _HOST_STATUS:
        with contextlib.suppress(RuntimeError):  # already shutting down
            register(_end_host)
    _HOST_STATUS["status"] = status


def _end_host() -> None:
    if any(t.is_alive() for t in list(_LEFT)):
        status = _HOST_STATUS["status"]()
        _flush()
        atexit._run_exitfuncs()
        _flush()
        _hard_exit(status)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
