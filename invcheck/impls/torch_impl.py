"""impl torch: PyTorch's own norm layers (or functional calls) in place of the reference math.

Each norm builds its PyTorch version (`Norm.torch_norm`); this module only runs them over the
trials, inside the layer kind's forward pass:
- "fold" norms (batch_norm) run every trial in one call: trials folded into channels, so one
  layer over T*C channels has exactly the per-trial, per-channel statistics and gains;
- the per-case norms run one layer per trial, each with its trial's own g and b, in a plain loop
  (each call is the real layer's forward, unchanged; vmap would swap in its batching rules);
- the weight norms compute each trial's effective weight (PyTorch's weight_norm parametrization;
  timm's batch_norm form of weight standardization), through which the layer runs.
The affine parameters come from the check's draw, cast to the checked dtype.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial

import torch

from invcheck import tolerance as tol
from invcheck.errors import SpecError
from invcheck.evidence import EpsInfo
from invcheck.impls import reference
from invcheck.impls.base import Draw, Forward, Tensor, tile
from invcheck.impls.reference import unit_shape
from invcheck.norms import Norm, TorchNorm, TorchSetup, get_norm, opmath
from invcheck.norms.arrays import TORCH
from invcheck.placements import spread_guard
from invcheck.settings import CheckConfig


def resolve_eps(check: CheckConfig, norm: Norm, dtype: torch.dtype) -> tuple[float | None, EpsInfo]:
    """The eps passed to torch, and what torch really adds (and where that came from).

    A nonzero `eps` is used as given. eps 0 (the default) means torch's own default while
    `torch_eps` is true, and really 0 when it is false.
    """
    cfg = check.norm
    if cfg.eps or not cfg.torch_eps:
        return cfg.eps, EpsInfo(cfg.eps, "the spec" if cfg.eps else "none")
    if norm.torch_eps is None:
        return None, EpsInfo(
            torch.finfo(opmath(dtype)).eps, f"torch's default for {norm.id}: finfo(dtype).eps"
        )
    return norm.torch_eps, EpsInfo(
        norm.torch_eps, f"torch's default for {norm.id}" if norm.torch_eps else "none"
    )


def build(
    check: CheckConfig,
    draw: Draw,
    dtype: torch.dtype,
    device: torch.device,
    eps_off: bool = False,
    eps_dtype: torch.dtype | None = None,
) -> Forward:
    norm = get_norm(check.norm.id)
    passed, eps = resolve_eps(check, norm, eps_dtype or dtype)
    if passed is None and eps_dtype not in (None, dtype):  # the checked dtype's default, given explicitly
        passed = eps.value
    if _one_entry_sets(check, norm):
        # torch refuses statistics of one entry in training ("Expected more than 1 value per
        # channel"); the definition's math gives their 0/0 (undefined), as the reference does
        off = replace(check.norm, impl="reference", eps=passed or 0.0)
        fwd = reference.build(replace(check, norm=off), draw, dtype, device, eps_off, eps_dtype)
        fwd.eps_info = eps
        return fwd
    guard = lambda fn: fn  # noqa: E731
    # BatchNorm refuses 0 (eps off, or torch_eps false with eps 0: "really 0"); a zero spread then
    # gives NaN, as the definition's 0/0
    if eps_off or (not passed and not check.norm.torch_eps and norm.has_eps):
        passed, guard = tol.EPS_OFF, spread_guard(check.layer, check.norm.id, check.norm)
    trials = _Trials(check, norm, draw, passed, eps, dtype, device)
    with refusals(check):
        if norm.torch_batches == "fold":
            fwd = _folded(check, norm, draw, passed, eps, dtype, device, guard)
        elif norm.acts_on == "weights":
            fwd = _on_weights(trials)
        else:
            fwd = _per_trial(trials, guard)
    inner = fwd.fn

    def guarded(x: Tensor, w: Tensor) -> Tensor:
        with refusals(check):
            return inner(x, w)

    fwd.fn = guarded
    return fwd


def _one_entry_sets(check: CheckConfig, norm: Norm) -> bool:
    """Whether each of the norm's statistic sets has one entry (instance_norm at one position,
    batch_norm over one case): its statistics over what it sees have that shape."""
    if norm.acts_on != "data":
        return False
    kind, layer = check.layer.kind_spec, check.layer
    a = torch.zeros(1, layer.cases, layer.channels, *kind.norm_positions(layer), dtype=torch.float64)
    stats = norm.statistics(a, TORCH, check.norm, kind.per_token_statistics)
    return stats is not None and torch.as_tensor(stats[0]).numel() == a.numel()


@contextlib.contextmanager
def refusals(check: CheckConfig) -> Iterator[None]:
    """torch refusing the settings (a dtype the device lacks, say): one line at the check's
    file:line, not a traceback."""
    try:
        yield
    except (ValueError, RuntimeError, NotImplementedError) as exc:
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SpecError(
            f"torch refused {check.norm.id} ({check.dtype}): {message}",
            check.file,
            check.line,
            hint="change the spec, or use impl: reference",
        ) from None


def _setup(
    check: CheckConfig, g: Tensor, b: Tensor, eps: float | None, dtype: torch.dtype, device: torch.device
) -> TorchSetup:
    return TorchSetup(
        check.layer.kind_spec,
        check.layer,
        check.norm,
        g.to(device, dtype),
        b.to(device, dtype),
        eps,
        check.norm.api == "functional",
    )


@dataclass(frozen=True)
class _Trials:
    """What a forward with one torch norm per trial is built from (the per-case and weight norms)."""

    check: CheckConfig
    norm: Norm
    draw: Draw
    passed: float | None  # the eps given to torch
    eps: EpsInfo  # what torch really adds
    dtype: torch.dtype
    device: torch.device

    def norms(self) -> list[TorchNorm]:
        """Trial t's torch norm, with trial t's own g and b."""
        g, b = self.draw.g, self.draw.b
        return [
            self.norm.torch_norm(_setup(self.check, g[t], b[t], self.passed, self.dtype, self.device))
            for t in range(self.draw.trials)
        ]


def _per_trial(trials: _Trials, guard: Callable = lambda fn: fn) -> Forward:
    check, norms = trials.check, trials.norms()
    _set_mode(check, norms)
    kind, t_count = check.layer.kind_spec, trials.draw.trials

    def apply(a: Tensor) -> Tensor:  # [T', N, C, *pos]
        return torch.stack([norms[t % t_count].fn(a[t]) for t in range(a.shape[0])])

    return Forward(
        lambda x, w: kind.run(check.layer, x, w, guard(apply), summed=partial(trials.draw.summed, kind)),
        trials.eps,
        gain=torch.stack([n.gain for n in norms]),
    )


def _folded(
    check: CheckConfig,
    norm: Norm,
    draw: Draw,
    passed: float | None,
    eps: EpsInfo,
    dtype: torch.dtype,
    device: torch.device,
    guard: Callable = lambda fn: fn,
) -> Forward:
    """One layer over T*C channels; trial t owns channels t*C .. t*C + C-1."""
    tn = norm.torch_norm(_setup(check, draw.g.flatten(), draw.b.flatten(), passed, dtype, device))
    kind, t_count = check.layer.kind_spec, draw.trials

    def apply(a: Tensor) -> Tensor:  # [T', N, C, *pos], T' = k T: k calls of the folded layer
        return torch.cat([_unfold(tn.fn(_fold(part)), t_count) for part in a.split(t_count)])

    state = None
    if check.norm.mode == "eval":
        state = _warm_up(check, tn, draw, apply, dtype, device)
    _set_mode(check, [tn])
    return Forward(
        lambda x, w: kind.run(check.layer, x, w, guard(apply), summed=partial(draw.summed, kind)),
        eps,
        gain=tn.gain.reshape(t_count, -1),
        state=state,
    )


def _fold(a: Tensor) -> Tensor:
    """[T, N, C, *pos] -> [N, T*C, *pos]."""
    return a.transpose(0, 1).reshape(a.shape[1], -1, *a.shape[3:])


def _unfold(y: Tensor, trials: int) -> Tensor:
    """[N, T*C, *pos] -> [T, N, C, *pos]."""
    return y.reshape(y.shape[0], trials, -1, *y.shape[2:]).transpose(0, 1)


def _warm_up(
    check: CheckConfig, tn: TorchNorm, draw: Draw, apply, dtype: torch.dtype, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Warm-up batches through the original W in train mode; the real running stats, float64."""
    tn.module.train(True)
    w = draw.w.to(device, dtype)
    for x in draw.warmup:  # [T, N, ...]
        check.layer.kind_spec.run(check.layer, x.to(device, dtype), w, apply)
    shape = unit_shape(check, draw.trials)
    mean, var = tn.module.running_mean, tn.module.running_var  # [T*C]
    return mean.double().cpu().reshape(shape), var.double().cpu().reshape(shape)


