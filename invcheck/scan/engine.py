"""The scan: every parameter tensor of a model under every transform, judged as every check is.

One float64 deep copy of the model is made and reused: a tensor is transformed in place, the
pass run, the tensor restored bit for bit. Single tensors first, then the joint groups (a layer's
weight and bias together, where neither alone holds at generic values), each in three phases with
a baseline shared by all:
1. the model's own values, eps off: the deviation against SAFETY x the rounding noise (probed once
   for the baseline; for the transformed side too where a deviation is borderline); `via` and
   eps's effect at the norm that removes the change, measured as the pass runs;
2. eps as the model has it, for what looked invariant with no such norm: eps's effect by a pass;
3. re-drawn generic values, eps off, for what looked invariant: special values or not.
Recentering gets a second trial with the shift's sign flipped; a factor per unit is not tried where
one common factor already breaks it; a transform that leaves a tensor as it is runs no pass. A
pass replays the calls that cannot depend on the changed tensor (passes.py).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from invcheck import tolerance as tol
from invcheck.errors import InvcheckError
from invcheck.isolation import kept
from invcheck.render.progress import bar
from invcheck.scan import judge as judging
from invcheck.scan.generic import generic_values, special_values
from invcheck.scan.memory import MAX_MEMORY, NO_PARAMETERS, check_memory, has_parameters
from invcheck.scan.passes import (
    BUDGET,
    CACHE_BYTES,
    Cache,
    ModelExit,
    Observed,
    Passes,
    abs_max,
    call_user,
    deviation,
)
from invcheck.scan.prepare import Prepared, prepare, statistics_kind
from invcheck.scan.report import TRANSFORMS, GroupVerdict, ParamVerdict, ScanReport
from invcheck.scan.units import Edit, draw_edit, factors, generator, spread, unit_axis
from invcheck.scan.units import signs as random_signs

Tensor = torch.Tensor

# The probe of measure.py: the output at inputs moved by k e (relative, random signs), combined
# into a fourth difference that leaves only rounding.
POINTS, WEIGHTS = (1, -1, 2, -2), (-4.0, -4.0, 1.0, 1.0)
# eps's effect measured at the norm that removes the change stands for its effect at the output
# only while it is far below EPS_CAP; above this, a pass with eps measures it at the output.
LOCAL_EPS_LIMIT = tol.EPS_CAP / 100
GAIN = math.sqrt(6.0**2 + 4 * 1 + 4 * 1 + 1 + 1)


@dataclass
class Item:
    """One tensor, or a layer's weight and bias together, under one transform."""

    names: tuple[str, ...]
    tensors: list[Tensor]
    axes: list[int]
    module: str
    module_type: str
    holders: list[int]
    transform: str
    ancestors: set[int] = field(default_factory=set)
    deviation: float = math.nan
    tolerance: float = math.nan  # the baseline's, or wider where the transformed side is noisier
    noise: float = math.nan
    finite: bool = True
    error: str | None = None
    output: Tensor | None = None  # the transformed output (model values, eps off), where invariant-looking
    via: str | None = None
    eps_effect: float | None = None
    generic_deviation: float | None = None
    generic_tolerance: float | None = None
    unchanged: bool = False  # the transform left the tensors as they were (all zero, rescaled)
    implied_by: Item | None = None  # a violation of a special case of this transform, which decides it

    @property
    def group(self) -> bool:
        return len(self.names) > 1


@dataclass
class Baseline:
    cache: Cache
    output: Tensor
    scale: float
    noise: float
    tolerance: float


