"""What every layer kind shares, and the conventions every other module relies on.

A layer kind says how input cases X and a weight matrix W make the summed inputs a, and where
the norm sits. Tensors carry the trials T as their first axis, and summed inputs and outputs have
one canonical layout, a: [T, N, C, *positions] (cases, normalized units, then positions such as
pixels or tokens), so that every norm reduces over the same numbered axes whatever the kind.
X and W keep the kind's own layout ([T, N, D] and [T, H, D] for a dense layer).

Where the norm sits (the layer's `placement`: on a, after a ReLU, or on X) is composed in
`invcheck/placements/`; `run` hands the norm to it. X in the canonical layout ([T, N, D, *positions],
`canonical_input`) is what a norm on the layer's input sees.

A user norm sees the layout a torch user expects (`to_user`): [N, H] for dense, [N, C, S', S']
for conv (or [N, S', S', C] with `layout: channels_last`), [N, S, H] for tokens.

This module imports no torch: the registry is read by the spec validator and by `--help`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from torch import Tensor

    from invcheck.settings import LayerConfig

# The norm as a layer kind calls it: canonical a [T', N, C, *positions] -> y of the same shape.
NormFn = Callable[["Tensor"], "Tensor"]


# What a LayerConfig answers itself (its fields, properties, methods): `layer.channels` is the
# norm's channel count where it sits, not a size, so a size key by one of these names would be
# shadowed (its kind's own `channels` then calls itself). tests/norms/test_contract.py holds this
# to LayerConfig's names (settings.py sits above this module: it cannot be imported here).
LAYER_CONFIG_NAMES = frozenset(
    {"kind", "sizes", "layout", "placement", "kind_spec", "all_sizes", "with_sizes", "channels", "fan_in"}
)


@dataclass(frozen=True)
class Size:
    """One size key of a layer kind: its default, and the bounds a spec may give it."""

    default: int
    low: int = 1
    high: int = 1 << 20
    doc: str = ""


class LayerKind(ABC):
    """One layer setting (dense, conv, ...): shapes, forward pass, layouts, placeholders.

    Required (abstract; a kind missing one fails when the registry is built): `id`, `doc`,
    `sizes`, `exact_sizes`, and the methods `channels`, `fan_in`, `input_shape`, `weight_shape`,
    `summed`. A size key may not be one of LAYER_CONFIG_NAMES (fails when built too)."""

    id: ClassVar[str]
    doc: ClassVar[str]
    sizes: ClassVar[dict[str, Size]]
    # Small sizes for exact work (`invcheck prove`, `explain`), given for every size key; None: the
    # kind's summed inputs are not one bilinear map a = K(X, W) (a recurrent layer's steps).
    exact_sizes: ClassVar[dict[str, int] | None]
    # Spatial axes of X and a (conv: 2); 0 for layers without (dense; a sequence's tokens are
    # positions but no spatial axes). `layer_kinds/spatial.py` maps it to PyTorch's functions.
    spatial_dims: ClassVar[int] = 0
    # Sizes an explanation's counterexample search starts from, before shrinking (default: exact_sizes).
    search_sizes: ClassVar[dict[str, int]] = {}
    # Why a verdict here can differ from the papers' claims, made for a dense layer: per transform.
    claim_notes: ClassVar[dict[str, str]] = {}
    layouts: ClassVar[tuple[str, ...]] = ("channels_first",)
    channels_key: ClassVar[str] = "units"  # the size key that counts the normalized units
    # Axis of X ([T, N, ...]) that holds the input features or channels: dataset_recenter adds one
    # constant per entry of it, the same at every position and token.
    input_feature_axis: ClassVar[int] = 2
    # Axis of X that holds tokens (token_rescale gives each its own factor); None: no tokens.
    token_axis: ClassVar[int | None] = None
    # layer_norm / rms_norm take statistics per token over its units (as transformers do),
    # rather than over the units and all positions of a case.
    per_token_statistics: ClassVar[bool] = False
    # The norm feeds an activation inside the layer's own step (an RNN's tanh), whose output feeds
    # the next step: placements that put a ReLU before the norm, or the norm on the input, do not
    # exist there; the summed inputs depend on the norm, and units mix from step to step (a check
    # cannot be sampled by units, nor its eps bounded from summed inputs alone).
    activation_inside: ClassVar[bool] = False
    # How an explanation writes the summed inputs a in terms of X and W.
    summed_formula: ClassVar[str] = "the layer"

    def __init__(self) -> None:
        missing = [n for n in ("id", "doc", "sizes", "exact_sizes") if not hasattr(self, n)]
        if missing:
            raise TypeError(f"layer kind {type(self).__name__} does not define {', '.join(missing)}")
        shadowed = sorted(set(self.sizes) & LAYER_CONFIG_NAMES)
        if shadowed:
            raise TypeError(
                f"layer kind {self.id}: size key {shadowed[0]!r} is a name LayerConfig answers itself "
                f"(layer.{shadowed[0]}), so the size could not be read back: rename it "
                f"(e.g. 'in_{shadowed[0]}'); taken: {', '.join(sorted(LAYER_CONFIG_NAMES))}"
            )
        if self.exact_sizes is not None and set(self.exact_sizes) != set(self.sizes):
            raise TypeError(
                f"layer kind {self.id}: exact_sizes must give every size ({', '.join(self.sizes)})"
            )

    # Shapes --------------------------------------------------------------------------------------

    @abstractmethod
    def channels(self, layer: LayerConfig) -> int:
        """Number of normalized units C (H of a dense layer, C_out of a conv)."""

    @abstractmethod
    def fan_in(self, layer: LayerConfig) -> int:
        """Length of each neuron's incoming weight vector w_i (the reduction of a = X W^T)."""

    def positions(self, layer: LayerConfig) -> tuple[int, ...]:
        """The positions of one case's output: () dense, (S', S') conv, (S,) tokens."""
        return ()

    def summed_positions(self, layer: LayerConfig) -> tuple[int, ...]:
        """The positions of the summed inputs one norm call receives (a recurrent step has none)."""
        return self.positions(layer)

    def norm_positions(self, layer: LayerConfig) -> tuple[int, ...]:
        """The positions of what the norm receives, where the layer's placement puts it."""
        return _placement(layer).norm_positions(self, layer)

    def input_channels(self, layer: LayerConfig) -> int:
        """Features (or channels) D of each input case: what a norm on the input normalizes."""
        return self.input_shape(layer)[self.input_feature_axis - 1]

    def input_positions(self, layer: LayerConfig) -> tuple[int, ...]:
        """The positions of one input case: () dense, (S, S) conv, (S,) tokens."""
        shape = list(self.input_shape(layer))
        del shape[self.input_feature_axis - 1]
        return tuple(shape[1:])

    @abstractmethod
    def input_shape(self, layer: LayerConfig) -> tuple[int, ...]:
        """One trial's X, in this kind's layout."""

    @abstractmethod
    def weight_shape(self, layer: LayerConfig) -> tuple[int, ...]:
        """One trial's W; axis 0 indexes the neurons (filters), row i is w_i."""

    def output_shape(self, layer: LayerConfig) -> tuple[int, ...]:
        """One trial's a and y, canonical: [N, C, *positions]."""
        return (layer.cases, self.channels(layer), *self.positions(layer))

    def elements(self, layer: LayerConfig) -> int:
        """Entries of X, W and y together, per trial: what a check allocates grows with it."""
        return sum(
            math.prod(s)
            for s in (self.input_shape(layer), self.weight_shape(layer), self.output_shape(layer))
        )

    # Forward ---------------------------------------------------------------------------------------

    @abstractmethod
    def summed(self, layer: LayerConfig, x: Tensor, w: Tensor) -> Tensor:
        """Summed inputs a of every trial, each with its own W: [T, N, C, *positions]."""

    def run(
        self,
        layer: LayerConfig,
        x: Tensor,
        w: Tensor,
        norm: NormFn,
        summed: Callable[..., Tensor] | None = None,
    ) -> Tensor:
        """The layer's output y with its norm in place: [T, N, C, *positions].

        summed: computes `self.summed` (a caller may remember it across norms)."""
        return _placement(layer).run(self, layer, x, w, norm, summed or self.summed)

    def norm_input(self, layer: LayerConfig, x: Tensor, w: Tensor) -> Tensor:
        """What the norm sees for X and W, canonical (warm-up batches learn running statistics on it)."""
        return _placement(layer).seen(self, layer, x, w)

    def canonical_input(self, layer: LayerConfig, x: Tensor) -> Tensor:
        """X [T, N, ...] in the canonical layout [T, N, D, *positions]: features on axis 2."""
        return x.movedim(self.input_feature_axis, 2)

    def from_canonical_input(self, layer: LayerConfig, x: Tensor) -> Tensor:
        """The inverse of `canonical_input`: X back in the kind's own layout."""
        return x.movedim(2, self.input_feature_axis)

    # Rules and names -------------------------------------------------------------------------------

    def problems(self, layer: LayerConfig) -> list[tuple[str, str, object, str | None]]:
        """Size combinations no layer of this kind can have: (key, message, value, hint)."""
        return []

    def placeholders(self, layer: LayerConfig) -> dict[str, int]:
        """Numbers a user's kwargs may name ("{units}"): the sizes, and what follows from them."""
        c = self.channels(layer)
        features = self.input_channels(layer)  # D, or C_in
        # "channels": what the norm normalizes, where it sits (H, or D for a norm on the input).
        return {
            **{key: getattr(layer, key) for key in self.sizes},
            "inputs": features,
            "in_channels": features,
            "units": c,
            "channels": layer.channels,
            "out_channels": c,
            "fan_in": self.fan_in(layer),
        }

    # What a user module sees ----------------------------------------------------------------------

    def to_user(self, layer: LayerConfig, a: Tensor) -> Tensor:
        """One trial's canonical a [N, C, *positions] in the layout a user norm takes."""
        return a

    def from_user(self, layer: LayerConfig, y: Tensor) -> Tensor:
        """A user norm's output back in the canonical layout (the inverse of `to_user`)."""
        return y

    def user_input(self, layer: LayerConfig, x: Tensor) -> Tensor:
        """One trial's X in the layout a user layer (role: layer) takes."""
        return x


def _placement(layer: LayerConfig) -> Any:
    from invcheck.placements import get_placement

    return get_placement(layer.placement)
