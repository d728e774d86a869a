"""User code as a check's norm or layer: `module: "pkg.mod:Name"`, `kwargs`, `role`, `weight`.

- role "norm": the object maps summed inputs a -> y, in the layout a torch user expects (the layer
  kind's `to_user`: [N, H] dense, [N, C, S', S'] conv or [N, S', S', C] channels-last, [N, S, H] tokens).
- role "layer": the object owns its weights and maps X -> y. Its parameter `weight` (a dotted
  path, e.g. "linear.weight" or "linear.parametrizations.weight.original1") is W: the check
  writes each trial's W (or W') into it before every call.
Name is a class or a factory function, called with kwargs (placeholders filled, user_load.py).
One instance per trial, each built under its own seed (torch's RNG forked, so the caller's is
untouched): a stateful norm keeps per-trial state, as the reference's trials are independent.
An nn.Module is cast to the checked dtype and device, and put in check.norm.mode (eval: the
warm-up batches pass through it in train mode first, with the original W).
eps: the largest `eps`, `variance_epsilon` or `epsilon` (or the spec's `eps_attr`) of the object or
its submodules (None, as RMSNorm's: finfo of the compute dtype); `eps_off` sets them to 0, so
that eps's effect is measured. gain = the module's parameter `weight` when its first axis has C
entries (role norm; max |.| over any further axes), else ones.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any

import torch
from torch import nn

from invcheck import tolerance as tol
from invcheck.evidence import EpsInfo
from invcheck.impls.base import Draw, Forward, Tensor
from invcheck.impls.user_load import (
    USER_FAILURES,
    construct,
    contained,
    fill,
    first_line,
    guarded,
    load,
    raised_at,
    user_error,
)
from invcheck.norms.base import opmath
from invcheck.placements import spread_guard
from invcheck.settings import CheckConfig


def build(
    check: CheckConfig,
    draw: Draw,
    dtype: torch.dtype,
    device: torch.device,
    eps_off: bool = False,
    eps_dtype: torch.dtype | None = None,
) -> Forward:
    factory, kwargs = load(check), fill(check, check.norm.kwargs)
    objs = [_instance(check, factory, kwargs, t, dtype, device) for t in range(check.trials)]
    weights = [_weight(check, o) for o in objs] if check.norm.role == "layer" else []
    # eps off: a zero spread gives NaN, as the definition's 0/0, where the norm's label names its statistics
    guard = spread_guard(check.layer, check.norm.id, check.norm) if eps_off else (lambda fn: fn)

    states: list[_State | None] = []  # each object's buffers as the calls below must find them

    def fn(x: Tensor, w: Tensor) -> Tensor:  # [T', N, C, *pos]; trial t' runs trial t' mod T's object
        if check.norm.role == "layer":
            return torch.stack(
                [
                    _run_layer(check, objs, weights, _restored(states, t % len(objs)), x[t], w[t])
                    for t in range(x.shape[0])
                ]
            )
        kind = check.layer.kind_spec
        return kind.run(
            check.layer,
            x,
            w,
            guard(
                lambda a: torch.stack(
                    [
                        _run_norm(check, objs[_restored(states, t % len(objs))], a[t])
                        for t in range(a.shape[0])
                    ]
                )
            ),
        )

    info = eps_info(check, objs[0], eps_dtype or dtype)
    if not eps_attributes(check, objs[0]) and not check.norm.eps_attr and not check.norm.eps:
        # no eps it keeps: the eps it passes to torch's norm functions (a lambda's F.layer_norm)
        found = _eps_in_calls(check, factory, kwargs, draw, dtype, device)
        if found is not None:
            info, fn = found[0], _with_eps(fn, found[1], eps_off, eps_dtype or dtype)
    for obj in objs:
        _set_eps(check, obj, tol.EPS_OFF if eps_off else None, eps_dtype or dtype)
    if check.norm.mode == "eval":
        _warm_up(check, objs, weights, draw, dtype, device)
    for obj in objs:
        if isinstance(obj, nn.Module):
            obj.train(check.norm.mode == "train")
    states.extend(_State.of(obj) for obj in objs)  # after the warm-up: the state it leaves is kept
    return Forward(fn, info, gain=_gain(check, objs))


class _State:
    """A module's buffers, snapshot once and written back before each call: every forward pass of a
    check starts from the same state, so f(W, X) and f(W', X') compare like with like. A train-mode
    forward moves some buffers in place (spectral_norm's power iteration `_u`, `_v`; BatchNorm's
    running statistics and num_batches_tracked): without this, each of a check's calls (both sides,
    every probe point, the eps-off run) saw another state (spectral_norm: sigma moved between the
    calls, read as rounding noise and an eps effect, and its invariant W rescale as inconclusive)."""

    def __init__(self, saved: list[tuple[dict[str, Tensor | None], str, Tensor]]) -> None:
        self.saved = saved
        self.seen: list[tuple[Tensor | None, int]] = [(None, -1)] * len(saved)  # each buffer as left

    @classmethod
    def of(cls, obj: Any) -> _State | None:
        """The object's state, or None where it keeps no buffers (nothing to restore: no cost)."""
        if not isinstance(obj, nn.Module):
            return None
        saved = [
            (mod._buffers, name, buf.detach().clone())
            for mod in obj.modules()
            for name, buf in mod._buffers.items()
            if buf is not None
        ]
        return cls(saved) if saved else None

    def restore(self) -> None:
        """Each buffer back at its snapshot, where a call since moved it: a tensor's version counter
        says whether it was written in place (an eval-mode BatchNorm's never are: nothing copied)."""
        with torch.no_grad():
            for i, (owner, name, value) in enumerate(self.saved):
                now = owner.get(name)
                if now is not None and now is self.seen[i][0] and now._version == self.seen[i][1]:
                    continue
                if now is not None and now.shape == value.shape and now.dtype == value.dtype:
                    now.copy_(value)
                else:  # replaced by forward (`self.buf = new`): a copy of the snapshot put back
                    now = owner[name] = value.clone()
                self.seen[i] = (now, now._version)


