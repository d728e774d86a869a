"""What the usual rules of thumb decide for each tensor, beside the exact answer of a scan.

Four rules, each implemented as its own source does it (read, not paraphrased):

- `adamp`: AdamP/SGDP's projection test (clovaai/AdamP `adamp/adamp.py` `_projection`, copied as is
  into timm's `timm/optim/adamp.py` `projection`). Only for tensors with more than one dimension:
  the |cosine| between the gradient and the tensor, per output channel (`view(p.size(0), -1)`),
  then over the whole tensor (`view(1, -1)`), against delta / sqrt(length of the view's rows),
  delta = 0.1, cosine eps = 1e-8 (the optimizer's eps). Either view firing = "projected", the
  optimizer's own name for scale-invariant. It depends on the gradient, so it is run on a few seeded
  batches and decided by majority.
- `timm`: timm's `param_groups_weight_decay` (`timm/optim/_param_groups.py`): no decay where
  `param.ndim <= 1 or name.endswith(".bias")`, or where the name matches (fnmatch) an entry of the
  model's `no_weight_decay()` set, as `create_optimizer_v2` passes it.
- `hf_trainer`: Hugging Face Trainer's `get_decay_parameter_names` (transformers 5.25,
  `trainer.py` with `trainer_pt_utils.get_parameter_names`): no decay for every parameter inside an
  `nn.LayerNorm` (by class), and for every name whose lower-cased dotted path matches one of the
  regular expressions `bias`, `layernorm`, `rmsnorm`, `(?:^|\\.)norm(?:$|\\.)`, `_norm(?:$|\\.)`.
- `nanogpt`: nanoGPT's `configure_optimizers`: decay iff `p.dim() >= 2`.

Each rule's "no decay" (AdamP: "projected") is read as its claim that the tensor is scale-invariant:
that weight decay on it does not regularize but only sets its effective learning rate (η/‖w‖²). The
exact answer is the scan's: a tensor is scale-invariant when its `weight_matrix_rescale` verdict is
`invariant` at generic values (not `at_these_values_only`); a tensor whose verdict is inconclusive or
undefined has no exact answer and is left out of the counts.
"""

from __future__ import annotations

import copy
import fnmatch
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from invcheck.scan.report import ScanReport

HEURISTICS: tuple[str, ...] = ("adamp", "timm", "hf_trainer", "nanogpt")
LABELS: dict[str, str] = {
    "adamp": "AdamP/SGDP projection",
    "timm": "timm no-decay",
    "hf_trainer": "HF Trainer no-decay",
    "nanogpt": "nanoGPT no-decay",
}
# Short column heads for tables: what the rule says when it calls a tensor scale-invariant.
HEADS: dict[str, str] = {"adamp": "AdamP", "timm": "timm", "hf_trainer": "HF", "nanogpt": "nanoGPT"}

ADAMP_DELTA = 0.1  # AdamP's and SGDP's default `delta`
ADAMP_EPS = 1e-8  # AdamP's default `eps`, which its cosine similarity uses
BATCHES = 5  # odd: a majority always decides

# transformers' Trainer.get_decay_parameter_names (4.57): matched against the lower-cased name.
HF_FORBIDDEN_NAME_PATTERNS: tuple[str, ...] = (
    r"bias",
    r"layernorm",
    r"rmsnorm",
    r"(?:^|\.)norm(?:$|\.)",
    r"_norm(?:$|\.)",
)
HF_RULE_VERSION = "transformers 5.25"


# The rules that need no gradient ---------------------------------------------------------------


def timm_no_decay(name: str, ndim: int, no_weight_decay_list: Iterable[str] = ()) -> bool:
    """timm's `param_groups_weight_decay` with `weight_decay_exclude_1d=True` (its default)."""
    matches_pattern = any(fnmatch.fnmatch(name, pattern) for pattern in no_weight_decay_list)
    return ndim <= 1 or name.endswith(".bias") or matches_pattern


def nanogpt_no_decay(ndim: int) -> bool:
    """nanoGPT: `decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]`."""
    return ndim < 2


def hf_decay_names(model: Any) -> list[str]:
    """The names transformers' Trainer decays (`get_decay_parameter_names`), without transformers:
    `get_parameter_names(model, [nn.LayerNorm], forbidden_name_patterns)` as its source does it,
    recursively by child, so a parameter under a LayerNorm at any depth is spared."""
    from torch import nn

    patterns = [re.compile(p) for p in HF_FORBIDDEN_NAME_PATTERNS]
    return _hf_parameter_names(model, (nn.LayerNorm,), patterns)


