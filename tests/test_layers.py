"""layers.py: the batched dense / conv forward passes against their one-trial definitions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from invcheck import layers
from invcheck.settings import LayerConfig

DENSE = LayerConfig(kind="dense", cases=5, inputs=7, units=6)
CONV = LayerConfig(kind="conv", cases=3, in_channels=2, out_channels=5, kernel=3, size=6)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_dense_is_x_times_w_transposed_per_trial():
    x, w = layers.sample_inputs(DENSE, 4, gen(0)), layers.sample_weights(DENSE, 4, gen(1))
    a = layers.forward(DENSE, x, w)
    assert a.shape == (4, DENSE.cases, DENSE.units)
    for t in range(4):
        torch.testing.assert_close(a[t], x[t] @ w[t].T, rtol=0, atol=1e-14)
        # element by element: a[n, i] = x_n . w_i
        assert a[t, 2, 3].item() == pytest.approx(float((x[t, 2] * w[t, 3]).sum()), abs=1e-14)


@pytest.mark.parametrize("padding", [0, 1, 2], ids=lambda p: f"padding{p}")
def test_grouped_conv_equals_per_trial_conv2d(padding):
    layer = LayerConfig(kind="conv", cases=3, in_channels=2, out_channels=5, kernel=3, size=6, padding=padding)
    trials = 4
    x, w = layers.sample_inputs(layer, trials, gen(2)), layers.sample_weights(layer, trials, gen(3))
    a = layers.forward(layer, x, w)
    s = layer.out_size
    assert s == 6 + 2 * padding - 3 + 1
    assert a.shape == (trials, layer.cases, layer.out_channels, s, s)
    for t in range(trials):
        torch.testing.assert_close(a[t], F.conv2d(x[t], w[t], padding=padding), rtol=0, atol=1e-13)


def test_conv_trials_do_not_mix():
    """Changing trial 1's filters changes trial 1's output only."""
    x, w = layers.sample_inputs(CONV, 3, gen(4)), layers.sample_weights(CONV, 3, gen(5))
    a = layers.forward(CONV, x, w)
    w2 = w.clone()
    w2[1] *= -3.0
    a2 = layers.forward(CONV, x, w2)
    assert torch.equal(a2[0], a[0]) and torch.equal(a2[2], a[2])
    torch.testing.assert_close(a2[1], -3.0 * a[1])


@pytest.mark.parametrize(
    "layer, x_shape, w_shape, unit",
    [
        (DENSE, (5, 7), (6, 7), (2, 1, 6)),
        (CONV, (3, 2, 6, 6), (5, 2, 3, 3), (2, 1, 5, 1, 1)),
    ],
    ids=["dense", "conv"],
)
def test_shapes(layer, x_shape, w_shape, unit):
    assert layers.input_shape(layer) == x_shape
    assert layers.weight_shape(layer) == w_shape
    assert layers.unit_shape(layer, 2) == unit
    assert layers.sample_inputs(layer, 2, gen()).shape == (2, *x_shape)
    assert layers.sample_weights(layer, 2, gen()).shape == (2, *w_shape)
    assert layers.sample_inputs(layer, 2, gen()).dtype == torch.float64
    assert layers.sample_weights(layer, 2, gen()).dtype == torch.float64


def test_config_derived_sizes():
    assert DENSE.channels == 6 and DENSE.fan_in == 7 and DENSE.out_size == 1
    assert CONV.channels == 5 and CONV.fan_in == 2 * 9 and CONV.out_size == 4


@pytest.mark.parametrize("layer", [DENSE, CONV], ids=["dense", "conv"])
def test_sample_weights_are_normal_with_variance_one_over_fan_in(layer):
    w = layers.sample_weights(layer, 2000, gen(6))  # ~100k-200k entries
    v = w * layer.fan_in**0.5
    assert abs(v.mean().item()) < 0.01
    assert v.var().item() == pytest.approx(1.0, abs=0.02)
    # Gaussian, not uniform: about 68.3% of the mass within one standard deviation.
    assert (v.abs() < 1).double().mean().item() == pytest.approx(0.6827, abs=0.01)


@pytest.mark.parametrize("layer, trials", [(DENSE, 3000), (CONV, 150)], ids=["dense", "conv"])
def test_sample_inputs_standard_normal_and_summed_inputs_unit_scale(layer, trials):
    x, w = layers.sample_inputs(layer, trials, gen(7)), layers.sample_weights(layer, trials, gen(8))
    n = x.numel()  # 100k entries or so: 5 standard errors below
    assert abs(x.mean().item()) < 5 / n**0.5
    assert x.var().item() == pytest.approx(1.0, abs=5 * (2 / n) ** 0.5)
    # Var(a) = fan_in * Var(x) * Var(w) = 1.
    assert layers.forward(layer, x, w).var().item() == pytest.approx(1.0, abs=0.05)


def test_sampling_reproducible_from_generator():
    assert torch.equal(layers.sample_weights(CONV, 2, gen(9)), layers.sample_weights(CONV, 2, gen(9)))
    assert not torch.equal(layers.sample_weights(CONV, 2, gen(9)), layers.sample_weights(CONV, 2, gen(10)))
