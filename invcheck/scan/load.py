"""`MODULE:FACTORY` for `invcheck scan`: a module path (`pkg.models:build`) or a Python file
(`examples/scan_resnet.py:build`), imported as a `module:` norm is (user_load.py: the working
directory appended to sys.path, prints kept off stdout, one-line errors, the deadline), the factory
called with --kwargs. It returns a model, or (model, inputs).

Torch is imported only to check what the factory returned.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from invcheck.errors import InvcheckError
from invcheck.settings import CheckConfig, NormConfig


def check_for(target: str) -> CheckConfig:
    """The CheckConfig user_load's messages and deadline name the target by."""
    return CheckConfig(norm=NormConfig(module=target))


def load_factory(target: str) -> Any:
    """The callable `target` names (a file path or a module path, then `:name`, name may be dotted)."""
    from invcheck.impls import user_load

    path, sep, attr = target.rpartition(":")
    if not sep or not path or not attr:
        raise InvcheckError(
            f"{target!r} names no factory: write it as 'package.module:factory' or 'file.py:factory'"
        )
    if not path.endswith(".py"):
        return user_load.load(check_for(target))
    check = check_for(target)
    module = _import_file(check, Path(path))
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = [n for n in dir(obj) if not n.startswith("_")]
            raise user_load.user_error(
                check,
                f"{path!r} has no attribute {part!r} (it has: {', '.join(public[:12]) or 'nothing public'})",
            )
        obj = getattr(obj, part)
    return obj


def _import_file(check: CheckConfig, path: Path) -> Any:
    from invcheck.impls import user_load

    if not path.is_file():
        raise user_load.user_error(
            check, f"no file {str(path)!r} (relative to the working directory {Path.cwd()})"
        )
    resolved = path.resolve()
    name = f"invcheck_scan_{resolved.stem}_{abs(hash(str(resolved))) % 10**8}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise user_load.user_error(check, f"{str(path)!r} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    folder = str(resolved.parent)
    if folder not in sys.path:  # its own helpers import from beside it; appended: never shadowing
        sys.path.append(folder)
    try:
        with user_load.guarded():
            spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise user_load.user_error(check, f"syntax error in {path}:{exc.lineno}: {exc.msg}") from None
    except user_load.USER_FAILURES as exc:
        del sys.modules[name]
        user_load.contained(exc)
        raise user_load.user_error(
            check, f"importing {str(path)!r} raised {user_load.first_line(exc)}{user_load.raised_at(exc)}"
        ) from None
    return module


def build(
    target: str, kwargs: dict[str, Any] | None = None, first: Callable[[], None] | None = None
) -> tuple[Any, Any]:
    """(model, inputs or None): the factory called with kwargs. One deadline covers `first` (the
    command line's torch import), importing the factory's code and calling it: a timeout of 15 s
    ends near 15 s after the command started, not after torch's import and the file's."""
    from invcheck.impls import user_load

    check = check_for(target)
    shown = f"{target.rpartition(':')[2]}({', '.join(f'{k}={v!r}' for k, v in (kwargs or {}).items())})"
    with user_load.deadline(check):
        if first is not None:
            first()
        from torch import nn

        user_load.make_importable(check)
        factory = load_factory(target)
        if not callable(factory) or isinstance(factory, nn.Module):
            raise user_load.user_error(
                check, f"names a {type(factory).__name__}, not a factory function or class"
            )
        try:
            with user_load.guarded():
                made = factory(**(kwargs or {}))
        except user_load.USER_FAILURES as exc:
            user_load.contained(exc)
            if isinstance(exc, InvcheckError):
                raise
            raise user_load.user_error(
                check, f"{shown} failed: {user_load.first_line(exc)}{user_load.raised_at(exc)}"
            ) from None
    model, inputs = made if isinstance(made, tuple) and len(made) == 2 else (made, None)
    if not isinstance(model, nn.Module):
        raise user_load.user_error(
            check, f"{shown} returned a {type(model).__name__}, not a torch.nn.Module (or (model, inputs))"
        )
    return model, inputs


def draw_inputs(shape: tuple[int, ...], seed: int) -> Any:
    """Inputs of `shape` where the factory gives none: N(0, 1), float32, seeded."""
    import torch

    gen = torch.Generator().manual_seed(seed ^ 0x1A9)
    return torch.randn(shape, generator=gen)
