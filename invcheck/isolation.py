"""What user code may change in the process that runs it, put back after each check of it.

User code runs inside invcheck's process: its constructor or forward may change the working
directory (`os.chdir`), torch's default device or dtype (`torch.set_default_device("meta")`), or
fork the process, or leave a thread running. None of that may reach the next check or the report:
`kept` restores the first two after each check of user code, with every name user code rebound in
invcheck's own modules or in the torch namespaces invcheck computes with (a layer that sets
invcheck's MARGIN, or patches `torch.Tensor.__sub__`, changes no other check's verdict); a forked child
never goes on to run the rest of the run or write a report: it ends, silently, as soon as the user
code that forked it returns to invcheck; and a thread user code left running does not keep the
process alive once its report is written (`end`, and `end_workers_promptly` for --jobs workers).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

from invcheck import process_state

_OWNER = {"pid": os.getpid()}  # the process whose report this is (a --jobs worker adopts itself)


def adopt() -> None:
    """This process (a --jobs worker) runs checks of its own: it is no forked stray."""
    _OWNER["pid"] = os.getpid()


def exit_if_forked() -> None:
    """A child forked by user code ends here, without a word: only the owner reports."""
    if os.getpid() != _OWNER["pid"]:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(0)


@contextlib.contextmanager
def kept() -> Iterator[None]:
    """Run user code; afterwards the working directory and torch's defaults are as they were, and a
    child the code forked has ended."""
    torch = sys.modules.get("torch")
    try:
        cwd: int | None = os.open(".", os.O_RDONLY)
    except OSError:  # no working directory to keep
        cwd = None
    defaults = (torch.get_default_dtype(), _default_device(torch)) if torch is not None else None
    names = _names()
    state = process_state.taken()
    try:
        yield
    finally:
        exit_if_forked()
        _rebind(names)
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
_STDLIB = ("os", "os.path", "json", "json.encoder", "tempfile")  # what writes the report


def _names() -> list[tuple[object, dict[str, object], bool]]:
    """(namespace, its names now, whether names added later go too) for invcheck's modules and the
    torch namespaces its measurements call: modules keep what was added (torch imports submodules
    lazily), a class drops it (`torch.Tensor.__sub__ = ...` shadows the inherited operator)."""
    modules = list(_invcheck_modules())
    modules += [sys.modules[name] for name in _STDLIB if name in sys.modules]  # the report writer's
    torch = sys.modules.get("torch")
    if torch is not None:
        modules += [torch, torch.nn.functional, torch.linalg]
    found: list[tuple[object, dict[str, object], bool]] = [(m, dict(vars(m)), False) for m in modules]
    if torch is not None:
        found += [(cls, dict(vars(cls)), True) for cls in (torch.Tensor, torch.nn.Module)]
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


def _rebind(names: list[tuple[object, dict[str, object], bool]]) -> None:
    for space, before, drop_added in names:
        now = vars(space)
        for name, value in before.items():
            if now.get(name, _ABSENT) is not value:
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(space, name, value)
        if drop_added:
            for name in [n for n in now if n not in before]:
                with contextlib.suppress(AttributeError, TypeError):
                    delattr(space, name)


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
        os._exit(status)
    sys.exit(code if isinstance(code, (int, str)) or code is None else status)


def end_workers_promptly() -> None:
    """In a --jobs worker: the same at its exit, which multiprocessing reaches through threading's
    shutdown (it would wait for user code's threads before the parent can finish)."""
    register = getattr(threading, "_register_atexit", None)  # called before threads are joined
    if register is not None:
        register(_end_worker)


def _end_worker() -> None:
    if stray_threads():
        _flush()
        os._exit(0)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
