"""Descriptors invcheck keeps while user code runs, out of its way: user code that writes junk into,
or closes, the descriptors it sees (`os.closerange(3, 256)`) does not reach these."""

from __future__ import annotations

import os

HIGH = 1000  # above what user code plausibly touches (kept below the process's descriptor limit)


def dup_high(fd: int) -> int:
    """A close-on-exec copy of `fd` at the lowest free descriptor from HIGH up (lower where the
    descriptor limit is lower)."""
    import fcntl
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, min(HIGH, max(soft - 64, 3)))


def move_high(fd: int) -> int:
    """`fd` moved to a copy of it from dup_high (the original closed)."""
    high = dup_high(fd)
    os.close(fd)
    return high
