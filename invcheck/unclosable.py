"""sys.stdout and sys.stderr as user code sees them while it runs: the stream itself for everything
(`print`, `write`, `fileno()`, `isatty()`, `.buffer`), except that closing it only flushes it.

Under the pytest plugin sys.stdout is pytest's capture of stderr while user code runs
(impls/user_load.guarded): a layer's `sys.stdout.close()` closed it, and pytest ended the whole
session ("lost sys.stderr"), no test reported. A layer cannot close invcheck's or pytest's stream
through `sys.stdout`, `sys.stderr`, their `.buffer`, `detach()` or a `with sys.stdout:` block.
"""

from __future__ import annotations

import contextlib
from typing import Any


class Unclosable:
    """A stream whose close() flushes and leaves it open; every other attribute is the stream's."""

    __slots__ = ("_stream",)

    def __init__(self, stream: Any) -> None:
        object.__setattr__(self, "_stream", stream)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.flush()

    def detach(self) -> Unclosable:
        """The buffer, as detach returns it, but left attached: the stream stays usable."""
        return Unclosable(self._stream.buffer)

    @property
    def buffer(self) -> Unclosable:
        return Unclosable(self._stream.buffer)

    @property
    def raw(self) -> Unclosable:
        return Unclosable(self._stream.raw)

    def write(self, text: Any) -> Any:
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def fileno(self) -> int:
        return int(self._stream.fileno())

    def isatty(self) -> bool:
        return bool(self._stream.isatty())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._stream, name, value)

    def __enter__(self) -> Unclosable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Any:
        return iter(self._stream)

    def __repr__(self) -> str:
        return repr(self._stream)


# Each stream's Unclosable, kept alive (the last few streams'): `print` holds sys.stdout without a
# reference of its own (CPython 3.11), so a thread user code started, printing while sys.stdout is
# put back, would use an Unclosable freed under it (a segfault).
_KEPT: dict[int, tuple[Any, Unclosable]] = {}
_MOST = 16


def unclosable(stream: Any) -> Any:
    """`stream` behind an Unclosable, the same one for the same stream (None and an Unclosable as
    they are)."""
    if stream is None or isinstance(stream, Unclosable):
        return stream
    kept = _KEPT.get(id(stream))
    if kept is None or kept[0] is not stream:
        if len(_KEPT) >= _MOST:  # pytest's capture: a stream per test
            del _KEPT[next(iter(_KEPT))]
        kept = _KEPT[id(stream)] = (stream, Unclosable(stream))
    return kept[1]
