"""A progress bar on stderr for long work (`table`, `run`), only where stderr is a terminal.

The bar is transient (gone when the work is done). Lines written through it go to stdout as they
are; only when stdout is the same terminal are they printed above the bar (whole, never wrapped),
so that redirected reports stay clean.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Bar:
    """No bar: lines straight to stdout."""

    def advance(self, n: int = 1) -> None:
        pass

    def write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()


class _RichBar(Bar):
    def __init__(self, progress: Any, task: Any) -> None:
        self.progress, self.task = progress, task

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)
        self.progress.refresh()  # now: the lines printed above it redraw the last refresh's bar, not this one

    def write(self, text: str) -> None:
        if not sys.stdout.isatty():
            return super().write(text)
        from rich.text import Text

        for line in text.rstrip("\n").split("\n"):  # above the bar, one terminal line per line
            self.progress.console.print(Text.from_ansi(line), soft_wrap=True, highlight=False)


@contextmanager
def bar(what: str, total: int | None = None, enabled: bool = True) -> Iterator[Bar]:
    """`with bar("checks", 24) as b:` ... `b.advance()` after each unit of work, `b.write(line)`."""
    if not (enabled and sys.stderr.isatty()):
        yield Bar()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    count = MofNCompleteColumn() if total else TextColumn("{task.completed}")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), count, TimeElapsedColumn())
    with Progress(
        *columns, console=Console(stderr=True), transient=True, redirect_stdout=False, redirect_stderr=False
    ) as progress:
        yield _RichBar(progress, progress.add_task(what, total=total))
