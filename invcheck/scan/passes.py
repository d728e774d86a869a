"""Forward passes of the working copy, sharing what does not change between tensors.

A baseline pass records every module call's output (in execution order, by the call's start
tick). A later pass that changed one tensor replays what cannot depend on it: every call that
finished before the first call of a module holding the tensor returns (a copy of) its recorded
output instead of running, so a tensor deep in the model costs only the part of the pass after
it. Bit for bit the same as a full pass for a model whose calls run in the same order each time
(checked once per scan: where it is not, nothing is replayed).

An observed pass measures, as they run, how much each watched call's input and output moved, for `via`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from invcheck.errors import InvcheckError
from invcheck.scan.prepare import Prepared, is_norm_like

Tensor = torch.Tensor

CACHE_BYTES = 2 << 30
BUDGET = 2  # norm-like calls with a changed input an observed pass watches  # what a baseline may keep of module outputs; calls past it are not replayed


@dataclass
class Cache:
    """One baseline's recorded calls: start tick -> output (and a norm's input)."""

    outputs: dict[int, Any] = field(default_factory=dict)
    inputs: dict[int, Tensor] = field(default_factory=dict)
    bytes: int = 0


@dataclass
class Observed:
    """What an observed pass saw of the watched calls, against a baseline, as they ran (no copies):
    per call (start tick, module index, its input's deviation or None, its output's deviation).
    A norm-like call whose input changed but whose output did not keeps a copy of its input
    (`removed`). After `budget` norm-like calls with a changed input, norms are no longer watched
    (the first ones are where a change is removed); the ancestors always are."""

    norms: set[int]
    ancestors: set[int]
    baseline: Cache
    differs: float  # an input deviation above this: changed
    same: float  # an output deviation at most this: unchanged
    budget: int = BUDGET
    calls: list[tuple[int, int, float | None, float]] = field(default_factory=list)
    removed: dict[int, Tensor] = field(default_factory=dict)

    def watches(self, index: int) -> bool:
        return index in self.ancestors or (self.budget > 0 and index in self.norms)


class Passes:
    def __init__(self, prep: Prepared, output: str | None, seed: int) -> None:
        self.prep = prep
        self.model = prep.model
        self.output = output
        self.seed = seed
        self.modules: list[nn.Module] = [m for _, m in self.model.named_modules()]
        self.names: list[str] = [n for n, _ in self.model.named_modules()]
        self.norm_like = [is_norm_like(m) for m in self.modules]
        # the call structure, from the first recorded pass: start tick -> module index, end tick
        self.module_at: dict[int, int] = {}
        self.end: dict[int, int] = {}
        self.first_start: dict[int, int] = {}  # module index -> its first call's start tick
        self.replay_ok = True
        # per pass
        self._tick = 0
        self._record: Cache | None = None
        self._replay: Cache | None = None
        self._limit = 0
        self._observe: Observed | None = None
        self._structure = False
        self.raw: list[Any] = [m.forward for m in self.modules]  # each module's own forward, unwrapped
        for i, module in enumerate(self.modules):
            if i:  # the root runs always
                module.forward = self._wrapped(i, module.forward)

    # passes -----------------------------------------------------------------------------------

    def run(
        self,
        record: Cache | None = None,
        replay: Cache | None = None,
        limit: int = 0,
        observe: Observed | None = None,
        structure: bool = False,
    ) -> Tensor:
        """One forward pass: the selected output, in the scan's dtype."""
        self._tick, self._record, self._observe, self._structure = 0, record, observe, structure
        self._replay, self._limit = (replay, limit) if self.replay_ok else (None, 0)
        args, kwargs = self.prep.inputs
        torch.default_generator.manual_seed(self.seed)  # what randomness is left: the same every pass (CPU)
        try:
            with torch.no_grad():
                out = call_user(self.model, *args, **kwargs)
        finally:
            self._record = self._replay = self._observe = None
        return select_output(out, self.output)

    def run_grad(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor:
        """A full pass with autograd on (the caller enables it): nothing recorded or replayed."""
        self._tick, self._record, self._replay, self._observe, self._structure = 0, None, None, None, False
        return select_output(call_user(self.model, *args, **kwargs), self.output)

    def limit_for(self, holders: list[int]) -> int:
        """The tick before which calls cannot depend on a tensor held by these modules: the first
        start of any of them (0, nothing replayed, where one of them never ran as a module)."""
        starts = [self.first_start.get(i) for i in holders]
        if not starts or any(s is None for s in starts) or 0 in holders:
            return 0
        return min(s for s in starts if s is not None)

    def _wrapped(self, index: int, forward: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = self._tick
            self._tick += 1
            replay = self._replay
            if (
                replay is not None
                and self.end.get(start, math.inf) <= self._limit
                and self.module_at.get(start) == index
                and start in replay.outputs
            ):
                self._tick = self.end[start]
                return _copy(replay.outputs[start])
            observe = self._observe
            watched = observe is not None and observe.watches(index) and start in observe.baseline.outputs
            before: float | None = None
            changed_input: Tensor | None = None
            if watched:  # before the call: a layer may change its input in place
                first = _first_tensor(args, kwargs)
                recorded = observe.baseline.inputs.get(start)  # type: ignore[union-attr]
                if first is not None and recorded is not None:
                    before = deviation(recorded, first)
                    if before > observe.differs and self.norm_like[index]:  # type: ignore[union-attr]
                        observe.budget -= 1  # type: ignore[union-attr]
                        changed_input = first.clone()
            out = forward(*args, **kwargs)
            if self._structure:
                self.module_at[start], self.end[start] = index, self._tick
                self.first_start.setdefault(index, start)
            record = self._record
            if record is not None and record.bytes < CACHE_BYTES and _copyable(out):
                kept = _copy(out)
                record.outputs[start] = kept
                record.bytes += _nbytes(kept)
                if self.norm_like[index]:
                    first = _first_tensor(args, kwargs)
                    if first is not None:
                        record.inputs[start] = first.clone()
            if watched and _copyable(out):
                after = deviation(_first_of(observe.baseline.outputs[start]), _first_of(out))  # type: ignore[union-attr]
                observe.calls.append((start, index, before, after))  # type: ignore[union-attr]
                if changed_input is not None and after <= observe.same:  # type: ignore[union-attr]
                    observe.removed[start] = changed_input  # type: ignore[union-attr]
            return out

        return call


class ModelExit(BaseException):
    """The model's code raised what is no Exception (SystemExit, KeyboardInterrupt, os._exit):
    a BaseException, so that the engine's `except Exception` (a forward failing at some values)
    does not take it for that; engine.scan turns it into one error line (exit 2)."""


def call_user(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` for the model's code, guarded as `invcheck run` guards a layer's
    (user_load.guarded): its prints and writes to fd 1 go to stderr (stdout holds the report), and
    what it rebinds (`torch.Tensor.abs = ...`), its torch defaults and its os._exit are undone or
    refused when it returns, so that the scan's own measurements run on torch as it was."""
    from invcheck.impls import user_load

    try:
        with user_load.guarded():
            return fn(*args, **kwargs)
    except Exception:
        raise
    except BaseException as exc:
        user_load.contained(exc)  # the deadline, a Ctrl-C: invcheck's own, they stop the run
        raise ModelExit(
            f"the model's code raised {user_load.first_line(exc)}{user_load.raised_at(exc)}"
        ) from None


def select_output(out: Any, name: str | None) -> Tensor:
    """The tensor a scan compares: `name`'s field; else the tensor itself; for a tuple, list, dict
    or transformers ModelOutput its first tensor, depth first (`_output_tensor`)."""
    if name is not None:
        if isinstance(out, Mapping) and name in out:
            found = out[name]
        elif not isinstance(out, (Tensor, Mapping)) and hasattr(out, name):
            found = getattr(out, name)
        elif isinstance(out, (tuple, list)) and name.isdigit() and int(name) < len(out):
            found = out[int(name)]
        else:
            raise InvcheckError(
                f"the model's output has no field {name!r} (it has: {', '.join(output_fields(out)) or 'none'})"
            )
        if not isinstance(found, Tensor):
            raise InvcheckError(
                f"the model's output field {name!r} is a {type(found).__name__}, not a tensor"
            )
        return found
    if not isinstance(out, (Tensor, Mapping, tuple, list)):
        raise InvcheckError(
            f"the model returned a {type(out).__name__}, not a tensor (pick a field with --output)"
        )
    found = _output_tensor(out, set())
    if found is None:
        raise InvcheckError("the model's output holds no tensor")
    return found


_DEEPEST = 32  # nesting searched for the output's tensor; deeper (or a container holding itself) is skipped


def _output_tensor(out: Any, seen: set[int], depth: int = 0) -> Tensor | None:
    """The first tensor depth first: a tuple's, list's or dict's items in order, nested ones searched
    where they stand (`((tensor,),)`), and in each dict or ModelOutput its `logits`, else its
    `last_hidden_state`, first."""
    if isinstance(out, Tensor):
        return out
    if depth > _DEEPEST or id(out) in seen:
        return None
    seen.add(id(out))
    if isinstance(out, Mapping):
        for key in ("logits", "last_hidden_state"):
            if isinstance(out.get(key), Tensor):
                return out[key]
        values = list(out.values())
    elif isinstance(out, (tuple, list)):
        values = list(out)
    else:
        return None
    for value in values:
        found = _output_tensor(value, seen, depth + 1)
        if found is not None:
            return found
    return None


def output_fields(out: Any) -> list[str]:
    if isinstance(out, Mapping):
        return [str(k) for k in out]
    if isinstance(out, (tuple, list)):
        return [str(i) for i in range(len(out))]
    return []


def _first_of(out: Any) -> Tensor:
    if isinstance(out, Tensor):
        return out
    return next(v for v in out if isinstance(v, Tensor))


def abs_max(y: Tensor) -> float:
    if y.numel() == 0:
        return 0.0
    m = float(y.detach().abs().max())
    return math.inf if math.isnan(m) else m


def deviation(y0: Tensor, y1: Tensor) -> float:
    """max|y1 - y0| / max(max|y0|, max|y1|): the project's normwise relative deviation."""
    if y0.shape != y1.shape:
        return math.inf
    if y0.numel() == 0:
        return 0.0
    diff = float(torch.sub(y1, y0).abs_().max())
    if diff == 0.0:
        return 0.0
    if math.isnan(diff):
        return math.inf
    scale = max(abs_max(y0), abs_max(y1))
    return diff / scale if scale > 0 else math.inf


def _first_tensor(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor | None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, Tensor) and value.is_floating_point():
            return value
    return None


def _copyable(out: Any) -> bool:
    if isinstance(out, Tensor):
        return True
    if type(out) in (tuple, list):
        return all(v is None or isinstance(v, (Tensor, int, float, bool, str)) for v in out)
    return False


def _copy(out: Any) -> Any:
    """A copy a caller may change in place (`out += identity`) without changing the record."""
    if isinstance(out, Tensor):
        return out.detach().clone()
    return type(out)(v.detach().clone() if isinstance(v, Tensor) else v for v in out)


def _nbytes(out: Any) -> int:
    items = [out] if isinstance(out, Tensor) else [v for v in out if isinstance(v, Tensor)]
    return sum(t.numel() * t.element_size() for t in items)