def _hf_parameter_names(
    model: Any, forbidden_types: tuple[type, ...], patterns: list[re.Pattern]
) -> list[str]:
    result = []
    for name, child in model.named_children():
        child_params = _hf_parameter_names(child, forbidden_types, patterns)
        result += [
            f"{name}.{n}"
            for n in child_params
            if not isinstance(child, forbidden_types)
            and not any(p.search(f"{name}.{n}".lower()) for p in patterns)
        ]
    # the module's own parameters (not in any child)
    result += [k for k in model._parameters if not any(p.search(k.lower()) for p in patterns)]
    return result


def model_no_weight_decay(model: Any) -> set[str]:
    """The model's own `no_weight_decay()` set (timm models: pos_embed, cls_token), else empty."""
    method = getattr(model, "no_weight_decay", None)
    if not callable(method):
        return set()
    try:
        return set(method())
    except Exception:  # a method of that name with another meaning: timm would fail; we ignore it
        return set()


# AdamP's test -------------------------------------------------------------------------------------


def adamp_projects(param: Any, grad: Any, delta: float = ADAMP_DELTA, eps: float = ADAMP_EPS) -> str | None:
    """The view for which AdamP's `_projection` fires ("channel" or "layer"), or None.

    As in the source: tried only for `len(p.shape) > 1`, channel view first; each view's |cosine|
    max against delta / sqrt(view(p).size(1))."""
    import torch.nn.functional as F

    if len(param.shape) <= 1:
        return None
    views = {
        "channel": lambda x: x.reshape(x.size(0), -1),
        "layer": lambda x: x.reshape(1, -1),
    }
    for view_name, view in views.items():
        cosine_sim = F.cosine_similarity(view(grad), view(param), dim=1, eps=eps).abs_()
        if cosine_sim.max() < delta / math.sqrt(view(param).size(1)):
            return view_name
    return None


@dataclass(frozen=True)
class AdampCount:
    """How often AdamP's test fired for one tensor, over the batches."""

    fired: int
    batches: int
    views: tuple[str, ...]  # the view that fired, batch by batch ("channel", "layer"; "" for none)

    @property
    def projected(self) -> bool:
        """The majority of batches (AdamP decides anew at every step)."""
        return self.fired * 2 > self.batches


def adamp_counts(
    model: Any,
    inputs: Any,
    *,
    mode: str = "eval",
    output: str | None = None,
    seed: int = 0,
    batches: int = BATCHES,
) -> dict[str, AdampCount]:
    """AdamP's test for every parameter, on `batches` seeded batches.

    A batch: the inputs re-drawn alike (float tensors from a normal with each tensor's own mean and
    spread; integer tensors with more than two values, such as token ids, uniformly in their own
    [min, max]; masks and other 0/1 tensors kept), and the loss `sum(output * R)` with R a seeded
    standard normal of the output's shape: an arbitrary direction, as a real loss's gradient is.
    The model runs on a copy, in the scan's mode, so its running statistics are left untouched."""
    import torch

    if inputs is None:
        raise ValueError("AdamP's test needs the inputs the model was scanned on")
    work = copy.deepcopy(model)
    _set_mode(work, mode)
    named = [(n, p) for n, p in work.named_parameters() if p.is_floating_point()]
    for _, p in named:  # frozen tensors too: AdamP would see their gradient if they trained
        p.requires_grad_(True)
    generator = torch.Generator().manual_seed(seed)
    fired: dict[str, list[str]] = {n: [] for n, _ in named}
    for b in range(batches):
        batch = inputs if b == 0 else _redraw(inputs, generator)
        out = _output_tensor(_call(work, batch), output)
        direction = torch.randn(out.shape, generator=generator, dtype=torch.float64)
        direction = direction.to(device=out.device, dtype=out.dtype)
        loss = (out * direction).sum()
        params = [p for _, p in named]
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        for (name, p), g in zip(named, grads):
            g = torch.zeros_like(p) if g is None else g  # unused this batch: AdamP sees a zero gradient
            fired[name].append(adamp_projects(p.detach(), g.detach()) or "")
    return {n: AdampCount(sum(bool(v) for v in views), batches, tuple(views)) for n, views in fired.items()}


def _set_mode(model: Any, mode: str) -> None:
    """The scan's own modes (eval; train: batch statistics, running ones untouched, no dropout)."""
    from invcheck.scan.prepare import _set_mode as scan_mode

    scan_mode(model, mode)


