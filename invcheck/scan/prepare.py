"""The model a scan works on: a deep copy in the scan's dtype, in its mode, with its eps switchable.

The user's model is never touched: everything here acts on the copy, made once and reused for every
tensor. Train mode means batch statistics without updating the running ones (momentum 0) and no
randomness (dropout modules in eval mode, dropout probabilities 0).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from invcheck import tolerance as tol
from invcheck.errors import InvcheckError

Tensor = torch.Tensor

MODES = ("eval", "train")
# Attributes that hold a norm's eps: torch's, transformers' (LlamaRMSNorm), other libraries'.
EPS_NAMES = ("eps", "epsilon", "variance_epsilon", "layer_norm_eps")
# Float attributes that set a dropout probability inside a module's forward (transformers' attention).
_DROPOUT_WORDS = ("dropout", "pdrop", "drop_prob", "drop_rate")
# Config fields that turn dropout on in transformers models.
_CONFIG_DROPOUT = (
    "attention_dropout",
    "attention_probs_dropout_prob",
    "hidden_dropout_prob",
    "hidden_dropout",
    "resid_pdrop",
    "embd_pdrop",
    "attn_pdrop",
    "summary_first_dropout",
    "classifier_dropout",
    "dropout",
)


@dataclass
class EpsSlot:
    """One eps the copy keeps: where, and its value as the model has it."""

    owner: nn.Module
    attr: str
    path: str
    value: Any  # float, a one-element tensor's float, or None (torch's default for the dtype)

    def set(self, value: float) -> None:
        current = getattr(self.owner, self.attr)
        if isinstance(current, Tensor):
            with torch.no_grad():
                current.fill_(value)
        else:
            setattr(self.owner, self.attr, value)


@dataclass
class Prepared:
    model: nn.Module  # the working copy
    inputs: tuple[tuple[Any, ...], dict[str, Any]]  # positional, keyword
    eps: list[EpsSlot] = field(default_factory=list)
    model_dtype: torch.dtype = torch.float32  # the user's model's floating dtype
    device: torch.device | None = None

    def eps_on(self) -> None:
        for slot in self.eps:
            slot.set(slot.value)

    def eps_off(self) -> None:
        for slot in self.eps:
            slot.set(tol.EPS_OFF)


def prepare(model: Any, inputs: Any, mode: str, input_shape: Any, dtype: torch.dtype, seed: int) -> Prepared:
    """The working copy and its inputs, in `dtype` (floating tensors only: token ids stay integers)."""
    if not isinstance(model, nn.Module):
        raise InvcheckError(f"scan needs a torch.nn.Module, got {type(model).__name__}")
    if mode not in MODES:
        raise InvcheckError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    model_dtype = _floating_dtype(model)
    device = _device(model)
    work = copy.deepcopy(model)
    work.to(dtype=dtype)
    for p in work.parameters():
        p.requires_grad_(False)
    _set_mode(work, mode)
    if inputs is None:
        if input_shape is None:
            raise InvcheckError(
                "no inputs: give inputs (or have the factory return (model, inputs)), or an input shape"
            )
        gen = torch.Generator().manual_seed(seed ^ 0x1A9)
        inputs = torch.randn(tuple(int(s) for s in input_shape), generator=gen, dtype=torch.float64)
    args, kwargs = _split(inputs)
    args = tuple(_to(a, dtype, device) for a in args)
    kwargs = {k: _to(v, dtype, device) for k, v in kwargs.items()}
    slots = list(_eps_slots(work, model_dtype))
    return Prepared(work, (args, kwargs), slots, model_dtype, device)


def _floating_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def _device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _split(inputs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if isinstance(inputs, dict):
        return (), dict(inputs)
    if isinstance(inputs, (tuple, list)):
        return tuple(inputs), {}
    return (inputs,), {}


def _to(value: Any, dtype: torch.dtype, device: torch.device) -> Any:
    """Floating tensors to the scan's dtype (integers, token ids and masks, stay as they are)."""
    if isinstance(value, Tensor):
        value = value.to(device)
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, (tuple, list)):
        return type(value)(_to(v, dtype, device) for v in value)
    if isinstance(value, dict):
        return {k: _to(v, dtype, device) for k, v in value.items()}
    return value


def _set_mode(work: nn.Module, mode: str) -> None:
    """eval: model.eval(). train: batch statistics, running statistics frozen, no randomness."""
    config = getattr(work, "config", None)
    if config is not None and hasattr(config, "use_cache"):
        config.use_cache = False  # no key/value cache objects carried between passes
    if mode == "eval":
        work.eval()
        return
    work.train()
    if config is not None:
        for name in _CONFIG_DROPOUT:
            if isinstance(getattr(config, name, None), float):
                setattr(config, name, 0.0)
    for module in work.modules():
        name = type(module).__name__
        leaf = next(module.children(), None) is None  # a model named "...Dropout..." is no dropout
        if isinstance(module, nn.modules.dropout._DropoutNd) or (
            leaf and ("Drop" in name or name == "StochasticDepth")
        ):
            module.eval()  # randomness off; nothing else in them
            if isinstance(getattr(module, "p", None), float):
                # transformers' attention reads `.p` with its own training flag
                module.p = 0.0  # type: ignore[assignment]
        if isinstance(module, nn.modules.batchnorm._NormBase):  # BatchNorm*, InstanceNorm*, SyncBatchNorm
            module.momentum = 0.0  # batch statistics used, running statistics not moved
        if isinstance(module, nn.MultiheadAttention):
            module.dropout = 0.0
        for attr, value in list(vars(module).items()):
            if isinstance(value, float) and any(w in attr.lower() for w in _DROPOUT_WORDS):
                setattr(module, attr, 0.0)


def _eps_slots(work: nn.Module, model_dtype: torch.dtype) -> Iterator[EpsSlot]:
    for path, module in work.named_modules():
        for attr in EPS_NAMES:
            if attr not in vars(module):  # a plain attribute, as every norm keeps it
                continue
            value = vars(module)[attr]
            where = f"{path}.{attr}" if path else attr
            if value is None and type(module).__name__ == "RMSNorm":
                # torch's default eps is its dtype's: the model's, not the scan's float64
                yield EpsSlot(module, attr, where, torch.finfo(model_dtype).eps)
            elif isinstance(value, Tensor) and value.numel() == 1 and value.is_floating_point():
                yield EpsSlot(module, attr, where, float(value.item()))
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                yield EpsSlot(module, attr, where, float(value))


def is_norm_like(module: nn.Module) -> bool:
    """A module that normalizes by statistics: a known norm, or one that keeps an eps."""
    name = type(module).__name__
    if "Norm" in name and "WeightNorm" not in name:
        return True
    return any(isinstance(vars(module).get(a), (float, int)) for a in EPS_NAMES)


def statistics_kind(module: nn.Module, dims: int) -> str:
    """How a norm computes its statistics, in words, for `via`."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        batch = module.training or not module.track_running_stats
        return "batch statistics" if batch else "running statistics"
    name = type(module).__name__
    if "Group" in name:
        return "per-group statistics"
    if "Instance" in name:
        return (
            "per-instance statistics"
            if module.training or not getattr(module, "track_running_stats", False)
            else "running statistics"
        )
    if "Batch" in name:
        return "batch statistics" if module.training else "running statistics"
    shape = getattr(module, "normalized_shape", None)
    kept = dims - (len(shape) if isinstance(shape, (tuple, list)) else 1)  # axes not normalized over
    if kept <= 1:
        return "per-sample statistics"
    return "per-token statistics" if dims == 3 else "per-position statistics"
