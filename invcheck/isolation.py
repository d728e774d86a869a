"""What user code may change in the process that runs it, put back after each check of it.

User code runs inside invcheck's process: its constructor or forward may change the working
directory (`os.chdir`), torch's default device or dtype (`torch.set_default_device("meta")`), or
fork the process. None of that may reach the next check or the report: `kept` restores the first
two after each check (and after each call into user code), and a forked child never goes on to run
the rest of the run or write a report: it ends, silently, as soon as the user code that forked it
returns to invcheck.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

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
    try:
        yield
    finally:
        exit_if_forked()
        if cwd is not None:
            with contextlib.suppress(OSError):
                os.fchdir(cwd)
            os.close(cwd)
        if torch is not None and defaults is not None:
            if torch.get_default_dtype() != defaults[0]:
                torch.set_default_dtype(defaults[0])
            if _default_device(torch) != defaults[1]:
                torch.set_default_device(defaults[1])


def _default_device(torch: object) -> object:
    return torch.get_default_device()  # type: ignore[attr-defined]
