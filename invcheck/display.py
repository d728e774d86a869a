"""How a user's paths and values appear in one-line messages: one helper for each (no torch here)."""

from __future__ import annotations

import os
from typing import Any


def shown_path(
    path: str | os.PathLike[str], *, relative: bool = True, parents: bool = False, limit: int | None = None
) -> str:
    """A user's path as a message shows it: relative to the working directory where it lies below it
    (`parents`: wherever it lies, `../` leading), else as given (`relative=False`: always as given);
    undecodable bytes escaped, never an encoding error; longer than `limit`, its start and its end.
    A name in angle brackets ("<stdin>") is no path: as given."""
    text = os.fspath(path)
    if relative and not text.startswith("<"):
        try:
            near = os.path.relpath(text)
        except ValueError:  # another drive (Windows)
            near = text
        if parents or not (near == os.pardir or near.startswith(os.pardir + os.sep)):
            text = near
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if limit is not None and len(text) > limit:
        tail = limit // 2
        text = text[: limit - tail - 3] + "..." + text[-tail:]
    return text


def clipped(text: str, limit: int = 60) -> str:
    """`text` cut to `limit` characters, '...' marking the cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_repr(value: Any, limit: int = 60) -> str:
    """repr(value) for a one-line message, at most about `limit` characters: a long string is cut
    before it is quoted (its quotes stay whole), anything else after."""
    if isinstance(value, str) and len(repr(value)) > limit:
        return repr(value[: limit - 3]) + "..."
    return clipped(repr(value), limit)
