"""Run checks: measure, then judge. The one place the CLI, the API and the pytest plugin go through.

`results` is what `invcheck run` streams: every check's Result in spec order, each as soon as it
and all before it are done, in this process or in `jobs` worker processes. A check that cannot be
run (bad user code, a missing device: an InvcheckError) becomes an `error` Result and the others
still run.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from invcheck.errors import DeviceError, ImportRefused, InvcheckError
from invcheck.isolation import real_exit as _hard_exit  # user code may rebind os._exit; invcheck guards it
from invcheck.settings import CheckConfig

T = TypeVar("T")

_observers: list[Callable[[], None]] = []  # called after each check (progress bars)


def refuse_imports(checks: Iterable[CheckConfig], allowed: bool) -> None:
    """Importing user code runs it: without permission, refuse before anything runs."""
    if allowed:
        return
    from invcheck.user_objects import imports_code

    for c in checks:
        if imports_code(c):
            raise import_refused(c, "--allow-import", Path.cwd())


def import_refused(check: CheckConfig, flag: str, anchor: Path | None = None) -> ImportRefused:
    """The one refusal message, naming the flag of the caller (CLI or pytest) that allows it; where
    the spec lies in a project of its own (not the one at `anchor`, the folder the command or pytest
    was run from), why that project's setting does not count."""
    hint = "or set allow-import = true under [tool.invcheck] in pyproject.toml"
    if check.file and anchor is not None:
        from invcheck.project_config import find_pyproject, shown

        own = find_pyproject(Path(check.file))
        if own is not None and own != find_pyproject(anchor):
            hint = (
                f"or set allow-import = true in the pyproject.toml of the project you run from: {shown(own)} "
                "makes the spec's folder a project of its own, which cannot grant itself permission"
            )
    from invcheck.user_objects import imports_code

    module = (imports_code(check) or [check.norm.module or ""])[0]
    return ImportRefused(
        f"{check.location or '<spec>'}: module '{module}' would import and run user code; pass {flag} ({hint})"
    )


def run_check(check: CheckConfig, checked: bool = False):  # -> evidence.Result (torch imported lazily)
    """The check's Result. Bad input raises InvcheckError before anything is allocated: the check
    is held to the rules here unless `checked` says its caller did (a spec as it loads, the API)."""
    from invcheck.measure import measure
    from invcheck.rules import refuse_impossible
    from invcheck.user_objects import user_code
    from invcheck.verdict import judge

    if not checked:
        refuse_impossible(check)
    try:
        result = run_user(check, lambda: judge(measure(check))) if user_code(check) else judge(measure(check))
    except DeviceError as err:  # located at the spec's `device:` line, as every error about a spec
        raise DeviceError(f"{_device_location(check)}: {err}") if check.file else err from None
    for observe_ in _observers:
        observe_()
    return result


def run_user(check: CheckConfig, work: Callable[[], T]) -> T:
    """work(), which runs check's user code (a whole check, or a look at one of its objects), under
    the check's deadline (user code may hang: one line after --timeout seconds). Whatever fails
    inside it (torch refusing what it returned, a tensor on the meta device) is that check's error,
    never the run's end; its objects are collected before its deadline ends (a __del__ that hangs is
    stopped there, not in a later check; one that calls os._exit is refused), and what it changed in
    the process is put back (isolation.py)."""
    import gc

    import invcheck.isolation  # imported before the deadline starts, not inside it
    from invcheck.impls.user_load import deadline, first_line, raised_at, release, user_error

    with deadline(check):
        try:
            with invcheck.isolation.kept():
                gc.freeze()  # what exists now is not this check's: the collection below sees its objects alone
                try:
                    return work()
                except BaseException as stopped:
                    where = raised_at(stopped)  # the user's line, read before its traceback goes
                    release(stopped)  # the check's objects die inside its deadline
                    if isinstance(stopped, Exception) and not isinstance(stopped, InvcheckError):
                        raise user_error(
                            check, f"could not be checked: {first_line(stopped)}{where}"
                        ) from None
                    raise
                finally:
                    try:
                        gc.collect()
                    finally:
                        gc.unfreeze()
        except InvcheckError:
            raise
        except Exception as exc:  # user code's failure as its objects were put back or collected
            raise user_error(check, f"could not be checked: {first_line(exc)}{raised_at(exc)}") from None


