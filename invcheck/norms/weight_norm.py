"""WeightNorm (Salimans & Kingma 2016): mu = 0, sigma = ||w_i||, from the weights, not the data.

PyTorch's version is torch.nn.utils.parametrizations.weight_norm (or torch._weight_norm): it
computes the effective weight g * v / ||v||, through which the layer then runs unnormalized.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from invcheck.norms.arrays import Array, ArrayOps
from invcheck.norms.base import Norm, TorchNorm, TorchSetup, fan_in_axes

if TYPE_CHECKING:
    from torch import Tensor

    from invcheck.settings import NormConfig


class WeightNorm(Norm):
    id = "weight_norm"
    doc = "no statistics of the data: each unit divided by the norm of its weight vector"
    formula = "w_i / √(‖w_i‖² + ε) (μ = 0, σ = ‖w_i‖, from the weights)"
    acts_on = "weights"
    has_eps = False  # PyTorch's weight_norm has none (the reference adds a given eps inside the root)
    torch_eps = 0.0

    def statistics(
        self, v: Array, xp: ArrayOps, cfg: NormConfig, per_token: bool = False, state: Any = None
    ) -> tuple[Array, Array]:
        return xp.zero(v), xp.sum(v * v, fan_in_axes(v))  # W [T, C, *fan-in]: ||w_i||^2 per unit

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        """Maps one trial's V (the weights W) to PyTorch's effective weight g * V / ||V||."""
        import torch
        from torch import nn
        from torch.nn.utils import parametrizations

        g = setup.g.reshape(-1, *([1] * (len(setup.kind.weight_shape(setup.layer)) - 1)))  # [C, 1, *1]
        if setup.functional:
            return TorchNorm(lambda v: torch._weight_norm(v, g, 0), None, setup.g.double().cpu())
        holder = nn.Module()
        holder.weight = nn.Parameter(
            torch.empty(setup.kind.weight_shape(setup.layer), dtype=g.dtype, device=g.device)
        )
        parametrizations.weight_norm(holder, name="weight", dim=0)
        # made by weight_norm at run time: torch's stubs type a module's attributes Tensor | Module
        parts: Any = cast(Any, holder.parametrizations).weight
        with torch.no_grad():
            parts.original0.copy_(g)  # the spec's gain, not ||W||

        def effective(v: Tensor) -> Tensor:
            with torch.no_grad():
                parts.original1.copy_(v)  # V: the direction is W (or W')
            return cast("Tensor", holder.weight)  # g * V / ||V||, computed by the parametrization

        gain = parts.original0.detach().flatten().double().cpu()
        return TorchNorm(effective, holder, gain)
