"""What an implementation gives the check: a batched forward pass, and what the tolerance needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from invcheck.evidence import EpsInfo

if TYPE_CHECKING:
    from invcheck.layer_kinds import LayerKind
    from invcheck.settings import LayerConfig

Tensor = torch.Tensor
# because a table runs every norm on the same draw: below this many entries, a draw keeps its
# stacked inputs and summed inputs for the next norm (above it, memory matters more).
CACHE_ENTRIES = 1 << 20


@dataclass
class Draw:
    """One check's random draw, float64 on CPU, trials on axis 0."""

    x: Tensor  # X  [T, N, ...] in the layer kind's layout
    w: Tensor  # W  [T, H, ...]
    x2: Tensor  # X' (transformed)
    w2: Tensor  # W'
    g: Tensor  # gain [T, C]
    b: Tensor  # bias [T, C]
    warmup: list[Tensor] = field(default_factory=list)  # X batches seen in train mode before eval
    # Work on these inputs that checks of other norms can reuse (measure.py, reference.py); what a
    # value is depends on its key (a tensor, a pair of them, ...), so the values are Any.
    cache: dict[tuple[Any, ...] | str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def trials(self) -> int:
        return self.x.shape[0]

    def summed(self, kind: LayerKind, layer: LayerConfig, x: Tensor, w: Tensor) -> Tensor:
        """kind.summed, remembered for inputs this draw keeps (its own X and W, or its stacked copies):
        a table's norms, a check's runs with eps and without, and the 0/0 test of a probe's points
        (zero_sets.py) share it while it is small."""
        key = ("summed", id(x), id(w))
        if key in self.cache:
            return self.cache[key]
        a = kind.summed(layer, x, w)
        kept = [self.x, self.x2, self.w, self.w2]
        kept += [t for k, v in self.cache.items() if k[0] == "stacked" for t in v]
        if a.numel() <= CACHE_ENTRIES and any(v is x for v in kept) and any(v is w for v in kept):
            self.cache[key] = a  # both alive as long as the draw: their ids cannot be reused
        return a


@dataclass
class Forward:
    """y = fn(X, W) in the checked dtype and device, canonical: [T', N, C, *positions].

    T' may be any multiple of the check's trials T: entry t' runs with trial t' mod T's layer
    (its gains, its module), so that perturbed copies of the inputs run in one call.
    eps_info says which eps the layer adds (torch's own defaults for PyTorch layers, an attribute
    of user code) and whether it could be switched off; gain is per trial and unit ([T, C], float64).
    """

    fn: Callable[[Tensor, Tensor], Tensor]
    eps_info: EpsInfo
    gain: Tensor
    state: object = None  # float64 running statistics (eval mode)

    def __call__(self, x: Tensor, w: Tensor) -> Tensor:
        return self.fn(x, w)


def tile(t: Tensor, trials_seen: int) -> Tensor:
    """A per-trial tensor [T, ...] repeated to cover T' = k T trials (see Forward)."""
    k = trials_seen // t.shape[0]
    return t if k == 1 else t.repeat(k, *([1] * (t.dim() - 1)))