def _device_location(check: CheckConfig) -> str:
    from invcheck.spec import key_line

    line = key_line(check, "device")
    return f"{check.file}:{line}" if line else str(check.location)


class observe:
    """`with observe(callback):` calls callback after every check run in this process."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback

    def __enter__(self) -> None:
        _observers.append(self.callback)

    def __exit__(self, *exc: object) -> None:
        _observers.remove(self.callback)


def run_checks(checks: Sequence[CheckConfig], allow_import: bool = False) -> list:
    refuse_imports(checks, allow_import)
    return [run_check(c) for c in checks]


def error_result(check: CheckConfig, err: InvcheckError):  # -> evidence.Result
    """A check that could not be run, as a result: verdict "error", the one-line message as `why`."""
    from invcheck.evidence import Result

    message = str(err).splitlines()[0] if str(err) else type(err).__name__
    return Result(check, "error", None, None, None, message, device=check.device)


def run_or_error(check: CheckConfig, checked: bool = False):  # -> evidence.Result
    try:
        return run_check(check, checked)
    except InvcheckError as err:
        return error_result(check, err)


def results(
    checks: Sequence[CheckConfig], allow_import: bool = False, jobs: int = 1, checked: bool = False
) -> Iterator[Any]:
    """Each check's Result in spec order, yielded as soon as it and all before it are done
    (`checked`: as run_check's)."""
    refuse_imports(checks, allow_import)
    if jobs <= 1:  # in this process (a single check under --jobs 2 still gets a worker: a crash is its own)
        yield from (run_or_error(c, checked) for c in checks)
        return
    for result in _in_workers(checks, jobs, checked):
        for observe_ in _observers:
            observe_()
        yield result


def _in_workers(checks: Sequence[CheckConfig], jobs: int, checked: bool = False) -> Iterator[Any]:
    """run_or_error of each check in a worker process of its own, in spec order (workers.py: what
    user code does to the channel, or a crash, is its own check's error)."""
    from functools import partial

    from invcheck.workers import in_workers

    # fork: workers inherit the imported modules (torch takes seconds to import) and no op has run
    # yet in this process, so no thread pool is copied half-way.
    parent = os.getpid()
    yield from in_workers(
        checks, jobs, partial(run_or_error, checked=checked), partial(_worker_start, parent), error_result
    )


def _worker_start(parent: int) -> None:
    """A worker ends with the process that started it, however that one ends (SIGTERM from a CI
    runner, SIGPIPE from `| head`): no orphans holding a torch's worth of memory."""
    import signal

    # first: Ctrl-C reaches the whole group, and the parent ends the workers (an import below,
    # interrupted, would print its traceback)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from invcheck import isolation
    from invcheck.impls import user_load

    isolation.adopt()
    isolation.end_workers_promptly()
    _observers.clear()
    user_load.HARD_EXIT_STATUS = user_load.WORKER_HARD_EXIT  # told apart from a crash
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it ended before the line above: nothing would kill this one
        _hard_exit(0)


@dataclass
class RunReport:
    results: list  # evidence.Result
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> int:
        return sum(r.expected is True for r in self.results)

    @property
    def failed(self) -> int:
        return sum(r.expected is False and r.verdict != "error" for r in self.results)

    @property
    def errors(self) -> int:
        return sum(r.verdict == "error" for r in self.results)


def run_meta() -> dict[str, Any]:
    import torch

    from invcheck.version import __version__

    return {"invcheck_version": __version__, "torch_version": torch.__version__}


def run_report(checks: Sequence[CheckConfig], allow_import: bool = False, jobs: int = 1) -> RunReport:
    meta = run_meta()
    return RunReport(list(results(checks, allow_import, jobs)), meta)