def _restored(states: list[_State | None], t: int) -> int:
    """Trial t's object's buffers back at their snapshot; t."""
    state = states[t] if t < len(states) else None
    if state is not None:
        state.restore()
    return t


# torch's functions that take an eps (keyword `eps` under __torch_function__): where user code calls
# one without keeping its eps in an attribute (a lambda around F.layer_norm), the eps is read from
# the call, and set to 0 in the eps-off run, as an attribute's would be.
def _eps_functions() -> frozenset[Any]:
    F = torch.nn.functional
    names = ("layer_norm", "group_norm", "batch_norm", "instance_norm", "rms_norm", "normalize")
    return frozenset(getattr(F, name) for name in names if hasattr(F, name))


class _EpsCalls(torch.overrides.TorchFunctionMode):
    """Records the eps of every call to one of torch's eps-taking functions, and replaces it by
    `new(eps)` where `new` is given."""

    def __init__(self, new: Any = None) -> None:
        super().__init__()
        self.new, self.functions = new, _eps_functions()
        self.seen: list[Any] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = dict(kwargs or {})
        if func in self.functions and "eps" in kwargs:
            self.seen.append((func.__name__, kwargs["eps"]))
            if self.new is not None:
                kwargs["eps"] = self.new(kwargs["eps"])
        return func(*args, **kwargs)


