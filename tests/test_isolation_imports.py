"""What imports go through is put back after a check of user code (isolation.kept): a layer that sets
`sys.modules['json'] = None`, or puts a finder first on sys.meta_path that refuses invcheck's own
modules, made the report's writer or the next check fail (exit 3, no report). Modules the code
imported for itself stay."""

from __future__ import annotations

import importlib.abc
import json
import sys
import types
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from invcheck import api  # noqa: E402


class Refuses(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name.startswith(("invcheck", "json", "xml")):
            raise ImportError(f"hijacked {name}")
        return None


def _meddles(a: Any) -> Any:
    sys.modules["json"] = None  # type: ignore[assignment]
    sys.modules["xml.etree.ElementTree"] = None  # type: ignore[assignment]
    sys.modules.pop("invcheck.impls.reference", None)
    sys.modules["users_own_module"] = types.ModuleType("users_own_module")
    sys.meta_path.insert(0, Refuses())
    sys.path_hooks.insert(0, lambda path: (_ for _ in ()).throw(ImportError(path)))
    return a / a.norm(dim=-1, keepdim=True)


def test_sys_modules_meta_path_and_path_hooks_are_put_back_after_a_check() -> None:
    modules, meta, hooks = dict(sys.modules), list(sys.meta_path), list(sys.path_hooks)
    try:
        assert api.invariance_error(_meddles, "case_rescale", trials=2).verdict == "invariant"
        assert sys.modules["json"] is json and sys.meta_path == meta and sys.path_hooks == hooks
        assert sys.modules.get("invcheck.impls.reference") is modules.get("invcheck.impls.reference")
        assert "xml.etree.ElementTree" not in sys.modules or sys.modules["xml.etree.ElementTree"] is not None
        assert "users_own_module" in sys.modules  # the code's own module stays
        assert api.invariance_error("layer_norm", "dataset_rescale", trials=2).verdict == "invariant"
    finally:  # on failure, leave the session's other tests a working import system
        sys.meta_path[:], sys.path_hooks[:] = meta, hooks
        sys.modules.update({k: v for k, v in modules.items() if sys.modules.get(k) is not v})
        for name in ("users_own_module", "xml.etree.ElementTree"):
            if name not in modules:
                sys.modules.pop(name, None)
