"""A progress bar on stderr for long work (`table`, `run`), only where stderr is a terminal.

The bar is transient (gone when the work is done) and never touches stdout when stdout is a pipe or
a file, so that redirected reports stay clean.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def bar(what: str, total: int | None = None, enabled: bool = True) -> Iterator[Callable[[], None]]:
    """`with bar("checks", 24) as advance:` ... `advance()` after each unit of work."""
    if not (enabled and sys.stderr.isatty()):
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
    from rich.progress import TimeElapsedColumn

    count = MofNCompleteColumn() if total else TextColumn("{task.completed}")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), count, TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True,
                  redirect_stdout=sys.stdout.isatty(), redirect_stderr=False) as progress:
        task = progress.add_task(what, total=total)
        yield lambda: progress.advance(task)
