"""Whether a namespace changed since it was last seen, at the cost of one read where CPython can say so.

`isolation.kept` watches about 1,900 names in torch's namespaces around every call of user code:
copying and comparing them one by one took ~0.2 ms a call, most of a user layer's check. CPython
keeps a private version in every dict that changes whenever the dict does (PEP 509, made for such
guards; CPython 3.6 to 3.13). It is read here through ctypes, and checked at import on dicts of
our own: where it is not there or does not behave so (another Python), `version` is None and the
caller compares the names one by one, as before.
"""

from __future__ import annotations

import ctypes
import gc
import sys

# PyDictObject: PyObject_HEAD (reference count, type), ma_used, then ma_version_tag (a uint64)
_OFFSET = 2 * ctypes.sizeof(ctypes.c_void_p) + ctypes.sizeof(ctypes.c_ssize_t)


def _read(d: dict) -> int:
    return ctypes.c_uint64.from_address(id(d) + _OFFSET).value


def _behaves() -> bool:
    """The field changes with every change of a dict (a value rebound, a key added or removed) and
    only then, and two dicts never share it."""
    if sys.implementation.name != "cpython" or not (3, 6) <= sys.version_info[:2] <= (3, 13):
        return False
    d: dict[str, object] = {"a": 1}
    other = {"a": 1}
    seen = [_read(d)]
    d["a"] = 2
    seen.append(_read(d))
    d["b"] = 3
    seen.append(_read(d))
    del d["b"]
    seen.append(_read(d))
    alias = [d, d]  # new references to d: the reference count moves, the version must not
    unchanged = _read(alias[0]) == seen[-1]
    return unchanged and len(set(seen)) == len(seen) and _read(other) not in seen


_WORKS = _behaves()


def namespace(space: object) -> dict:
    """The dict behind `vars(space)` (a class's is behind a read-only proxy)."""
    names = vars(space)
    if isinstance(names, dict):
        return names
    inner = gc.get_referents(names)
    return inner[0] if len(inner) == 1 and isinstance(inner[0], dict) else dict(names)


def version(space: object) -> int | None:
    """The version of `vars(space)`: the same number means the same names bound to the same objects;
    None where this Python cannot say (compare the names)."""
    return _read(namespace(space)) if _WORKS else None
