"""--jobs: each check in a forked process of its own, its Result sent back on a channel user code
cannot reach by accident and cannot make the parent wait on.

User code in a worker may write junk into, or close, every descriptor it inherited (`os.write(fd, ...)`
for fd in 3..63, `os.closerange(3, 256)`). So the channel's write end is moved far above the low
descriptors; the parent never blocks on it (it reads what is there, and stops when the worker has
ended); a message is only taken whole, framed by a key drawn for this run; anything else (junk, a
closed channel, a worker that died or ran far past its deadline) is that check's error, never a hang
or a traceback. A worker that crashes takes only its own check with it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from invcheck.errors import InvcheckError
from invcheck.fds import move_high
from invcheck.isolation import real_exit as _hard_exit  # user code may rebind os._exit; invcheck guards it
from invcheck.settings import CheckConfig

_HEADER = struct.Struct("!QQ")  # the check's index and the pickled Result's length, after the run's key
_POLL = 0.05  # seconds between looks at workers that have not written yet


@dataclass
class _Worker:
    todo: list[int]  # the checks it runs, in order; the first is the one running now
    pid: int
    fd: int
    started: float
    data: bytearray = field(default_factory=bytearray)
    code: int = 0  # its exit code, once ended
    eof: bool = False  # the channel's end seen: nothing more to read, its exit to wait for
    exited: int = -1  # a descriptor readable once the process has ended (Linux's pidfd), or -1
    overdue: bool = False  # ended from outside, far past its deadline
    corrupt: bool = False  # sent what is no message of ours: stopped


def in_workers(
    checks: Sequence[CheckConfig],
    jobs: int,
    run: Callable[[CheckConfig], Any],
    start: Callable[[], None],
    error: Callable[[CheckConfig, InvcheckError], Any],
) -> Iterator[Any]:
    """`run(check)` of each check in at most `jobs` forked processes at once (each calls `start()`
    first), its Results in spec order as soon as they and all before them are done; a check whose
    worker sends no valid Result is `error(check, why)`."""
    key = os.urandom(16)
    stripes = [list(range(k, len(checks), jobs)) for k in range(min(jobs, len(checks)))]
    running: dict[int, _Worker] = {}
    done: dict[int, Any] = {}
    following = 0

    def fork(todo: list[int]) -> None:
        held = [fd for w in running.values() for fd in (w.fd, w.exited) if fd >= 0]
        worker = _fork(todo, checks, key, run, start, held)
        running[worker.pid] = worker

    try:
        for todo in stripes:  # each worker runs every jobs-th check: one fork per worker, not per check
            fork(todo)
        while following < len(checks):
            _read(running.values())
            for worker in running.values():
                _take(worker, checks, key, done)
            for worker in _ended(running, checks):
                del running[worker.pid]
                _take(worker, checks, key, done)
                if worker.todo:  # the check it was on is its error; the rest go to a new worker
                    first = worker.todo.pop(0)
                    done[first] = error(checks[first], InvcheckError(_why(worker, checks[first])))
                    if worker.todo:
                        fork(worker.todo)
            while following in done:
                yield done.pop(following)
                following += 1
    finally:  # Ctrl-C, the reader gone, or all done: no worker outlives the run
        for worker in running.values():
            with contextlib.suppress(OSError):
                os.kill(worker.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(worker.pid, 0)
            os.close(worker.fd)
            if worker.exited >= 0:
                os.close(worker.exited)


def _fork(
    todo: list[int],
    checks: Sequence[CheckConfig],
    key: bytes,
    run: Callable[[CheckConfig], Any],
    start: Callable[[], None],
    others: list[int],
) -> _Worker:
    read, write = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered here is written twice
        with contextlib.suppress(Exception):
            stream.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's side, seen by the tests through its parent
        _child(todo, checks, key, run, start, [read, *others], write)
    os.close(write)
    os.set_blocking(read, False)
    return _Worker(list(todo), pid, read, time.monotonic(), exited=_pidfd(pid))


def _child(
    todo: list[int],
    checks: Sequence[CheckConfig],
    key: bytes,
    run: Callable[[CheckConfig], Any],
    start: Callable[[], None],
    close: list[int],
    write: int,
) -> None:
    status = 1
    try:
        for fd in close:  # other workers' channels: not this one's to read or hold open
            os.close(fd)
        channel = move_high(write)
        start()
        for index in todo:
            message = pickle.dumps(run(checks[index]))
            payload = key + _HEADER.pack(index, len(message)) + message
            while payload:
                payload = payload[os.write(channel, payload) :]
        os.close(channel)
        status = 0
    except BaseException:
        pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        _hard_exit(status)


def _read(workers: Any) -> None:
    """What the workers have written so far, waiting at most _POLL seconds for any of it or for a
    worker's end (a channel at its end is no longer watched: it would be readable forever)."""
    watched: dict[int, _Worker] = {}
    for w in workers:
        if not w.eof:
            watched[w.fd] = w
        if w.exited >= 0:
            watched[w.exited] = w
    if not watched:
        time.sleep(_POLL)
        return
    with contextlib.suppress(InterruptedError):
        ready, _, _ = select.select(list(watched), [], [], _POLL)
        for fd in ready:
            if fd == watched[fd].fd:
                _drain(watched[fd])