def scan(
    model: Any,
    inputs: Any = None,
    *,
    mode: str = "eval",
    input_shape: Any = None,
    output: str | None = None,
    seed: int = 0,
    trials: int = 2,
    transforms: Any = TRANSFORMS,
    dtype: Any = None,
    name: str | None = None,
    max_memory: int | None = MAX_MEMORY,
    progress: bool = False,
) -> ScanReport:
    """Scan `model` (an nn.Module, never modified) on `inputs`; see the module's docstring.
    A model with no floating parameter tensor gives an empty report and a warning; one whose
    estimated memory (memory.py) is above `max_memory` bytes (None: no bound) is refused before
    it is copied; `progress` shows a bar on stderr where it is a terminal."""
    if model is None:
        raise TypeError("model is None: give a torch.nn.Module (and its inputs, or input_shape)")
    transforms = tuple(transforms)
    unknown = [t for t in transforms if t not in TRANSFORMS]
    if unknown:
        raise InvcheckError(f"unknown transform {unknown[0]!r} (known: {', '.join(TRANSFORMS)})")
    work_dtype = _dtype(dtype)
    label = name or type(model).__name__
    if isinstance(model, torch.nn.Module) and not has_parameters(model):
        warnings.warn(f"{label}: {NO_PARAMETERS}", stacklevel=2)
        return ScanReport(
            label, mode, (), (), model_dtype="", scan_dtype=str(work_dtype).removeprefix("torch.")
        )
    if isinstance(model, torch.nn.Module) and max_memory is not None:
        check_memory(model, inputs, input_shape, work_dtype, max_memory)
    with torch.random.fork_rng(devices=[]), bar("scan: (tensor, transform) pairs", enabled=progress) as shown:
        prep = prepare(model, inputs, mode, input_shape, work_dtype, seed)
        scanner = _Scanner(prep, output, seed, max(1, int(trials)), transforms, shown.advance)
        try:
            with kept():  # the outermost: each call of the model's code then watches only torch's namespaces
                params, groups = scanner.run()
        except ModelExit as exc:  # SystemExit, KeyboardInterrupt in the model: one line, not the end
            raise InvcheckError(str(exc)) from None
    return ScanReport(
        label,
        mode,
        tuple(params),
        tuple(groups),
        model_dtype=str(prep.model_dtype).removeprefix("torch."),
        scan_dtype=str(work_dtype).removeprefix("torch."),
    )


def _dtype(dtype: Any) -> torch.dtype:
    if dtype is None:
        return torch.float64
    if isinstance(dtype, torch.dtype):
        return dtype
    found = getattr(torch, str(dtype), None)
    if not isinstance(found, torch.dtype) or not found.is_floating_point:
        raise InvcheckError(f"dtype must be a floating dtype such as float64, got {dtype!r}")
    return found


