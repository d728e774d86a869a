"""invcheck: verify the invariance properties of normalization layers by computation.

Importing the package is cheap (no torch); the Python API is loaded on first use.
"""

from __future__ import annotations

from typing import Any

from invcheck.version import __version__

_API = ("invariance_error", "assert_invariant", "assert_not_invariant", "set_timeout")


def __getattr__(name: str) -> Any:
    if name in _API:
        from invcheck import api

        return getattr(api, name)
    raise AttributeError(f"module 'invcheck' has no attribute {name!r}")


__all__ = ["__version__", *_API]
