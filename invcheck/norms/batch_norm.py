"""BatchNorm: one unit (channel), over all cases and positions.

Train mode uses the batch's own statistics. Eval mode uses running statistics learned from
warm-up batches (through the untransformed layer), so it loses the invariances that come from
re-estimating the statistics on the transformed batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invcheck.layer_kinds.spatial import spatial
from invcheck.norms.arrays import Array, ArrayOps
from invcheck.norms.base import Norm, TorchNorm, TorchSetup, affine_module, moments

if TYPE_CHECKING:
    from torch import Tensor

    from invcheck.settings import NormConfig


class BatchNorm(Norm):
    id = "batch_norm"
    doc = "one unit (channel), all cases and positions; train mode, or eval with running statistics"
    formula = "μ = mean a, σ = √(mean (a − μ)² + ε) (eval: running μ and σ²)"
    torch_batches = "fold"  # T*C channels in one PyTorch layer: per-trial, per-channel statistics
    per_case = False
    params = ("mode", "warmup_batches", "momentum")

    def axes(self, ndim: int) -> tuple[int, ...]:
        """Cases and positions: every axis of [T, N, C, *positions] but the trial's and the unit's."""
        return (1, *range(3, ndim))

    def prepare(self, warmup: list[Tensor], cfg: NormConfig, per_token: bool = False) -> Any:
        """Running mean/var updated as torch.nn.BatchNorm does: from 0 and 1, unbiased var."""
        if cfg.mode != "eval":
            return None
        mean: float | Tensor = 0.0
        var: float | Tensor = 1.0
        m = cfg.momentum
        for a in warmup:  # [T, N, C, *positions]
            dims = self.axes(a.dim())
            mu = a.mean(dims, keepdim=True)  # [T, 1, C, *1]
            n = a.numel() // mu.numel()
            v = ((a - mu) ** 2).sum(dims, keepdim=True) / max(n - 1, 1)
            mean, var = (1 - m) * mean + m * mu, (1 - m) * var + m * v
        return mean, var

    def statistics(
        self, v: Array, xp: ArrayOps, cfg: NormConfig, per_token: bool = False, state: Any = None
    ) -> tuple[Array, Array]:
        if state is not None:  # eval mode: the running statistics (torch tensors)
            mean, var = state
            return mean.to(v), var.to(v)
        return moments(v, self.axes(v.ndim), xp)

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        eps, cfg = 1e-5 if setup.eps is None else setup.eps, setup.cfg
        if setup.functional:
            fbn = FunctionalBatchNorm(setup.g, setup.b, eps, cfg.momentum)
            return TorchNorm(fbn, fbn, setup.g.double().cpu())
        cls = spatial(len(setup.kind.norm_positions(setup.layer))).batch_norm_cls()
        return affine_module(cls(setup.g.shape[0], eps=eps, momentum=cfg.momentum), setup)


class FunctionalBatchNorm:
    """F.batch_norm with its own running statistics, switched like a module by `train`."""

    def __init__(self, g: Tensor, b: Tensor, eps: float, momentum: float) -> None:
        self.g, self.b, self.eps, self.momentum = g, b, eps, momentum
        self.running_mean = g.new_zeros(g.shape)  # torch's initial running statistics
        self.running_var = g.new_ones(g.shape)
        self.training = True

    def __call__(self, a: Tensor) -> Tensor:
        import torch.nn.functional as F

        return F.batch_norm(
            a, self.running_mean, self.running_var, self.g, self.b, self.training, self.momentum, self.eps
        )

    def train(self, mode: bool = True) -> None:
        self.training = mode