class _Scanner:
    def __init__(
        self,
        prep: Prepared,
        output: str | None,
        seed: int,
        trials: int,
        transforms: tuple[str, ...],
        advance: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.prep, self.seed, self.trials, self.transforms = prep, seed, trials, transforms
        self.advance = advance
        self.passes = Passes(prep, output, seed)
        self.model = prep.model
        self.dtype_name = str(next((p.dtype for p in self.model.parameters()), torch.float64)).removeprefix(
            "torch."
        )
        self.index = {id(m): i for i, m in enumerate(self.passes.modules)}
        self.params = [(n, p) for n, p in self.model.named_parameters() if p.is_floating_point()]
        self.holders = self._holders()
        self._generic_cache: dict[str, Tensor] | None = None
        self._measured: dict[tuple[tuple[str, ...], str], Item] = {}
        self._specials: tuple[str, ...] = ()

    # the whole scan ---------------------------------------------------------------------------

    def run(self) -> tuple[list[ParamVerdict], list[GroupVerdict]]:
        self.prep.eps_off()
        base = self._baseline(structure=True)
        self._check_replay(base)
        self._specials = tuple(special_values(self.model))
        self._bases: dict[str, Baseline] = {"model": base}
        items = [self._item((n,), t) for n, _ in self.params for t in self.transforms]
        self._round(items)
        groups = self._groups(items)  # where neither tensor alone is invariant at generic values
        self._round(groups)
        return (
            [self._param_verdict(i) for i in items],
            [self._group_verdict(g) for g in groups],
        )

    def _round(self, items: list[Item]) -> None:
        """The three phases for `items`: model values (eps off), eps's effect, generic values."""
        base = self._bases["model"]
        done: dict[tuple[tuple[str, ...], str], Item] = {}
        for item in items:
            common = done.get((item.names, "weight_matrix_rescale"))
            if item.transform == "weight_vector_rescale" and common is not None and _violated(common):
                # one factor for every unit is a case of a factor per unit: its violation is this one's
                item.implied_by, item.deviation = common, common.deviation
                item.tolerance, item.noise = common.tolerance, common.noise
            elif not self._same_as_alone(item):
                self._measure(item, base)
            done[(item.names, item.transform)] = item
            self._measured[(item.names, item.transform)] = item
            self.advance(1)
        looks = [i for i in items if i.error is None and i.finite and i.deviation <= tol.MARGIN * i.tolerance]
        if self.prep.eps and any(i.eps_effect is None for i in looks):
            self.prep.eps_on()
            if "eps" not in self._bases:
                self._bases["eps"] = self._baseline(noise=False)
            for item in looks:
                if item.eps_effect is None:  # not measured at the norm that removes the change
                    self._eps_effect(item, base, self._bases["eps"])
            self.prep.eps_off()
        wanted = [
            i for i in looks if i.error is None and (i.eps_effect is None or i.eps_effect <= tol.EPS_CAP)
        ]
        if wanted:
            model_values = self._swap_in(self._generic_values())
            if "generic" not in self._bases:
                # the model's noise stands for the generic baseline's: a borderline deviation gets
                # the transformed side probed (_both_sides), which decides it
                generic = self._baseline(noise=False)
                generic.noise, generic.tolerance = base.noise, base.tolerance
                self._bases["generic"] = generic
            for item in wanted:
                self._generic(item, self._bases["generic"])
            self._swap_in(model_values)

    def _same_as_alone(self, item: Item) -> bool:
        """A group whose bias is all zero, rescaled: at the model's values it is its weight rescaled
        alone (a zero-init norm or layer bias), measured already: its numbers are taken, no pass run.
        Only where nothing later pairs them with this group's own draw (the eps pass compares the
        output of a draw): eps's effect known, or a violation. Generic values are run for it alone."""
        if not item.group or item.transform == "weight_matrix_recenter" or bool(item.tensors[1].any()):
            return False
        alone = self._measured.get((item.names[:1], item.transform))
        if alone is None or alone.error is not None or alone.implied_by is not None or alone.unchanged:
            return False
        if not (_violated(alone) or alone.eps_effect is not None or not self.prep.eps):
            return False
        item.deviation, item.tolerance, item.noise = alone.deviation, alone.tolerance, alone.noise
        item.finite, item.output, item.via, item.eps_effect = (
            alone.finite,
            alone.output,
            alone.via,
            alone.eps_effect,
        )
        return True

    def _generic_values(self) -> dict[str, Tensor]:
        if self._generic_cache is None:
            self._generic_cache = generic_values(self.model, self.seed)
        return self._generic_cache

    # baselines and noise ----------------------------------------------------------------------

    def _baseline(self, structure: bool = False, noise: bool = True) -> Baseline:
        cache = Cache()
        try:
            y = self.passes.run(record=cache, structure=structure)
        except InvcheckError:
            raise
        except Exception as exc:  # the user's model cannot run on these inputs
            raise InvcheckError(_forward_failed(exc, self.dtype_name, self.prep.model_dtype)) from None
        y = y.detach()
        if y.is_meta or any(p.is_meta for _, p in self.params):  # no values to measure
            raise InvcheckError(
                "the model (or its output) is on the meta device, which holds shapes but no values: "
                "build it with real parameters (or load them with to_empty() and load_state_dict())"
            )
        if not y.is_floating_point():
            raise InvcheckError(
                f"the checked output is a {y.dtype} tensor, not a floating one (pick another with --output)"
            )
        if not bool(torch.isfinite(y).all()):
            raise InvcheckError("the model's output is not finite (NaN or inf) at these values, with eps off")
        scale = _abs_max(y)
        if scale == 0.0:
            raise InvcheckError(
                "the model's output is zero everywhere: nothing to compare (pick another with --output)"
            )
        n = self._noise(y, scale) if noise else 0.0
        tolerance = tol.rounding(math.sqrt(2.0) * n, self.dtype_name)  # both sides' noise
        return Baseline(cache, y, scale, n, tolerance)

    def _noise(self, y: Tensor, scale: float) -> float:
        """The output's rounding noise: every parameter and floating input moved by k e (relative,
        random signs), the fourth difference of the outputs (measure.py's probe, for the whole model)."""
        e = tol.dither(self.dtype_name)
        gen = generator(self.seed, "noise")
        tensors = [p for _, p in self.params]
        args, kwargs = self.prep.inputs
        floats = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor) and a.is_floating_point()]
        saved = [t.detach().clone() for t in (*tensors, *floats)]
        signs = [random_signs(t.shape, gen).to(t) for t in saved]
        acc = y * 6.0
        try:
            for k, w in zip(POINTS, WEIGHTS):
                with torch.no_grad():
                    for t, s, v in zip((*tensors, *floats), signs, saved):
                        t.copy_(v + (k * e) * v * s)
                acc = acc + w * self.passes.run()
        finally:
            with torch.no_grad():
                for t, v in zip((*tensors, *floats), saved):
                    t.copy_(v)
        return _abs_max(acc) / GAIN / scale

    def _check_replay(self, base: Baseline) -> None:
        """Replaying recorded calls must give the full pass's output bit for bit; else none is
        replayed. Where it does not, a second full pass tells a model whose output is not the same
        from pass to pass (its difference widens the tolerance) from one that cannot be replayed."""
        starts = sorted(self.passes.first_start.values())
        limit = starts[len(starts) // 2] if starts else 0
        if starts and torch.equal(self.passes.run(replay=base.cache, limit=limit), base.output):
            return
        self.passes.replay_ok = False
        again = self.passes.run()
        if not torch.equal(again, base.output):
            base.noise = max(base.noise, _deviation(base.output, again))
            base.tolerance = tol.rounding(math.sqrt(2.0) * base.noise, self.dtype_name)

    # items ------------------------------------------------------------------------------------

    def _holders(self) -> dict[int, list[int]]:
        """id(parameter) -> the indices of the modules that hold it directly."""
        out: dict[int, list[int]] = {}
        for i, m in enumerate(self.passes.modules):
            for p in m._parameters.values():
                if p is not None:
                    out.setdefault(id(p), []).append(i)
        return out

    def _item(self, names: tuple[str, ...], transform: str) -> Item:
        lookup = dict(self.params)
        tensors: list[Tensor] = [lookup[n] for n in names]
        owner_name = names[0].rpartition(".")[0]
        owner = self.model.get_submodule(owner_name)
        holders = sorted({h for t in tensors for h in self.holders.get(id(t), [])})
        ancestors = set()
        for h in holders:
            path = self.passes.names[h]
            parts = path.split(".")
            for depth in range(1, len(parts)):
                anc = ".".join(parts[:depth])
                ancestors.add(self.passes.names.index(anc))
        return Item(
            names,
            tensors,
            [unit_axis(owner, t) for t in tensors],
            owner_name,
            type(owner).__name__,
            holders,
            transform,
            ancestors | set(holders),
        )

    def _edits(self, item: Item, phase: str) -> list[Edit]:
        """The transform's instance for a phase: "model" (trial 0, and the eps run), "model1"...
        (further trials, on the other side of 1 and the other sign), "generic"."""
        gen = generator(self.seed, *item.names, item.transform, phase)
        trial = int(phase[5:] or 0) if phase.startswith("model") else 0
        side = (1 if trial % 2 == 0 else -1) if phase.startswith("model") else 0
        if not item.group:
            return [draw_edit(item.transform, item.tensors[0], item.axes[0], gen, side)]
        weight, bias = item.tensors
        axis = item.axes[0]
        if item.transform == "weight_matrix_rescale":
            delta = float(factors((1,), gen, side))
            return [Edit(delta, 0.0), Edit(delta, 0.0)]
        if item.transform == "weight_vector_rescale":
            f = factors((weight.shape[axis] if weight.dim() else 1,), gen)
            shape = [1] * weight.dim()
            if shape:
                shape[axis] = -1
            per_unit = f.reshape(shape)  # a norm's elementwise pair: the bias has the weight's shape
            return [
                Edit(per_unit, 0.0),
                Edit(per_unit if bias.shape == weight.shape else f.reshape(bias.shape), 0.0),
            ]
        w_edit = draw_edit(item.transform, weight, axis, gen)
        c = spread(bias) * float(factors((1,), gen)) * (side or 1)
        return [w_edit, Edit(1.0, c)]

    def _transformed(self, item: Item, phase: str, base: Baseline, observe: Observed | None = None) -> Tensor:
        """The output with the item's tensors transformed (then restored bit for bit); the baseline's
        own output where the transform leaves them as they are (a zero tensor rescaled)."""
        saved = [t.detach().clone() for t in item.tensors]
        try:
            for t, edit in zip(item.tensors, self._edits(item, phase)):
                edit.apply(t)
            if all(torch.equal(t, v) for t, v in zip(item.tensors, saved)):
                if phase == "model":
                    item.unchanged = True
                return base.output
            limit = self.passes.limit_for(item.holders)
            return self.passes.run(replay=base.cache, limit=limit, observe=observe).detach()
        finally:
            with torch.no_grad():
                for t, v in zip(item.tensors, saved):
                    t.copy_(v)

    def _measure(self, item: Item, base: Baseline) -> None:
        item.tolerance, item.noise = base.tolerance, base.noise
        observed = Observed(
            norms={i for i, norm in enumerate(self.passes.norm_like) if norm} - set(item.holders),
            ancestors=item.ancestors,
            baseline=base.cache,
            differs=max(1e3 * base.tolerance, 1e-9),
            same=max(10 * base.tolerance, 1e-12),
        )
        deviations = []
        # a shift's sign matters (a unit gain shifted by -2 flips sign, by +2 it does not): recentering
        # gets further trials, the sign flipped each time; a positive factor's side does not matter
        trials = self.trials if item.transform == "weight_matrix_recenter" else 1
        for trial in range(trials):
            phase = f"model{trial}" if trial else "model"
            try:
                y = self._transformed(item, phase, base, observed if not trial else None)
            except Exception as exc:
                item.error = _first_line(exc)
                return
            if not bool(torch.isfinite(y).all()):
                item.finite = False
                return
            deviation = _deviation(base.output, y)
            if _borderline(deviation, item.tolerance):  # the transformed side may round more
                item.noise, item.tolerance = self._both_sides(item, phase, base, y)
            deviations.append(deviation)
            if trial == 0:
                item.output = y
            if deviation > tol.MARGIN * item.tolerance:
                break  # a violation: no more trials needed
        item.deviation = max(deviations)
        if item.deviation > tol.MARGIN * item.tolerance:
            item.output = None  # kept only for the eps run of what looks invariant
        elif not item.unchanged:
            item.via = self._via(item, observed, base)
            norm_held = any(self.passes.norm_like[h] for h in item.holders)
            whole = base.cache.bytes < CACHE_BYTES  # every call recorded: every norm was watched
            if (
                self.prep.eps
                and item.eps_effect is None
                and observed.budget == BUDGET
                and not norm_held
                and whole
            ):
                item.eps_effect = 0.0  # no norm's input changed: eps acts alike on both sides

    def _both_sides(self, item: Item, phase: str, base: Baseline, y: Tensor) -> tuple[float, float]:
        """The noise of both sides, each probed (measure.py's way), and the tolerance it earns:
        where the transformed side rounds more (a large shift that a norm cancels), it counts."""
        saved = [t.detach().clone() for t in item.tensors]
        try:
            for t, edit in zip(item.tensors, self._edits(item, phase)):
                edit.apply(t)
            other = self._noise(y, max(base.scale, _abs_max(y)))
        finally:
            with torch.no_grad():
                for t, v in zip(item.tensors, saved):
                    t.copy_(v)
        noise = math.hypot(base.noise, other)
        return noise, max(tol.rounding(noise, self.dtype_name), base.tolerance)

    def _eps_effect(self, item: Item, base: Baseline, base_eps: Baseline) -> None:
        """What eps moves between the sides: (y'_eps - y_eps) - (y'_off - y_off), relative."""
        try:
            y_eps = self._transformed(item, "model", base_eps)
        except Exception as exc:
            item.error = _first_line(exc)
            return
        assert item.output is not None
        between = (y_eps - base_eps.output) - (item.output - base.output)
        item.eps_effect = _abs_max(between.nan_to_num(nan=math.inf)) / max(base.scale, _abs_max(item.output))

    def _generic(self, item: Item, base_g: Baseline) -> None:
        item.generic_tolerance = base_g.tolerance
        try:
            y = self._transformed(item, "generic", base_g)
        except Exception:  # the forward fails at generic values: counts as not holding there
            item.generic_deviation = math.inf
            return
        finite = bool(torch.isfinite(y).all())
        item.generic_deviation = _deviation(base_g.output, y) if finite else math.inf
        if _borderline(item.generic_deviation, base_g.tolerance):
            _, item.generic_tolerance = self._both_sides(item, "generic", base_g, y)

    def _groups(self, items: list[Item]) -> list[Item]:
        """Every module's weight and bias together (a Linear's or Conv's, and a norm's affine gain
        and bias too), under each transform neither is invariant to alone at generic values (not
        invariant, or invariant at the model's special values only: a zero-init bias rescaled)."""
        alone = {(i.names[0], i.transform): self._holds_generically(i) for i in items}
        known = dict(self.params)
        out = []
        for name, module in self.model.named_modules():
            w, b = module._parameters.get("weight"), module._parameters.get("bias")
            if w is None or b is None or not _pairs(module, w, b):
                continue
            wn, bn = f"{name}.weight" if name else "weight", f"{name}.bias" if name else "bias"
            if known.get(wn) is not w or known.get(bn) is not b:
                continue  # shared with another module under another name
            for t in self.transforms:
                if not alone.get((wn, t), True) and not alone.get((bn, t), True):
                    out.append(self._item((wn, bn), t))
        return out

    def _holds_generically(self, item: Item) -> bool:
        j = judging.judge(self._numbers(item, False))
        return j.verdict == "invariant" and not j.at_these_values_only

    def _swap_in(self, values: dict[str, Tensor]) -> dict[str, Tensor]:
        """Write `values` (parameters and buffers by name) into the copy; returns the old ones."""
        old: dict[str, Tensor] = {}
        tensors: dict[str, Tensor] = dict(self.model.named_parameters())
        tensors.update(self.model.named_buffers())
        with torch.no_grad():
            for name, value in values.items():
                t = tensors[name]
                old[name] = t.detach().clone()
                t.copy_(value)
        return old

    # via --------------------------------------------------------------------------------------

    def _via(self, item: Item, observed: Observed, base: Baseline) -> str | None:
        """The first norm-like call whose input changed but whose output did not; else the innermost
        module holding the tensor whose output did not change (the change cancels inside it)."""
        same = max(10 * item.tolerance, 1e-12)
        limit = self.passes.limit_for(item.holders)
        inside: list[tuple[int, int, float]] = []
        for start, index, _before, after in observed.calls:
            if start in observed.removed and after <= same:
                module = self.passes.modules[index]
                changed = observed.removed[start]
                kind = statistics_kind(module, changed.dim())
                if self.prep.eps and start in base.cache.inputs:
                    local = self._eps_at(index, base.cache.inputs[start], changed)
                    # small where the change is removed: small at the output too; else the layers
                    # after it decide (a layer scale of 1e-6 shrinks it): measured by a whole pass
                    item.eps_effect = local if local is not None and local <= LOCAL_EPS_LIMIT else None
                return f"{self.passes.names[index]} ({type(module).__name__}, {kind})"
            if index in item.ancestors and start <= limit < self.passes.end.get(start, -1):
                inside.append((start, index, after))
        for _, index, after in sorted(inside, reverse=True):  # innermost first
            if after <= same:
                module = self.passes.modules[index]
                what = (
                    "softmax over keys"
                    if "atten" in type(module).__name__.lower() or "attn" in self.passes.names[index].lower()
                    else "its own computation"
                )
                return f"{self.passes.names[index]} ({type(module).__name__}, inside it: {what})"
        return None

    def _eps_at(self, index: int, x0: Tensor, x1: Tensor) -> float | None:
        """eps's effect between the sides where the change is removed: the norm on its original and
        its changed input, with eps and with eps off: |(n_eps(x1) - n_eps(x0)) - (n_off(x1) - n_off(x0))|
        relative to its output (four calls of one norm instead of a forward pass with eps); None
        where the norm cannot be called on its input alone."""
        forward = self.passes.raw[index]
        try:
            self.prep.eps_on()
            on = call_user(forward, x0), call_user(forward, x1)
            self.prep.eps_off()
            off = call_user(forward, x0), call_user(forward, x1)
        except Exception:
            self.prep.eps_off()
            return None
        if not all(isinstance(t, Tensor) for t in (*on, *off)):
            return None
        between = (on[1] - on[0]) - (off[1] - off[0])
        return _abs_max(between) / max(_abs_max(off[0]), _abs_max(off[1]), 1e-300)

    # verdicts ---------------------------------------------------------------------------------

    def _numbers(self, item: Item, unreached: bool) -> judging.Numbers:
        return judging.Numbers(
            deviation=item.deviation,
            tolerance=item.tolerance,
            noise=item.noise,
            finite=item.finite,
            error=item.error,
            unreached=unreached,
            eps_effect=item.eps_effect,
            generic_deviation=item.generic_deviation,
            generic_tolerance=item.generic_tolerance,
            via=item.via,
            specials=self._nearest_specials(item),
            unchanged=item.unchanged,
            implied_by=item.implied_by.transform if item.implied_by is not None else None,
        )

    def _nearest_specials(self, item: Item) -> tuple[str, ...]:
        """The model's special values, those of the tensor's own module first, then those of the
        module that removes the change, then those the change passes on the way."""
        via = (item.via or "").split(" (")[0]
        order = [item.module, via, item.module.rpartition(".")[0]]

        def rank(special: str) -> int:
            for i, prefix in enumerate(order):
                if prefix and (special.startswith(prefix + ".") or special.startswith(prefix + ":")):
                    return i
            return len(order)

        return tuple(sorted(self._specials, key=rank))

    def _param_verdict(self, item: Item) -> ParamVerdict:
        fields = self._decided(item, _unreached(item))
        return ParamVerdict(item.names[0], tuple(item.tensors[0].shape), **fields, eps_effect=item.eps_effect)

    def _group_verdict(self, item: Item) -> GroupVerdict:
        return GroupVerdict(item.names, **self._decided(item, False))

    def _decided(self, item: Item, unreached: bool) -> dict[str, Any]:
        """What a tensor's and a group's verdicts share: the judgement of the item's numbers."""
        j = judging.judge(self._numbers(item, unreached))
        return {
            "transform": item.transform,
            "verdict": j.verdict,
            "deviation": item.deviation if j.deviation is None else j.deviation,
            "tolerance": item.tolerance if j.tolerance is None else j.tolerance,
            "why": j.why,
            "via": j.via,
            "at_these_values_only": j.at_these_values_only,
            "module": item.module,
            "module_type": item.module_type,
        }


_abs_max, _deviation = abs_max, deviation


def _unreached(item: Item) -> bool:
    """Its change leaves the checked output bit for bit as it was, at the model's values and at
    generic ones, and no norm or module downstream is seen removing it: it does not reach the output."""
    return (
        item.error is None
        and not item.unchanged
        and item.via is None
        and item.deviation == 0.0
        and item.generic_deviation == 0.0
    )


def _pairs(module: Any, weight: Tensor, bias: Tensor) -> bool:
    """A weight and bias that move together per output unit: a layer's bias per output unit
    (Linear, Conv), or a norm's elementwise affine pair (BatchNorm, LayerNorm, GroupNorm)."""
    if weight.shape == bias.shape:
        return True
    return bias.dim() == 1 and weight.dim() >= 1 and weight.shape[unit_axis(module, weight)] == bias.numel()


def _violated(item: Item) -> bool:
    """Measured, and far beyond its tolerance at the model's values."""
    return item.error is None and item.finite and item.deviation > tol.MARGIN * item.tolerance


def _borderline(deviation: float, tolerance: float) -> bool:
    """Beyond the baseline's tolerance, yet small enough to be the transformed side's own rounding."""
    return tolerance < deviation <= max(1e4 * tolerance, 1e-9)


def _forward_failed(exc: BaseException, work: str, model_dtype: torch.dtype) -> str:
    """The forward pass's error, with the copy's dtype named for what it is: a "Long and Double"
    is the user's Long input meeting the scan's float64 copy of a float32 model."""
    own = str(model_dtype).removeprefix("torch.")
    copy = {"float64": "Double", "float32": "Float", "float16": "Half", "bfloat16": "BFloat16"}.get(
        work, work
    )
    return (
        f"the model's forward pass raised {_first_line(exc)} (the scan runs a {work} copy of your "
        f"{own} model, floating inputs cast to {work}, integer inputs left as they are: {copy} "
        f"here is the copy's dtype, {own} in your model)"
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
