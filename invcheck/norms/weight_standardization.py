"""Weight Standardization (Qiao, Wang, Liu, Shen, Yuille 2019): each unit's incoming weights w_i
standardized to mean 0 and standard deviation 1 before the layer runs, W_hat = (W - mean_i) / std_i,
then a = X W_hat^T and y = g a + b. A norm of the weights, like weight_norm: no statistics of the
data. Usually followed by GroupNorm; here it stands alone, so that its own invariances show.

PyTorch's version: no torch.nn layer; timm's StdConv2d computes it with torch's batch_norm over
the weight viewed as [1, C_out, fan-in] (eps 1e-6 inside the root), which is what runs here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invcheck.norms.arrays import Array, ArrayOps
from invcheck.norms.base import Norm, TorchNorm, TorchSetup, fan_in_axes, moments

if TYPE_CHECKING:
    from torch import Tensor

    from invcheck.settings import NormConfig


class WeightStandardization(Norm):
    id = "weight_standardization"
    doc = "no statistics of the data: each unit's weights standardized to mean 0, std 1"
    formula = "ŵ_i = (w_i − mean w_i) / √(mean (w_i − mean w_i)² + ε), then a = X Ŵᵀ (from the weights)"
    acts_on = "weights"
    torch_eps = 1e-6  # timm's StdConv2d

    def statistics(
        self, v: Array, xp: ArrayOps, cfg: NormConfig, per_token: bool = False, state: Any = None
    ) -> tuple[Array, Array]:
        return moments(v, fan_in_axes(v), xp)  # W [T, C, *fan-in]: per unit, over its incoming weights

    def torch_norm(self, setup: TorchSetup) -> TorchNorm:
        """Maps one trial's W to the effective weight g * W_hat (timm's StdConv2d)."""
        import torch.nn.functional as F

        eps = self.torch_eps if setup.eps is None else setup.eps
        eps = eps or 5e-324  # torch's batch_norm refuses 0: the smallest double, 0 in every sum here
        g = setup.g.reshape(-1, *([1] * (len(setup.kind.weight_shape(setup.layer)) - 1)))  # [C, 1, *1]

        def effective(w: Tensor) -> Tensor:
            flat = w.reshape(1, w.shape[0], -1)  # [1, C, fan-in]: batch_norm's channels are the units
            standardized = F.batch_norm(flat, None, None, training=True, momentum=0.0, eps=eps)
            return standardized.reshape_as(w) * g

        return TorchNorm(effective, None, setup.g.double().cpu())
