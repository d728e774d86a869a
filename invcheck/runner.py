"""Run checks: measure, then judge. The one place the CLI, the API and the pytest plugin go through."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from invcheck.errors import DeviceError, ImportRefused
from invcheck.settings import CheckConfig


def refuse_imports(checks: Iterable[CheckConfig], allowed: bool) -> None:
    """Importing user code runs it: without permission, refuse before anything runs."""
    if allowed:
        return
    for c in checks:
        if c.norm.module is not None:
            raise import_refused(c, "--allow-import")


def import_refused(check: CheckConfig, flag: str) -> ImportRefused:
    """The one refusal message, naming the flag of the caller (CLI or pytest) that allows it."""
    return ImportRefused(
        f"{check.location or '<spec>'}: module '{check.norm.module}' would import and run user code; "
        f"pass {flag} (or set allow-import = true under [tool.invcheck] in pyproject.toml)"
    )


def run_check(check: CheckConfig):  # -> verdict.Result (torch imported lazily)
    from invcheck.impls.user_load import deadline
    from invcheck.measure import measure
    from invcheck.verdict import judge

    try:
        if check.norm.module is None:
            return judge(measure(check))
        with deadline(check):  # user code may hang: one line after --timeout seconds
            return judge(measure(check))
    except DeviceError as err:  # located at the spec's `device:` line, as every error about a spec
        raise DeviceError(f"{_device_location(check)}: {err}") if check.file else err from None


def _device_location(check: CheckConfig) -> str:
    from invcheck.spec import key_line

    line = key_line(check, "device")
    return f"{check.file}:{line}" if line else str(check.location)


def run_checks(checks: Sequence[CheckConfig], allow_import: bool = False) -> list:
    refuse_imports(checks, allow_import)
    return [run_check(c) for c in checks]


@dataclass
class RunReport:
    results: list  # verdict.Result
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> int:
        return sum(r.expected is True for r in self.results)

    @property
    def failed(self) -> int:
        return sum(r.expected is False for r in self.results)


def run_report(checks: Sequence[CheckConfig], allow_import: bool = False) -> RunReport:
    import torch

    from invcheck import __version__

    results = run_checks(checks, allow_import)
    return RunReport(results, {"invcheck_version": __version__, "torch_version": torch.__version__})
