"""Shared draws for the norm tests: summed inputs a, weights w and non-trivial gain/bias, float64."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from invcheck.draws import sample_inputs, sample_weights
from invcheck.settings import LayerConfig

TRIALS = 3
LAYERS = {
    "dense": LayerConfig(kind="dense", cases=6, inputs=10, units=8),
    "conv": LayerConfig(kind="conv", cases=4, in_channels=3, out_channels=6, kernel=3, size=7),
}


@dataclass
class Sample:
    layer: LayerConfig
    x: torch.Tensor  # [T, N, D] | [T, N, C_in, S, S]
    w: torch.Tensor  # [T, H, D] | [T, C_out, C_in, k, k]
    a: torch.Tensor  # [T, N, C, *pos]
    g: torch.Tensor  # [T, C]
    b: torch.Tensor  # [T, C]

    @property
    def g_b(self) -> tuple[torch.Tensor, torch.Tensor]:
        """g and b shaped to broadcast against a, as `normalize` takes them."""
        shape = (self.a.shape[0], 1, self.layer.channels) + (1,) * (self.a.dim() - 3)
        return self.g.reshape(shape), self.b.reshape(shape)


def make_sample(kind: str, seed: int = 0) -> Sample:
    layer = LAYERS[kind]
    gen = torch.Generator().manual_seed(seed)
    x, w = sample_inputs(layer, TRIALS, gen), sample_weights(layer, TRIALS, gen)
    # A mean offset so that centering matters, and random gains/biases with both signs.
    a = layer.kind_spec.summed(layer, x, w) + 0.7
    g = torch.randn((TRIALS, layer.channels), generator=gen, dtype=torch.float64)
    b = torch.randn((TRIALS, layer.channels), generator=gen, dtype=torch.float64)
    return Sample(layer, x, w, a, g, b)


@pytest.fixture(params=["dense", "conv"])
def sample(request) -> Sample:
    return make_sample(request.param)


@pytest.fixture
def conv_sample() -> Sample:
    return make_sample("conv")


@pytest.fixture
def dense_sample() -> Sample:
    return make_sample("dense")


@pytest.fixture
def make():
    """make(kind, seed) -> Sample."""
    return make_sample
