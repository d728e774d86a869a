"""A transform of the user's own: a function (X, W, generator, **kwargs) -> (X', W'), as one more
Transform, so that it is drawn, run and judged exactly as the built-in ones.

Where it comes from: `transform: {module: "pkg.mod:fn", kwargs: {...}}` in a spec (imported with
the permission user layers need), or any callable given to the API. It is called once per trial
with that trial's X and W (float64, CPU, copies: in the layer kind's layout, X [N, D] and W [H, D]
for a dense layer, X [N, C_in, S, S] and W [C_out, C_in, k, k] for a conv) and the check's seeded
torch.Generator (draw from it, never from torch's global generator, so the check is reproducible).
It returns X' and W' of the same shapes; what it returns is the transformed pair, whether new tensors
or its inputs edited in place (the caller's X and W are never touched).
Where its signature takes `scale` (or `shift`), it is given the check's `scale` range (low, high)
(or `shift`): `invcheck sweep` pins the range to (δ, δ), so such a transform can be swept.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from invcheck.transforms.base import Transform

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from invcheck.layer_kinds import LayerKind
    from invcheck.settings import CheckConfig, TransformConfig

# TransformConfig fields a user transform may take as keywords of the same name.
KEYWORDS = ("scale", "shift")


@dataclass(frozen=True)
class UserTransform(Transform):
    """A Transform whose `apply` calls the user's function trial by trial."""

    fn: Any = None


def user_transform(cfg: TransformConfig, check: CheckConfig) -> UserTransform:
    """The user's transform of `cfg` (its function loaded or held), checked against the keys its
    check sets: a `scale` or `shift` the function takes no keyword for would be ignored silently."""
    subject = f"transform {cfg.module!r}"
    fn = cfg.obj.value if cfg.obj is not None else _load(check, cfg.module or "", subject)
    params = tuple(key for key in KEYWORDS if _takes(fn, key))
    default = type(cfg)()  # TransformConfig's defaults (settings is not imported by the registries)
    for key in (*KEYWORDS, "negative"):
        if key not in params and getattr(cfg, key) != getattr(default, key):
            raise _error(
                check,
                subject,
                f"{key} is set, but the function takes no `{key}` keyword"
                + ("" if key != "negative" else " (flip the sign in the function)"),
            )
    return UserTransform(
        id=cfg.id,
        target="user",
        apply=_applier(fn, check, subject),
        doc=f"(X', W') = {cfg.module}(X, W, generator)",
        label=cfg.id,
        params=params,
        fn=fn,
    )


def _load(check: CheckConfig, path: str, subject: str) -> Any:
    from invcheck.impls.user_load import load_path

    fn = load_path(check, path, subject)
    if not callable(fn) or isinstance(fn, type):
        raise _error(
            check, subject, f"names a {type(fn).__name__}, not a function (X, W, generator) -> (X', W')"
        )
    return fn


def _takes(fn: Any, key: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # no signature (a builtin): it takes what it is given
        return False
    return key in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _error(check: CheckConfig, subject: str, message: str) -> Exception:
    from invcheck.impls.user_load import user_error

    return user_error(check, message, subject)


def _applier(fn: Any, check: CheckConfig, subject: str) -> Any:
    def apply(
        x: Tensor, w: Tensor, cfg: TransformConfig, gen: torch.Generator, kind: LayerKind
    ) -> tuple[Tensor, Tensor]:

        from invcheck.impls.user_load import fill

        keywords = {
            **fill(check, dict(cfg.kwargs)),
            **{k: getattr(cfg, k) for k in KEYWORDS if _takes(fn, k)},
        }
        xs, ws = [], []
        for t in range(x.shape[0]):
            # copies: the function may change them in place; what it returns is the transformed
            # value whatever its identity (an input edited in place and returned is changed)
            x2, w2 = _called(fn, check, subject, x[t].clone(), w[t].clone(), gen, keywords)
            xs.append(_changed(x[t], x2))
            ws.append(_changed(w[t], w2))
        # an input whose values are unchanged stays the very tensor: the noise probe moves only
        # what changed
        return _stacked(x, xs), _stacked(w, ws)

    return apply


def _changed(original: Tensor, out: Tensor) -> Tensor | None:
    """`out` as float64 on the CPU, or None where its values equal the original's (decided by
    value, never by identity: the function may have edited its copy in place)."""
    import torch

    out = out.detach().to("cpu", torch.float64)
    return None if torch.equal(out, original) else out


def _stacked(original: Tensor, outs: list[Tensor | None]) -> Tensor:
    import torch

    if all(o is None for o in outs):
        return original
    return torch.stack([original[t] if o is None else o for t, o in enumerate(outs)])


def _called(
    fn: Any,
    check: CheckConfig,
    subject: str,
    x: Tensor,
    w: Tensor,
    gen: torch.Generator,
    keywords: dict[str, Any],
) -> tuple[Tensor, Tensor]:
    """fn(X, W, generator, **keywords), held to what a transform must return: (X', W'), tensors of
    X's and W's shapes."""
    import torch

    from invcheck.impls.user_load import USER_FAILURES, contained, first_line, guarded, raised_at

    what = f"X {list(x.shape)} and W {list(w.shape)}"
    try:
        with guarded():
            out = fn(x, w, gen, **keywords)
    except USER_FAILURES as exc:
        contained(exc)
        raise _error(
            check, subject, f"calling it on {what} raised {first_line(exc)}{raised_at(exc)}"
        ) from None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = f"a {type(out).__name__}" + (f" of {len(out)}" if isinstance(out, (tuple, list)) else "")
        raise _error(check, subject, f"called on {what}, it returned {got}: return the pair (X', W')")
    for name, new, old in (("X'", out[0], x), ("W'", out[1], w)):
        if not isinstance(new, torch.Tensor):
            raise _error(
                check,
                subject,
                f"called on {what}, it returned {name} as a {type(new).__name__}, not a tensor",
            )
        if tuple(new.shape) != tuple(old.shape):
            raise _error(
                check,
                subject,
                f"called on {what}, it returned {name} of shape {list(new.shape)}, expected {list(old.shape)}",
            )
        if not new.is_floating_point():
            raise _error(
                check, subject, f"called on {what}, it returned {name} as {new.dtype}, not a floating dtype"
            )
    return out[0], out[1]