def _on_weights(trials: _Trials) -> Forward:
    """A weight norm: the layer runs through each trial's effective weight; the bias is added after,
    as PyTorch's weight-normed layers here have none."""
    check, norm, draw = trials.check, trials.norm, trials.draw
    if check.norm.eps and not norm.has_eps:
        raise SpecError(
            f"eps {check.norm.eps:g}: torch's {norm.id} has no eps",
            check.file,
            check.line,
            check.norm.eps,
            "remove eps, or use impl: reference",
        )
    norms = trials.norms()
    b = draw.b.reshape(unit_shape(check, draw.trials)).to(trials.device, trials.dtype)
    kind, t_count = check.layer.kind_spec, draw.trials

    def fn(x: Tensor, w: Tensor) -> Tensor:
        eff = torch.stack([norms[t % t_count].fn(w[t]) for t in range(w.shape[0])])
        bb = tile(b, x.shape[0])
        return kind.run(check.layer, x, eff, lambda a: a + bb)

    info = trials.eps if norm.has_eps else EpsInfo()  # weight_norm: PyTorch's has none
    return Forward(fn, info, gain=torch.stack([n.gain for n in norms]))


def _set_mode(check: CheckConfig, norms: list[TorchNorm]) -> None:
    for n in norms:
        if n.module is not None:
            n.module.train(check.norm.mode == "train")
