"""Python objects the API takes as a check's norm or transform, beside import paths.

A norm may be a module instance (used as it is: deep-copied for each trial, never modified), any
callable a -> y (a function, a lambda, a functools.partial), or a class or factory called with
`kwargs`; a transform may be any callable (X, W, generator) -> (X', W'). Such an object lives in
this process only: a config that holds one says so in one line when something tries to send it
to `--jobs` workers (pickle). No torch here: `import invcheck` stays light.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from invcheck.display import clipped

if TYPE_CHECKING:
    from invcheck.settings import CheckConfig

# How invcheck uses the object: "instance" (an nn.Module, deep-copied per trial), "norm" (a
# callable a -> y, copied per trial), "factory" (a class or function called with kwargs),
# "transform" (a callable (X, W, generator) -> (X', W')).
HOWS = ("instance", "norm", "factory", "transform")


@dataclass(frozen=True, eq=False)  # eq=False: compared and hashed by identity, as the object itself
class UserObject:
    value: Any
    how: str
    label: str

    def __reduce__(self) -> Any:
        raise TypeError(
            f"{self.label} is a Python object of this process: it cannot travel to --jobs worker "
            "processes (give an import path 'pkg.mod:Name' to a module-level definition, or run in "
            "one process)"
        )

    def __copy__(self) -> UserObject:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> UserObject:
        return self


def user_code(check: CheckConfig) -> list[str]:
    """The user code a check runs: its norm's and its transform's module (import path or label)."""
    return [m for m in (check.norm.module, check.transform.module) if m is not None]


def imports_code(check: CheckConfig) -> list[str]:
    """The import paths a check would import (objects held by the caller import nothing)."""
    return [
        section.module
        for section in (check.norm, check.transform)
        if section.module is not None and section.obj is None
    ]


def is_module_instance(obj: Any) -> bool:
    """An nn.Module instance (torch is loaded when one exists: no import here)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def label(obj: Any) -> str:
    """What reports call an object: a module's repr, a function's name and where it is defined."""
    if is_module_instance(obj):
        text = " ".join(repr(obj).split())
        if len(text) <= 60:
            return text
        cut = text.rfind(", ", 0, 55)  # whole arguments: LayerNorm((8,), eps=1e-05, ...)
        return text[:cut] + ", ...)" if cut > 0 else clipped(text, 60)
    if isinstance(obj, functools.partial):
        return f"partial({label(obj.func)})"
    name = (getattr(obj, "__qualname__", None) or type(obj).__qualname__).rpartition("<locals>.")[2]
    code = getattr(obj, "__code__", None)
    if code is not None:
        return f"{name} ({os.path.basename(code.co_filename)}:{code.co_firstlineno})"
    return name


def short_name(obj: Any) -> str:
    """A transform's id from its function: its name (`<lambda>`, the wrapped function's for a partial)."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    name = getattr(obj, "__name__", None) or type(obj).__name__
    return name if name.isprintable() and "::" not in name else "custom"


def importable_path(obj: Any) -> str | None:
    """ "pkg.mod:Name" where importing that finds this very object (a module-level definition)."""
    qualname = getattr(obj, "__qualname__", None)
    module = getattr(obj, "__module__", None)
    if not isinstance(qualname, str) or not isinstance(module, str) or "<" in qualname:
        return None
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return f"{module}:{qualname}" if found is obj and module != "__main__" else None


def takes_no_arguments(obj: Any) -> bool:
    """Whether obj() can be called without arguments (a factory), by its signature."""
    try:
        inspect.signature(obj).bind()
    except TypeError:
        return False
    except ValueError:  # no signature (a builtin): not a factory invcheck can tell apart
        return False
    return True


def norm_object(obj: Any, kwargs: bool) -> tuple[str, UserObject | None]:
    """(module, object) for a norm given as a Python object: an import path where one finds it
    (the report and --jobs can use it), else a label and the object itself. `kwargs`: whether the
    call gave kwargs (then a callable is a factory: kwargs are what a factory is called with)."""
    if obj is None:
        raise TypeError(
            "norm is None: give a norm id ('layer_norm'), an import path ('pkg.mod:Name'), a class, "
            "a module instance or a callable a -> y"
        )
    if is_module_instance(obj):
        if kwargs:
            raise TypeError("kwargs apply to a class or factory; a module instance is used as it is")
        return label(obj), UserObject(obj, "instance", label(obj))
    if not callable(obj):
        raise TypeError(
            f"norm {obj!r:.60} is not a norm id, an import path, a class, a module instance or a callable"
        )
    factory = isinstance(obj, type) or kwargs or takes_no_arguments(obj)
    path = importable_path(obj)
    if factory:
        return (path, None) if path else (label(obj), UserObject(obj, "factory", label(obj)))
    return path or label(obj), UserObject(obj, "norm", path or label(obj))


def transform_object(obj: Any) -> tuple[str, str, UserObject | None]:
    """(id, module, object) for a transform given as a callable (X, W, generator) -> (X', W'): by
    its import path where one finds it, else held as it is."""
    if not callable(obj) or isinstance(obj, type) or is_module_instance(obj):
        raise TypeError(
            f"transform {obj!r:.60} is not a transform id nor a callable (X, W, generator) -> (X', W')"
        )
    path = importable_path(obj)
    if path:
        return short_name(obj), path, None
    return short_name(obj), label(obj), UserObject(obj, "transform", label(obj))


def features(instance: Any) -> int | None:
    """The number of features a module instance normalizes, where it says (weight, or the sizes
    torch's norms keep), else None."""
    weight = getattr(instance, "weight", None)
    if _uninitialized(weight):  # a lazy module (nn.LazyBatchNorm1d): its size comes from its first input
        return None
    shape = getattr(weight, "shape", None)
    if shape is not None and len(shape) == 1:
        return int(shape[0])
    for name in ("num_features", "num_channels"):
        value = getattr(instance, name, None)
        if isinstance(value, int) and value > 0:  # a lazy norm keeps 0 until it has seen an input
            return value
    normalized = getattr(instance, "normalized_shape", None)
    if isinstance(normalized, (tuple, list)) and len(normalized) == 1 and isinstance(normalized[0], int):
        return normalized[0]
    return None


def _uninitialized(value: Any) -> bool:
    """A lazy module's parameter, whose shape is not known (reading it raises)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    from torch.nn.parameter import is_lazy

    return isinstance(value, torch.Tensor) and is_lazy(value)
