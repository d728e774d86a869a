"""invcheck: verify the invariance properties of normalization layers by computation.

    import invcheck
    invcheck.assert_invariant(torch.nn.LayerNorm(16), "dataset_rescale")

Importing the package is cheap (no torch): each public name is loaded on first use (module
`__getattr__`), and `dir(invcheck)` lists them for editors and completion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invcheck.version import __version__

# public name -> the module that defines it, imported on first use. `check` stays in invcheck.api:
# the submodule invcheck.check would shadow it here.
_LAZY: dict[str, str] = {
    "invariance_error": "invcheck.api",
    "assert_invariant": "invcheck.api",
    "assert_not_invariant": "invcheck.api",
    "layer_row": "invcheck.api",
    "set_timeout": "invcheck.api",
    "InvcheckError": "invcheck.errors",
    "InvarianceError": "invcheck.errors",
    "SpecError": "invcheck.errors",
    "UserCodeError": "invcheck.errors",
    "CheckConfig": "invcheck.settings",
    "NormConfig": "invcheck.settings",
    "TransformConfig": "invcheck.settings",
    "LayerConfig": "invcheck.settings",
}

# submodules a user reaches as attributes of the package (`invcheck.api.layer_row(...)`, as the docs
# write it), imported on first use
_SUBMODULES = ("api",)

__all__ = [  # written out: type checkers and linters read the list itself
    "CheckConfig",
    "InvarianceError",
    "InvcheckError",
    "LayerConfig",
    "NormConfig",
    "SpecError",
    "TransformConfig",
    "UserCodeError",
    "__version__",
    "assert_invariant",
    "assert_not_invariant",
    "invariance_error",
    "layer_row",
    "set_timeout",
]

if TYPE_CHECKING:  # what editors and type checkers see; at run time, __getattr__ below
    from invcheck.api import (
        assert_invariant,
        assert_not_invariant,
        invariance_error,
        layer_row,
        set_timeout,
    )
    from invcheck.errors import InvarianceError, InvcheckError, SpecError, UserCodeError
    from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # once: later lookups skip this function
        return value
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"invcheck.{name}")  # which sets it here too
    raise AttributeError(f"module 'invcheck' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public API (what `import invcheck` offers an editor), not the submodules loaded so far."""
    return sorted(__all__)