def _eps_in_calls(
    check: CheckConfig,
    factory: Any,
    kwargs: dict[str, Any],
    draw: Draw,
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[EpsInfo, list[tuple[str, Any]]] | None:
    """One call of a fresh instance on the first trial's inputs, its calls to torch's norm
    functions recorded: the largest eps they were given, or None where they were given none."""
    probe = _instance(check, factory, kwargs, 0, dtype, device)
    x, w = draw.x[:1].to(device, dtype), draw.w[:1].to(device, dtype)
    recorder = _EpsCalls()
    with recorder:
        if check.norm.role == "layer":
            _run_layer(check, [probe], [_weight(check, probe)], 0, x[0], w[0])
        else:
            kind = check.layer.kind_spec
            kind.run(check.layer, x, w, lambda a: torch.stack([_run_norm(check, probe, a[0])]))
    if not recorder.seen:
        return None
    values = [(_eps_value(eps, dtype), name) for name, eps in recorder.seen]
    value, name = max(values)
    return EpsInfo(value, f"read from its call to torch's {name}", switchable=True), recorder.seen


def _with_eps(fn: Any, seen: list[tuple[str, Any]], eps_off: bool, eps_dtype: torch.dtype) -> Any:
    """fn with every eps passed to torch's norm functions set to 0 (eps off) or, where it was None
    (torch's default for the dtype), to that default for `eps_dtype`, as _set_eps does."""
    if eps_off:
        new = lambda eps: tol.EPS_OFF  # noqa: E731
    elif any(eps is None for _, eps in seen):
        new = lambda eps: _eps_value(None, eps_dtype) if eps is None else eps  # noqa: E731
    else:
        return fn

    def run(x: Tensor, w: Tensor) -> Tensor:
        with _EpsCalls(new):
            return fn(x, w)

    return run


def probe_instance(check: CheckConfig) -> Any:
    """One instance as a check builds it (float64, CPU): what it keeps, before anything runs."""
    return _instance(
        check, load(check), fill(check, check.norm.kwargs), 0, torch.float64, torch.device("cpu")
    )


def _instance(
    check: CheckConfig,
    factory: Any,
    kwargs: dict[str, Any],
    trial: int,
    dtype: torch.dtype,
    device: torch.device,
) -> Any:
    """Trial `trial`'s object, built under a seed of its own, cast, its call signature checked."""
    devices = (
        [device.index if device.index is not None else torch.cuda.current_device()]
        if device.type == "cuda"
        else []
    )
    with torch.random.fork_rng(devices=devices):
        seed = (check.seed * 1_000_003 + trial) % (1 << 63)  # any seed the rules allow
        if devices:
            torch.manual_seed(seed)
        else:  # the CPU's generator alone: torch.manual_seed also queues a seed (and a stack) per accelerator
            torch.default_generator.manual_seed(seed)
        obj = construct(check, factory, kwargs)
        if isinstance(obj, nn.Module):
            obj = obj.to(device=device, dtype=dtype)
            if _is_lazy(obj):  # its parameters take their shapes from a first input: give it one first
                obj = _materialize(check, obj, dtype, device)
    if check.norm.role == "layer" and not isinstance(obj, nn.Module):
        raise user_error(check, f"role 'layer' needs an nn.Module that owns W, got a {type(obj).__name__}")
    _check_signature(check, obj)
    return obj


def _is_lazy(obj: nn.Module) -> bool:
    from torch.nn.parameter import is_lazy

    return any(is_lazy(t) for t in (*obj.parameters(), *obj.buffers()))


def _materialize(check: CheckConfig, obj: nn.Module, dtype: torch.dtype, device: torch.device) -> nn.Module:
    """A lazy module (nn.LazyBatchNorm1d, ...) after one dry forward pass on an input of the shape
    the check will give it, in eval mode (no running statistics learnt from it), so that its gain,
    eps and parameters can be read before anything is measured."""
    kind, layer = check.layer.kind_spec, check.layer
    gen = torch.Generator().manual_seed(check.seed)
    if check.norm.role == "layer":
        shape = kind.input_shape(layer)
        dry = kind.user_input(layer, torch.randn(shape, generator=gen, dtype=torch.float64))
    else:  # what the norm receives, where the placement puts it: [N, C, *positions] canonical
        shape = (layer.cases, layer.channels, *kind.norm_positions(layer))
        dry = kind.to_user(layer, torch.randn(shape, generator=gen, dtype=torch.float64))
    was = obj.training
    obj.eval()
    with torch.no_grad():
        call(check, obj, dry.to(device, dtype).contiguous(), None)
    obj.train(was)
    return obj.to(device=device, dtype=dtype)


def _check_signature(check: CheckConfig, obj: Any) -> None:
    target = obj.forward if isinstance(obj, nn.Module) else obj
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):  # a builtin without a signature: find out by calling
        return
    try:
        sig.bind(torch.empty(0))
    except TypeError:
        raise user_error(check, f"is not callable with one tensor: its signature is {sig}") from None