def _call(model: Any, inputs: Any) -> Any:
    """The model on `inputs`, guarded as the scan's own passes are (passes.call_user): a SystemExit
    or KeyboardInterrupt in its forward is one error line (exit 2), not the end of the run."""
    from invcheck.errors import InvcheckError
    from invcheck.scan.passes import ModelExit, call_user

    args, kwargs = (
        ((), inputs)
        if isinstance(inputs, Mapping)
        else (tuple(inputs), {})
        if isinstance(inputs, (tuple, list))
        else ((inputs,), {})
    )
    try:
        return call_user(model, *args, **kwargs)
    except ModelExit as exc:
        raise InvcheckError(str(exc)) from None


def _output_tensor(out: Any, field_name: str | None) -> Any:
    """The tensor the scan checks (its own rule: the field asked for; else logits, else
    last_hidden_state, else the first tensor)."""
    from invcheck.scan.passes import select_output

    return select_output(out, field_name)


def _redraw(inputs: Any, generator: Any) -> Any:
    import torch

    if isinstance(inputs, Mapping):
        return {k: _redraw(v, generator) for k, v in inputs.items()}
    if isinstance(inputs, (tuple, list)):
        return type(inputs)(_redraw(v, generator) for v in inputs)
    if not isinstance(inputs, torch.Tensor):
        return inputs
    if inputs.is_floating_point():
        spread = float(inputs.std()) if inputs.numel() > 1 else 1.0
        fresh = torch.randn(inputs.shape, generator=generator, dtype=torch.float64)
        return (fresh * (spread or 1.0) + float(inputs.mean())).to(device=inputs.device, dtype=inputs.dtype)
    if inputs.dtype == torch.bool:
        return inputs
    low, high = int(inputs.min()), int(inputs.max())
    if high - low <= 1:  # attention masks, token type ids
        return inputs
    return torch.randint(low, high + 1, inputs.shape, generator=generator).to(
        device=inputs.device, dtype=inputs.dtype
    )


# Beside the exact answer -----------------------------------------------------------------------


def exact_scale_invariant(report: ScanReport, name: str) -> bool | None:
    """The scan's answer: `weight_matrix_rescale` invariant at generic values. None where there is
    no answer (inconclusive, undefined, or the tensor was not scanned under that transform)."""
    try:
        p = report.verdict_of(name, "weight_matrix_rescale")
    except KeyError:
        return None
    if p.verdict == "invariant":
        return not p.at_these_values_only
    if p.verdict == "not_invariant":
        return False
    return None


@dataclass(frozen=True)
class TensorCalls:
    """One tensor: its exact answer and what each rule calls it (True: scale-invariant / no decay)."""

    name: str
    shape: tuple[int, ...]
    exact: bool | None
    calls: dict[str, bool]
    adamp: AdampCount | None = None

    @property
    def is_matrix(self) -> bool:
        return len(self.shape) >= 2

    def disagrees(self, heuristic: str) -> bool:
        return self.exact is not None and heuristic in self.calls and self.calls[heuristic] != self.exact

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "exact_scale_invariant": self.exact,
            "calls": dict(self.calls),
            # None where AdamP never looks (1-D tensors) or did not run
            "adamp_fired": None if self.adamp is None or not self.is_matrix else self.adamp.fired,
            "adamp_batches": None if self.adamp is None or not self.is_matrix else self.adamp.batches,
        }


@dataclass(frozen=True)
class Agreement:
    """One rule against the exact answer, over the tensors that have one."""

    heuristic: str
    scope: str  # "all" | "matrices" (ndim >= 2)
    agree: int
    total: int
    false_invariant: int  # the rule says scale-invariant / no decay; exactly, it is not
    missed_invariant: int  # the rule says not / decay; exactly, it is scale-invariant

    @property
    def rate(self) -> float:
        return self.agree / self.total if self.total else math.nan

    def to_json(self) -> dict[str, Any]:
        return {
            "heuristic": self.heuristic,
            "scope": self.scope,
            "agree": self.agree,
            "total": self.total,
            "rate": None if not self.total else self.rate,
            "false_invariant": self.false_invariant,
            "missed_invariant": self.missed_invariant,
        }


