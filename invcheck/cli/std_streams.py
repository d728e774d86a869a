"""Standard streams for the command line: descriptors 0-2 are never left free for a report file to
take, and stderr is only ever the messenger: a message it cannot take (`2>&-`, `2>/dev/full`) is
lost, silently, and the run keeps its own exit code and writes its reports."""

from __future__ import annotations

import contextlib
import os
from typing import Any, TextIO


def occupy_free_descriptors() -> None:
    """Descriptors 0, 1 and 2 that were closed at the start (`2>&-`) point at /dev/null: the next
    file opened (a report's temporary file) would otherwise become this process's stderr. Python
    has already made sys.stdout/sys.stderr None for them: a closed stdout still says so."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                null = os.open(os.devnull, os.O_RDWR)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)


class QuietStderr:
    """sys.stderr whose writes that fail are dropped: a message is never worth the run."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if self._stream is not None:
                self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if self._stream is not None:
                self._stream.flush()

    def isatty(self) -> bool:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            return bool(self._stream is not None and self._stream.isatty())
        return False

    def __getattr__(self, name: str) -> Any:
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)