def _run_layer(
    check: CheckConfig, objs: list[Any], weights: list[Tensor], t: int, x: Tensor, w: Tensor
) -> Tensor:
    """One trial of a role "layer" module: W written into it, X -> y, back to the canonical layout."""
    kind, layer = check.layer.kind_spec, check.layer
    _set_weight(check, weights[t], w)
    expected = tuple(kind.to_user(layer, x.new_empty(kind.output_shape(layer))).shape)
    return kind.from_user(layer, call(check, objs[t], kind.user_input(layer, x), expected))


def _run_norm(check: CheckConfig, obj: Any, a: Tensor) -> Tensor:
    """One trial of a role "norm" object: a (in the layout users expect) -> y, canonical again."""
    kind, layer = check.layer.kind_spec, check.layer
    inp = kind.to_user(layer, a)
    return kind.from_user(layer, call(check, obj, inp, tuple(inp.shape)))


def call(check: CheckConfig, obj: Any, inp: Tensor, expected: tuple[int, ...] | None) -> Tensor:
    """obj(inp), held to what a norm must return: a tensor of the expected shape, dtype, device."""
    what = f"a {str(inp.dtype).removeprefix('torch.')} tensor {list(inp.shape)}"
    try:
        with guarded():
            y = obj(inp)
    except USER_FAILURES as exc:
        contained(exc)
        raise user_error(check, f"calling it on {what} raised {first_line(exc)}{raised_at(exc)}") from None
    if not isinstance(y, Tensor):
        hint = " (return the output tensor alone)" if isinstance(y, (tuple, list)) else ""
        raise user_error(check, f"called on {what}, it returned a {type(y).__name__}, not a tensor{hint}")
    if type(y) is not Tensor:  # a subclass's __torch_function__ would answer invcheck's own arithmetic
        y = _plain(check, what, y)  # (one that returns zeros for sub read any layer invariant)
    if expected is not None and tuple(y.shape) != expected:
        raise user_error(
            check, f"called on {what}, it returned shape {list(y.shape)}, expected {list(expected)}"
        )
    if y.layout != torch.strided:
        raise user_error(
            check, f"called on {what}, it returned a {y.layout} tensor, expected a dense (strided) one"
        )
    if y.dtype != inp.dtype:
        raise user_error(
            check, f"called on {what}, it returned {y.dtype}, expected {inp.dtype} (the input's dtype)"
        )
    if y.device != inp.device:
        raise user_error(
            check, f"called on {what}, it returned a tensor on {y.device}, expected {inp.device}"
        )
    return y


def _plain(check: CheckConfig, what: str, y: Tensor) -> Tensor:
    """A tensor subclass's data as a plain tensor, none of its methods run."""
    try:
        with torch._C.DisableTorchFunctionSubclass():
            return Tensor.as_subclass(y, Tensor)
    except Exception as exc:  # a wrapper subclass without storage of its own
        raise user_error(
            check,
            f"called on {what}, it returned a {type(y).__name__} that is no plain tensor: {first_line(exc)}",
        ) from None


# role "layer": the parameter that is W ------------------------------------------------------------


def _weight(check: CheckConfig, obj: nn.Module) -> Tensor:
    """The parameter named by `weight`, checked to have W's shape."""
    path = check.norm.weight
    try:
        p = obj.get_parameter(path)
    except AttributeError:
        raise user_error(check, f"has no parameter {path!r} ({_parameter_hint(obj, path)})") from None
    expected = check.layer.kind_spec.weight_shape(check.layer)
    if tuple(p.shape) != expected:
        raise user_error(check, f"parameter {path!r} has shape {list(p.shape)}, but W is {list(expected)}")
    return p


def _parameter_hint(obj: nn.Module, path: str) -> str:
    names = [n for n, _ in obj.named_parameters()]
    owner, _, leaf = path.rpartition(".")
    try:
        sub = obj.get_submodule(owner) if owner else obj
    except AttributeError:
        sub = None
    if sub is not None and leaf in getattr(sub, "parametrizations", {}):
        names = [n for n in names if n.startswith(f"{owner + '.' if owner else ''}parametrizations.{leaf}.")]
        return f"{path!r} is computed by a parametrization; name one of its originals: {', '.join(names)}"
    return "its parameters: " + (", ".join(names) if names else "none")


