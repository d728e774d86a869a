"""Run checks: measure, then judge. The one place the CLI, the API and the pytest plugin go through.

`results` is what `invcheck run` streams: every check's Result in spec order, each as soon as it
and all before it are done, in this process or in `jobs` worker processes. A check that cannot be
run (bad user code, a missing device: an InvcheckError) becomes an `error` Result and the others
still run.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from invcheck.errors import DeviceError, ImportRefused, InvcheckError
from invcheck.settings import CheckConfig

_observers: list[Callable[[], None]] = []  # called after each check (progress bars)


def refuse_imports(checks: Iterable[CheckConfig], allowed: bool) -> None:
    """Importing user code runs it: without permission, refuse before anything runs."""
    if allowed:
        return
    for c in checks:
        if c.norm.module is not None:
            raise import_refused(c, "--allow-import", Path.cwd())


def import_refused(check: CheckConfig, flag: str, anchor: Path | None = None) -> ImportRefused:
    """The one refusal message, naming the flag of the caller (CLI or pytest) that allows it; where
    the spec lies in a project of its own (not the one at `anchor`, the working folder or pytest's
    rootdir), why that project's setting does not count."""
    hint = "or set allow-import = true under [tool.invcheck] in pyproject.toml"
    if check.file and anchor is not None:
        from invcheck.project_config import find_pyproject, shown

        own = find_pyproject(Path(check.file))
        if own is not None and own != find_pyproject(anchor):
            hint = (f"or set allow-import = true in the pyproject.toml of the project you run from: {shown(own)} "
                    "makes the spec's folder a project of its own, which cannot grant itself permission")
    return ImportRefused(
        f"{check.location or '<spec>'}: module '{check.norm.module}' would import and run user code; pass {flag} ({hint})"
    )


def run_check(check: CheckConfig):  # -> evidence.Result (torch imported lazily)
    from invcheck.impls.user_load import deadline
    from invcheck.measure import measure
    from invcheck.verdict import judge

    try:
        # user code may hang: one line after --timeout seconds
        with deadline(check) if check.norm.module else contextlib.nullcontext():
            result = judge(measure(check))
    except DeviceError as err:  # located at the spec's `device:` line, as every error about a spec
        raise DeviceError(f"{_device_location(check)}: {err}") if check.file else err from None
    for observe_ in _observers:
        observe_()
    return result


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


def run_or_error(check: CheckConfig):  # -> evidence.Result
    try:
        return run_check(check)
    except InvcheckError as err:
        return error_result(check, err)


def results(checks: Sequence[CheckConfig], allow_import: bool = False, jobs: int = 1) -> Iterator[Any]:
    """Each check's Result in spec order, yielded as soon as it and all before it are done."""
    refuse_imports(checks, allow_import)
    if jobs <= 1 or len(checks) <= 1:
        yield from (run_or_error(c) for c in checks)
        return
    import multiprocessing  # here: 10 ms of start-up that one process never needs
    from concurrent.futures import ProcessPoolExecutor

    # fork: workers inherit the imported modules (torch takes seconds to import) and no op has run
    # yet in this process, so no thread pool is copied half-way.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(min(jobs, len(checks)), mp_context=context, initializer=_observers.clear) as pool:
        futures = [pool.submit(run_or_error, c) for c in checks]
        for future in futures:
            result = future.result()
            for observe_ in _observers:
                observe_()
            yield result


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

    from invcheck import __version__

    return {"invcheck_version": __version__, "torch_version": torch.__version__}


def run_report(checks: Sequence[CheckConfig], allow_import: bool = False, jobs: int = 1) -> RunReport:
    meta = run_meta()
    return RunReport(list(results(checks, allow_import, jobs)), meta)
