"""pytest items for the `scan:` entries of a `*.invcheck.yaml` file: one item per entry, so that
pytest-xdist spreads a zoo of models over its workers. Imported by the plugin only for a spec file
that has scan entries.

An item errs (in setup) where its entry cannot run: import not allowed, a factory that fails, a glob
that matches no parameter; it fails where a verdict differs from its `expect:`, one line per tensor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from invcheck.errors import InvcheckError
from invcheck.scan.spec import Outcome, ScanEntry


class ScanMismatch(AssertionError):
    """Expected verdicts that did not hold; the message lists them."""


def scan_items(parent: pytest.File, names: set[str]) -> Iterator[pytest.Item]:
    """The items of `parent`'s scan entries (the file already loaded without error); `names` are
    the ids its checks took, so that a scan's id is unique among them."""
    from invcheck.pytest_plugin import _shown
    from invcheck.scan.spec import item_names, load_file

    found = load_file(_shown(parent.path))
    for entry, name in zip(found, item_names(found, names)):
        yield ScanItem.from_parent(parent, name=name, entry=entry)


class ScanItem(pytest.Item):
    """One scan entry: scan the model, compare the verdicts with `expect:`."""

    invcheck_one_line = True  # the plugin reports an error in setup as its one line

    def __init__(self, *, entry: ScanEntry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entry = entry
        self.outcome: Outcome | None = None
        self.add_marker("invcheck_user_code")

    def setup(self) -> None:
        from invcheck.pytest_plugin import _allow_import, _importable_from, _show_a_hard_stop
        from invcheck.scan.spec import refused, run_entry

        if not _allow_import(self.config, self.path):
            raise refused(self.entry, "--invcheck-allow-import")
        _show_a_hard_stop(self.config)  # a factory past its deadline: its line reaches the terminal
        with _importable_from(self.path):
            self.outcome = run_entry(self.entry)

    def runtest(self) -> None:
        assert self.outcome is not None
        if self.outcome.mismatches:
            raise ScanMismatch("\n".join(self.outcome.mismatches))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, (ScanMismatch, InvcheckError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        line = self.entry.line - 1 if self.entry.line else None
        return self.path, line, f"invcheck: {self.name}"