def _set_weight(check: CheckConfig, p: Tensor, w: Tensor) -> None:
    with torch.no_grad():
        p.copy_(w.to(p.dtype))


# eval mode, eps and gain --------------------------------------------------------------------------


def _warm_up(
    check: CheckConfig,
    objs: list[Any],
    weights: list[Tensor],
    draw: Draw,
    dtype: torch.dtype,
    device: torch.device,
) -> None:
    """Warm-up batches through the original W, each module in train mode (running statistics)."""
    for obj in objs:
        if isinstance(obj, nn.Module):
            obj.train(True)
    w = draw.w.to(device, dtype)
    kind = check.layer.kind_spec
    for x in draw.warmup:  # [T, N, ...]
        x = x.to(device, dtype)
        if check.norm.role == "layer":
            for t in range(len(objs)):
                _run_layer(check, objs, weights, t, x[t], w[t])
        else:
            kind.run(
                check.layer,
                x,
                w,
                lambda a: torch.stack([_run_norm(check, objs[t], a[t]) for t in range(len(objs))]),
            )


# Where layers keep their eps: torch's and most libraries' `eps`, transformers' `variance_epsilon`.
EPS_NAMES = ("eps", "variance_epsilon", "epsilon")


def eps_attributes(check: CheckConfig, obj: Any, numbers_only: bool = True) -> list[tuple[Any, str, str]]:
    """(owner, attribute, dotted path) of every eps the object or its submodules keep: the spec's
    `eps_attr` (a name, or a dotted path from the object), else the usual names (with
    `numbers_only` False, also those that hold no number)."""
    wanted = check.norm.eps_attr
    owners = list(obj.named_modules()) if isinstance(obj, nn.Module) else [("", _owner(obj))]
    if wanted and "." in wanted:
        path, _, name = wanted.rpartition(".")
        owners = [(p, m) for p, m in owners if p == path]
    names = (wanted.rpartition(".")[2],) if wanted else EPS_NAMES
    found = []
    for path, owner in owners:
        for name in names:
            value = getattr(owner, name, _ABSENT)
            if value is not _ABSENT and (_is_eps(value) or not numbers_only):
                found.append((owner, name, f"{path}.{name}" if path else name))
    return found


def _no_number(check: CheckConfig, obj: Any) -> str | None:
    """'`eps` is a str ('1e-5')': the first eps attribute the layer has that holds no number (an eps
    kept as a string, or as a tensor of several entries, was told 'no eps attribute found')."""
    for owner, name, path in eps_attributes(check, obj, numbers_only=False):
        value = getattr(owner, name, None)
        if _is_eps(value):
            continue
        if isinstance(value, Tensor):
            what = f"a {str(value.dtype).removeprefix('torch.')} tensor of shape {list(value.shape)}"
        elif isinstance(value, str):
            what = f"a str ({value[:40]!r})"
        else:
            what = f"a {type(value).__name__}"
        return f"`{path}` is {what}, not a number (a float, or a floating tensor of one entry)"
    return None


_ABSENT = object()


def _owner(obj: Any) -> Any:
    """Where a callable keeps its eps: a partial's keywords (or its function's default), as attributes."""
    return _Keywords(obj) if isinstance(obj, functools.partial) else obj


class _Keywords:
    """A partial's keyword arguments as attributes: `eps` read from its keywords, else from the
    default in its signature (F.layer_norm's 1e-5), and set (switched off) in its keywords."""

    def __init__(self, fn: functools.partial[Any]) -> None:
        object.__setattr__(self, "_fn", fn)

    def __getattr__(self, name: str) -> Any:
        fn = object.__getattribute__(self, "_fn")
        if name in fn.keywords:
            return fn.keywords[name]
        try:
            param = inspect.signature(fn).parameters.get(name)
        except (TypeError, ValueError):  # no signature (a builtin)
            param = None
        if param is None or param.default is inspect.Parameter.empty or param.kind not in _KEYWORD:
            raise AttributeError(name)
        return param.default

    def __setattr__(self, name: str, value: Any) -> None:
        object.__getattribute__(self, "_fn").keywords[name] = value


