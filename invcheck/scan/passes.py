"""Forward passes of the working copy, sharing what does not change between tensors.

A baseline pass records every module call's output (in execution order, by the call's start
tick). A later pass that changed one tensor replays what cannot depend on it: every call that
finished before the first call of a module holding the tensor returns (a copy of) its recorded
output instead of running, so a tensor deep in the model costs only the part of the pass after
it. Bit for bit the same as a full pass for a model whose calls run in the same order each time
(checked once per scan: where it is not, nothing is replayed).

An observed pass also keeps each norm-like call's input and output, for `via`.
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

CACHE_BYTES = 4 << 30  # what a baseline may keep of module outputs; calls past it are not replayed


@dataclass
class Cache:
    """One baseline's recorded calls: start tick -> output (and a norm's input)."""

    outputs: dict[int, Any] = field(default_factory=dict)
    inputs: dict[int, Tensor] = field(default_factory=dict)
    bytes: int = 0


@dataclass
class Observed:
    """An observed pass's calls of the watched modules, in execution order: (start tick, module
    index, a copy of its first floating input, a copy of its output)."""

    watch: set[int]
    calls: list[tuple[int, int, Tensor | None, Any]] = field(default_factory=list)


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
                module.forward = self._wrapped(i, module.forward)  # type: ignore[method-assign]

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
                out = self.model(*args, **kwargs)
        finally:
            self._record = self._replay = self._observe = None
        return select_output(out, self.output)

    def run_grad(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Tensor:
        """A full pass with autograd on (the caller enables it): nothing recorded or replayed."""
        self._tick, self._record, self._replay, self._observe, self._structure = 0, None, None, None, False
        return select_output(self.model(*args, **kwargs), self.output)

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
            watched = observe is not None and index in observe.watch
            if watched:  # before the call: a layer may change its input in place
                first = _first_tensor(args, kwargs)
                seen = None if first is None else first.clone()
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
                observe.calls.append((start, index, seen, _copy(out)))  # type: ignore[union-attr]
            return out

        return call


def select_output(out: Any, name: str | None) -> Tensor:
    """The tensor a scan compares: `name`'s field; else the tensor itself; for a dict or a
    transformers ModelOutput `logits`, else `last_hidden_state`, else the first tensor."""
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
    if isinstance(out, Tensor):
        return out
    if isinstance(out, Mapping):
        for key in ("logits", "last_hidden_state"):
            if isinstance(out.get(key), Tensor):
                return out[key]
        values = list(out.values())
    elif isinstance(out, (tuple, list)):
        values = list(out)
    else:
        raise InvcheckError(
            f"the model returned a {type(out).__name__}, not a tensor (pick a field with --output)"
        )
    for value in values:
        if isinstance(value, Tensor):
            return value
    raise InvcheckError("the model's output holds no tensor")


def output_fields(out: Any) -> list[str]:
    if isinstance(out, Mapping):
        return [str(k) for k in out]
    if isinstance(out, (tuple, list)):
        return [str(i) for i in range(len(out))]
    return []


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