@dataclass(frozen=True)
class HeuristicsReport:
    """Every tensor's calls, and each rule's agreement with the exact answer."""

    tensors: tuple[TensorCalls, ...]
    batches: int
    heuristics: tuple[str, ...] = HEURISTICS
    notes: dict[str, str] = field(default_factory=dict)

    def calls_of(self, name: str) -> TensorCalls:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def agreement(self, heuristic: str, scope: str = "all") -> Agreement:
        chosen = [t for t in self.tensors if t.exact is not None and heuristic in t.calls]
        if scope == "matrices":
            chosen = [t for t in chosen if t.is_matrix]
        agree = sum(t.calls[heuristic] == t.exact for t in chosen)
        false_inv = sum(t.calls[heuristic] and not t.exact for t in chosen)
        missed = sum(not t.calls[heuristic] and bool(t.exact) for t in chosen)
        return Agreement(heuristic, scope, agree, len(chosen), false_inv, missed)

    def agreements(self) -> list[Agreement]:
        return [self.agreement(h, scope) for h in self.heuristics for scope in ("all", "matrices")]

    def to_json(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "hf_rule": HF_RULE_VERSION,
            "tensors": [t.to_json() for t in self.tensors],
            "agreement": [a.to_json() for a in self.agreements()],
            "notes": dict(self.notes),
        }


# Text for tables (terminal and Markdown) ---------------------------------------------------------


def cell(calls: TensorCalls | None, heuristic: str) -> str:
    """One rule's call on one tensor: ✓ scale-invariant / no decay, ✗ not; AdamP with the batches
    that fired (3/5) on a matrix; " !" where the call differs from the exact answer."""
    if calls is None or heuristic not in calls.calls:
        return ""
    text = "✓" if calls.calls[heuristic] else "✗"
    if heuristic == "adamp" and calls.adamp is not None and len(calls.shape) > 1:
        text += f" {calls.adamp.fired}/{calls.adamp.batches}"
    return text + (" !" if calls.disagrees(heuristic) else "")


def exact_cell(calls: TensorCalls | None) -> str:
    return "" if calls is None or calls.exact is None else ("✓" if calls.exact else "✗")


def summary_lines(report: HeuristicsReport) -> list[str]:
    """One line per rule: its agreement with the exact answer, on all tensors and on matrices."""
    lines = []
    for h in report.heuristics:
        whole, matrices = report.agreement(h), report.agreement(h, "matrices")
        lines.append(
            f"{LABELS[h]}: agrees on {rate(whole.agree, whole.total)} of tensors, "
            f"{rate(matrices.agree, matrices.total)} of matrices; "
            f"says invariant where not: {whole.false_invariant}, misses an invariant: {whole.missed_invariant}"
        )
    return lines


def rate(agree: int, total: int) -> str:
    return f"{agree}/{total} ({100 * agree / total:.1f}%)" if total else "0/0"


def compare(
    model: Any,
    report: ScanReport,
    inputs: Any,
    *,
    mode: str | None = None,
    output: str | None = None,
    seed: int = 0,
    batches: int = BATCHES,
    heuristics: Sequence[str] = HEURISTICS,
) -> HeuristicsReport:
    """Each rule's call on every parameter tensor of `model`, beside `report`'s exact answer.

    `inputs` as for the scan (a tensor, a tuple of positional tensors, a dict of keyword tensors);
    `mode` defaults to the report's. AdamP's test runs on the model in that mode."""
    unknown = [h for h in heuristics if h not in HEURISTICS]
    if unknown:
        raise ValueError(f"unknown heuristic {unknown[0]!r}: choose from {', '.join(HEURISTICS)}")
    mode = mode or report.mode
    adamp = (
        adamp_counts(model, inputs, mode=mode, output=output, seed=seed, batches=batches)
        if "adamp" in heuristics
        else {}
    )
    hf = set(hf_decay_names(model)) if "hf_trainer" in heuristics else set()
    no_wd = model_no_weight_decay(model)
    tensors = []
    for name, p in model.named_parameters():
        if not p.is_floating_point():
            continue
        ndim = p.dim()
        calls: dict[str, bool] = {}
        if "adamp" in heuristics:
            calls["adamp"] = adamp[name].projected
        if "timm" in heuristics:
            calls["timm"] = timm_no_decay(name, ndim, no_wd)
        if "hf_trainer" in heuristics:
            calls["hf_trainer"] = name not in hf
        if "nanogpt" in heuristics:
            calls["nanogpt"] = nanogpt_no_decay(ndim)
        exact = exact_scale_invariant(report, name)
        tensors.append(TensorCalls(name, tuple(p.shape), exact, calls, adamp.get(name)))
    return HeuristicsReport(tuple(tensors), batches, tuple(heuristics))
