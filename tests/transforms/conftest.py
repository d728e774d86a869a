"""Shared draws for the transform tests: float64 X, W of a dense and a conv layer."""

from __future__ import annotations

import pytest
import torch

from invcheck.draws import sample_inputs, sample_weights
from invcheck.settings import LayerConfig

LAYERS = {
    "dense": LayerConfig(kind="dense", cases=10, inputs=12, units=9),
    "conv": LayerConfig(kind="conv", cases=5, in_channels=3, out_channels=4, kernel=3, size=6),
}


def draw_xw(kind: str, trials: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    layer = LAYERS[kind]
    gen = torch.Generator().manual_seed(seed)
    return sample_inputs(layer, trials, gen), sample_weights(layer, trials, gen)


@pytest.fixture
def draw():
    """draw(kind, trials=4, seed=0) -> (X, W), float64."""
    return draw_xw


@pytest.fixture
def gen():
    """gen(seed=123) -> a fresh seeded generator for the transform's own randomness."""
    return lambda seed=123: torch.Generator().manual_seed(seed)