def _drain(worker: _Worker) -> None:
    with contextlib.suppress(BlockingIOError, OSError):
        while chunk := os.read(worker.fd, 1 << 20):
            worker.data += chunk
        worker.eof = True


def _pidfd(pid: int) -> int:
    """A descriptor that becomes readable when `pid` ends, where the system has them; else -1."""
    try:
        return os.pidfd_open(pid)  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        return -1


def _ended(running: dict[int, _Worker], checks: Sequence[CheckConfig]) -> list[_Worker]:
    """The workers that have ended (their status kept), or that ran far past their deadline
    (killed): user code may hold the channel open in a child of its own, so it is not waited on."""
    ended = []
    for worker in list(running.values()):
        pid, status = os.waitpid(worker.pid, os.WNOHANG)
        if pid == 0 and worker.todo and time.monotonic() - worker.started > _limit(checks[worker.todo[0]]):
            os.kill(worker.pid, signal.SIGKILL)
            pid, status = os.waitpid(worker.pid, 0)
            worker.overdue = True
        if pid:
            _drain(worker)
            os.close(worker.fd)
            if worker.exited >= 0:
                os.close(worker.exited)
            worker.code = os.waitstatus_to_exitcode(status)
            ended.append(worker)
    return ended


def _limit(check: CheckConfig) -> float:
    """Seconds after which a worker is ended from outside: user code past its deadline is ended
    by the worker's own watchdog at thrice it; this is only for code that defeated that too."""
    from invcheck.timeouts import DEADLINE
    from invcheck.user_objects import user_code

    return 4 * float(DEADLINE["seconds"]) + 60 if user_code(check) else float("inf")


def _take(worker: _Worker, checks: Sequence[CheckConfig], key: bytes, done: dict[int, Any]) -> None:
    """The whole messages the worker has sent, each the Result of the check it is on; anything else
    (junk, a forged or cut message) ends what it can be trusted with: the worker is stopped."""
    head = len(key) + _HEADER.size
    while worker.todo and not worker.overdue and len(worker.data) >= head:
        index, size = _HEADER.unpack(worker.data[len(key) : head])
        if worker.data[: len(key)] != key or index != worker.todo[0]:
            return _distrust(worker)
        if len(worker.data) < head + size:
            return None
        try:
            result = pickle.loads(bytes(worker.data[head : head + size]))
        except Exception:
            return _distrust(worker)
        if getattr(result, "check", None) != checks[index]:
            return _distrust(worker)
        done[index] = result
        del worker.data[: head + size]
        worker.todo.pop(0)
        worker.started = time.monotonic()  # the next check's time starts
    if worker.todo and worker.eof and worker.data:  # a message cut short: nothing more will come
        _distrust(worker)
    return None


def _distrust(worker: _Worker) -> None:
    worker.data = bytearray()
    worker.corrupt = True
    with contextlib.suppress(OSError):
        os.kill(worker.pid, signal.SIGKILL)


def _why(worker: _Worker, check: CheckConfig) -> str:
    from invcheck.impls.user_load import WORKER_HARD_EXIT

    code, where = worker.code, check.location or "<spec>"
    if worker.corrupt:
        return (
            f"{where}: the process running this check sent no valid result "
            "(its code wrote into, or closed, the channel to invcheck)"
        )
    if worker.overdue:
        return f"{where}: its code ran far past its deadline and defeated every stop: invcheck ended it"
    if code == WORKER_HARD_EXIT:
        return (
            f"{where}: its code defeated its deadline and was stopped (the line above says how long it ran)"
        )
    if code == 0:
        return (
            f"{where}: the process running this check sent no valid result "
            "(its code wrote into, or closed, the channel to invcheck)"
        )
    how = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    return f"{where}: the process running this check died ({how}): its code crashed the interpreter"
