"""Where the norm sits in a layer, and what it sees there: a layer kind's pieces composed with the norm.

A layer kind gives X, W and the summed inputs a = f(X, W); a placement says where the norm acts:
- `summed` (the paper's): y = norm(a);
- `post_activation`: y = norm(relu(a)), as networks that put BatchNorm after the ReLU;
- `input`: y = norm(X) W^T, as a pre-norm transformer normalizes a layer's input before its weights.
Whatever it sees, the norm sees it in the canonical layout [T, N, C, *positions] (C: the features it
normalizes), so every norm and every implementation (reference, torch, user code) runs unchanged:
the implementations build a norm function, `LayerKind.run` hands it to the layer's placement.

Imports no torch at module level: the registry is read by the spec validator and `--help`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from torch import Tensor

    from invcheck.layer_kinds.base import LayerKind, NormFn
    from invcheck.norms.base import Norm
    from invcheck.settings import LayerConfig, NormConfig

SummedFn = Callable[..., "Tensor"]  # (layer, x, w) -> a, canonical; a caller may remember it


class Placement:
    """The summed inputs, normalized: y = norm(a), the paper's setting."""

    id: ClassVar[str] = "summed"
    doc: ClassVar[str] = "on the summed inputs, before the non-linearity: y = norm(a) (the paper's)"
    title: ClassVar[str] = "norm on the summed inputs"
    # An activation before the norm can zero every entry of a statistic's set (0/0 with eps off).
    zeroes_sets: ClassVar[bool] = False

    def refusal(self, kind: LayerKind) -> str | None:
        """Why this placement does not exist in a layer of this kind, or None."""
        return None

    def undefined_reason(self, norm: Norm) -> str | None:
        """Why a built-in norm has no meaning in this placement, or None."""
        return None

    def channels(self, kind: LayerKind, layer: LayerConfig) -> int:
        """How many features the norm normalizes (the size of its gain g and bias b)."""
        return kind.channels(layer)

    def norm_positions(self, kind: LayerKind, layer: LayerConfig) -> tuple[int, ...]:
        """The positions of what the norm sees."""
        return kind.summed_positions(layer)

    def activation(self, a: Tensor) -> Tensor:
        """What stands between the summed inputs and the norm (nothing, in the paper's setting)."""
        return a

    def seen(
        self, kind: LayerKind, layer: LayerConfig, x: Tensor, w: Tensor, summed: SummedFn | None = None
    ) -> Tensor:
        """What the norm sees for inputs X and weights W, canonical (warm-up statistics, spreads);
        summed: computes `kind.summed` (a caller may remember it)."""
        return self.activation((summed or kind.summed)(layer, x, w))

    def run(
        self, kind: LayerKind, layer: LayerConfig, x: Tensor, w: Tensor, norm: NormFn, summed: SummedFn
    ) -> Tensor:
        """The layer's output with the norm in this place: [T, N, C, *positions]."""
        return norm(self.activation(summed(layer, x, w)))


class PostActivation(Placement):
    """y = norm(relu(a)): the norm after the non-linearity."""

    id = "post_activation"
    doc = "after the activation: y = norm(relu(a)) (weight_norm: g relu(a / ||w_i||) + b)"
    title = "norm after the activation (ReLU)"
    zeroes_sets = True

    def refusal(self, kind: LayerKind) -> str | None:
        if kind.activation_inside:
            return f"a {kind.id} layer's norm already feeds its own activation (tanh): no ReLU goes before it"
        return None

    def activation(self, a: Tensor) -> Tensor:
        from invcheck.norms.arrays import relu

        return relu(a)


class Input(Placement):
    """y = norm(X) W^T: the norm on the layer's input, before its weights (pre-norm)."""

    id = "input"
    doc = "on the layer's input, before its weights: y = norm(X) W^T (pre-norm transformers)"
    title = "norm on the layer's input"

    def refusal(self, kind: LayerKind) -> str | None:
        if kind.activation_inside:
            return (
                f"a {kind.id} layer's input at each step includes its own state h_t-1: "
                "a norm on it is not one layer's input norm"
            )
        return None

    def undefined_reason(self, norm: Norm) -> str | None:
        if norm.acts_on == "weights":
            return (
                f"{norm.id} divides a unit's summed input by the norm of that unit's weights; "
                "the layer's input belongs to no unit's weights"
            )
        return None

    def channels(self, kind: LayerKind, layer: LayerConfig) -> int:
        return kind.input_channels(layer)

    def norm_positions(self, kind: LayerKind, layer: LayerConfig) -> tuple[int, ...]:
        return kind.input_positions(layer)

    def seen(
        self, kind: LayerKind, layer: LayerConfig, x: Tensor, w: Tensor, summed: SummedFn | None = None
    ) -> Tensor:
        return kind.canonical_input(layer, x)

    def run(
        self, kind: LayerKind, layer: LayerConfig, x: Tensor, w: Tensor, norm: NormFn, summed: SummedFn
    ) -> Tensor:
        # The normalized X is a new tensor: a caller that remembers a = f(X, W) (by X's identity)
        # has nothing for it, and computes it.
        return summed(layer, kind.from_canonical_input(layer, norm(kind.canonical_input(layer, x))), w)


def zero_spread_as_nan(fn: NormFn, norm: Norm, cfg: NormConfig, per_token: bool) -> NormFn:
    """fn, with NaN where a statistic's set has zero spread, as the definition gives it with eps off.

    A ReLU before the norm can zero a whole set; the reference then computes 0/0 (NaN), which makes
    the trial degenerate (measure.py), while PyTorch's layers, given a tiny eps, return b there and
    would make it look like any other trial. The eps-off runs of the other implementations wrap
    their norm in this, so that every implementation reports the same trials as degenerate."""
    if norm.acts_on == "weights" or cfg.mode != "train":
        return fn  # spreads of the weights, or of running statistics: never zero here

    def call(a: Tensor) -> Tensor:
        from invcheck.norms.arrays import TORCH

        y = fn(a)
        stats = norm.statistics(a.double(), TORCH, cfg, per_token)
        if stats is None:  # no statistics (dyt): nothing to be 0/0
            return y
        flat = (stats[1] == 0).expand(a.shape)
        return y.masked_fill(flat.to(y.device), float("nan")) if bool(flat.any()) else y

    return call


def spread_guard(layer: LayerConfig, norm_id: str, cfg: NormConfig) -> Callable[[Any], Any]:
    """What an implementation's eps-off run wraps its norm function in (identity where not needed)."""
    from invcheck.norms import NORMS

    kind, norm = layer.kind_spec, NORMS.get(norm_id)
    # every placement, not only those that zero sets: zero padding, or groups of one entry, give a
    # zero spread too, and every implementation must leave out the trials the reference does
    if norm is None:
        return lambda fn: fn
    return lambda fn: zero_spread_as_nan(fn, norm, cfg, kind.per_token_statistics)


PLACEMENTS: dict[str, Placement] = {p.id: p for p in (Placement(), PostActivation(), Input())}