_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _is_eps(value: Any) -> bool:
    if value is None:  # nn.RMSNorm(eps=None): torch's default in the compute dtype
        return True
    if isinstance(value, Tensor):
        return value.numel() == 1 and value.is_floating_point()
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _eps_value(value: Any, dtype: torch.dtype) -> float:
    if value is None:
        return torch.finfo(opmath(dtype)).eps
    try:
        return float(value.item() if isinstance(value, Tensor) else value)
    except OverflowError:  # an integer beyond float's range
        return math.inf


def eps_info(check: CheckConfig, obj: Any, dtype: torch.dtype) -> EpsInfo:
    """The eps the layer adds: read from it, else stated in the spec (then it cannot be switched off)."""
    found = eps_attributes(check, obj)
    if found:
        values = [(_eps_value(getattr(owner, name), dtype), path) for owner, name, path in found]
        bad = [(v, path) for v, path in values if not (math.isfinite(v) and v >= 0)]
        if bad:  # nan or inf added to a variance: every output NaN, or 0; no eps a norm adds
            raise user_error(
                check,
                f"has eps {bad[0][0]} (read from {_kept_in(found, bad[0][1])}): an eps must be finite and >= 0",
            )
        value, path = max(values)
        return EpsInfo(value, f"read from {_kept_in(found, path)}", switchable=True)
    odd = _no_number(check, obj)
    if check.norm.eps_attr:
        if odd:
            raise user_error(check, f"eps attribute {odd} (fix eps_attr:, or state the eps with eps:)")
        raise user_error(
            check,
            f"has no eps attribute {check.norm.eps_attr!r} (fix eps_attr:, or state the eps "
            "with eps: where the layer keeps it in no attribute)",
        )
    if check.norm.eps:
        return EpsInfo(
            check.norm.eps,
            "stated in the spec; not found on the layer, so not switched off",
            switchable=False,
        )
    if odd:
        return EpsInfo(0.0, f"eps attribute {odd}: eps taken as 0; state it with eps:")
    hint = f"`{check.norm.eps_attr}`" if check.norm.eps_attr else ", ".join(f"`{n}`" for n in EPS_NAMES)
    return EpsInfo(0.0, f"no eps attribute found ({hint}); name it with eps_attr: or state it with eps:")


def _kept_in(found: list[tuple[Any, str, str]], path: str) -> str:
    """Where the eps at `path` is kept, in the user's words: a partial's keyword (or its function's
    default for it), else an attribute."""
    owner = next(o for o, _, p in found if p == path)
    if not isinstance(owner, _Keywords):
        return f"attribute `{path}`"
    given = path in object.__getattribute__(owner, "_fn").keywords
    return f"keyword `{path}`" if given else f"keyword `{path}`'s default"


def _set_eps(check: CheckConfig, obj: Any, value: float | None, eps_dtype: torch.dtype) -> None:
    """Every eps of the object set to `value` (eps off), or, where it is None (torch's default
    for its dtype), to that default for `eps_dtype`: a float64 run adds the checked dtype's eps."""
    for owner, name, path in eps_attributes(check, obj):
        current = getattr(owner, name)
        new = value if value is not None else (_eps_value(None, eps_dtype) if current is None else None)
        if new is None:
            continue
        try:
            if isinstance(current, Tensor):
                with torch.no_grad():
                    current.fill_(new)
            else:
                setattr(owner, name, new)
        except USER_FAILURES as exc:
            contained(exc)
            raise user_error(check, f"cannot set its eps `{path}` to 0: {first_line(exc)}") from None


def _gain(check: CheckConfig, objs: list[Any]) -> Tensor:
    """[T, C] float64: each instance's per-channel `weight` (role norm), else ones."""
    c = check.layer.channels
    gains = []
    for obj in objs:
        p = getattr(obj, "weight", None) if check.norm.role == "norm" else None
        if isinstance(p, Tensor) and p.dim() >= 1 and p.shape[0] == c:
            gains.append(p.detach().reshape(c, -1).abs().amax(1).double().cpu())
        else:
            gains.append(torch.ones(c, dtype=torch.float64))
    return torch.stack(gains)
