"""layer_kinds/: the batched forward passes against their one-trial definitions, shapes and draws."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from invcheck.draws import sample_inputs, sample_weights
from invcheck.impls.reference import unit_shape
from invcheck.layer_kinds import LAYER_KINDS
from invcheck.settings import CheckConfig, LayerConfig

DENSE = LayerConfig(kind="dense", cases=5, inputs=7, units=6)
CONV = LayerConfig(kind="conv", cases=3, in_channels=2, out_channels=5, kernel=3, size=6)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_dense_is_x_times_w_transposed_per_trial():
    x, w = sample_inputs(DENSE, 4, gen(0)), sample_weights(DENSE, 4, gen(1))
    a = DENSE.kind_spec.summed(DENSE, x, w)
    assert a.shape == (4, DENSE.cases, DENSE.units)
    for t in range(4):
        torch.testing.assert_close(a[t], x[t] @ w[t].T, rtol=0, atol=1e-14)
        # element by element: a[n, i] = x_n . w_i
        assert a[t, 2, 3].item() == pytest.approx(float((x[t, 2] * w[t, 3]).sum()), abs=1e-14)


@pytest.mark.parametrize("padding", [0, 1, 2], ids=lambda p: f"padding{p}")
def test_grouped_conv_equals_per_trial_conv2d(padding):
    layer = LayerConfig(
        kind="conv", cases=3, in_channels=2, out_channels=5, kernel=3, size=6, padding=padding
    )
    trials = 4
    x, w = sample_inputs(layer, trials, gen(2)), sample_weights(layer, trials, gen(3))
    a = layer.kind_spec.summed(layer, x, w)
    s = layer.kind_spec.out_size(layer)
    assert s == 6 + 2 * padding - 3 + 1
    assert a.shape == (trials, layer.cases, layer.out_channels, s, s)
    for t in range(trials):
        torch.testing.assert_close(a[t], F.conv2d(x[t], w[t], padding=padding), rtol=0, atol=1e-13)


def test_conv_trials_do_not_mix():
    """Changing trial 1's filters changes trial 1's output only."""
    x, w = sample_inputs(CONV, 3, gen(4)), sample_weights(CONV, 3, gen(5))
    a = CONV.kind_spec.summed(CONV, x, w)
    w2 = w.clone()
    w2[1] *= -3.0
    a2 = CONV.kind_spec.summed(CONV, x, w2)
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
    assert layer.kind_spec.input_shape(layer) == x_shape
    assert layer.kind_spec.weight_shape(layer) == w_shape
    assert unit_shape(CheckConfig(layer=layer), 2) == unit
    assert sample_inputs(layer, 2, gen()).shape == (2, *x_shape)
    assert sample_weights(layer, 2, gen()).shape == (2, *w_shape)
    assert sample_inputs(layer, 2, gen()).dtype == torch.float64
    assert sample_weights(layer, 2, gen()).dtype == torch.float64


def test_config_derived_sizes():
    assert DENSE.channels == 6 and DENSE.fan_in == 7 and DENSE.kind_spec.positions(DENSE) == ()
    assert CONV.channels == 5 and CONV.fan_in == 2 * 9 and CONV.kind_spec.positions(CONV) == (4, 4)


@pytest.mark.parametrize("layer", [DENSE, CONV], ids=["dense", "conv"])
def test_sample_weights_are_normal_with_variance_one_over_fan_in(layer):
    w = sample_weights(layer, 2000, gen(6))  # ~100k-200k entries
    v = w * layer.fan_in**0.5
    assert abs(v.mean().item()) < 4 / v.numel() ** 0.5  # four standard errors
    assert v.var().item() == pytest.approx(1.0, abs=0.02)
    # Gaussian, not uniform: about 68.3% of the mass within one standard deviation.
    assert (v.abs() < 1).double().mean().item() == pytest.approx(0.6827, abs=0.01)


@pytest.mark.parametrize("layer, trials", [(DENSE, 3000), (CONV, 150)], ids=["dense", "conv"])
def test_sample_inputs_standard_normal_and_summed_inputs_unit_scale(layer, trials):
    x, w = sample_inputs(layer, trials, gen(7)), sample_weights(layer, trials, gen(8))
    n = x.numel()  # 100k entries or so: 5 standard errors below
    assert abs(x.mean().item()) < 5 / n**0.5
    assert x.var().item() == pytest.approx(1.0, abs=5 * (2 / n) ** 0.5)
    # Var(a) = fan_in * Var(x) * Var(w) = 1.
    assert layer.kind_spec.summed(layer, x, w).var().item() == pytest.approx(1.0, abs=0.05)


def test_sampling_reproducible_from_generator():
    assert torch.equal(sample_weights(CONV, 2, gen(9)), sample_weights(CONV, 2, gen(9)))
    assert not torch.equal(sample_weights(CONV, 2, gen(9)), sample_weights(CONV, 2, gen(10)))


# The kinds beyond the paper ------------------------------------------------------------------------

SEQ = LayerConfig("sequence", cases=3, tokens=5, inputs=4, units=6)
RNN = LayerConfig("recurrent", cases=3, steps=4, inputs=5, units=6)
C1D = LayerConfig("conv1d", cases=3, in_channels=2, out_channels=4, kernel=3, size=9)


def test_sequence_is_one_linear_map_per_token_with_tokens_as_positions():
    x, w = sample_inputs(SEQ, 2, gen(11)), sample_weights(SEQ, 2, gen(12))
    a = SEQ.kind_spec.summed(SEQ, x, w)
    assert a.shape == (2, 3, 6, 5)  # [T, N, H, S]: canonical, tokens are the positions
    for t in range(2):
        torch.testing.assert_close(a[t], F.linear(x[t], w[t]).transpose(-1, -2), rtol=0, atol=1e-14)
    user = SEQ.kind_spec.to_user(SEQ, a[0])
    assert user.shape == (3, 5, 6) and torch.equal(SEQ.kind_spec.from_user(SEQ, user), a[0])  # [N, S, H]


def test_conv1d_is_conv1d_per_trial():
    x, w = sample_inputs(C1D, 2, gen(13)), sample_weights(C1D, 2, gen(14))
    a = C1D.kind_spec.summed(C1D, x, w)
    assert a.shape == (2, 3, 4, 7)
    for t in range(2):
        torch.testing.assert_close(a[t], F.conv1d(x[t], w[t]), rtol=0, atol=1e-14)


def test_recurrent_runs_the_papers_rnn_step_by_step():
    x, w = sample_inputs(RNN, 2, gen(15)), sample_weights(RNN, 2, gen(16))
    assert w.shape == (2, 6, 5 + 6)  # W = [W_xh | W_hh]
    scale = lambda a: 2.0 * a  # noqa: E731 - any norm: the kind only calls it on each step's a_t
    y = RNN.kind_spec.run(RNN, x, w, scale)
    assert y.shape == (2, 3, 6, 4)  # [T, N, H, steps]
    for t in range(2):
        h = torch.zeros(3, 6, dtype=torch.float64)
        for step in range(4):
            a_t = torch.cat([x[t, :, step], h], dim=-1) @ w[t].T  # [x_t, h_t-1] W^T
            h = torch.tanh(2.0 * a_t)
            torch.testing.assert_close(y[t, :, :, step], h, rtol=0, atol=1e-14)


def test_channels_last_is_a_layout_for_user_norms_only():
    layer = LayerConfig("conv", layout="channels_last")
    a = torch.arange(2 * 8 * 6 * 6, dtype=torch.float64).reshape(2, 8, 6, 6)
    user = layer.kind_spec.to_user(layer, a)
    assert user.shape == (2, 6, 6, 8) and torch.equal(layer.kind_spec.from_user(layer, user), a)


@pytest.mark.parametrize("kind", sorted(LAYER_KINDS))
def test_every_kind_has_consistent_shapes_and_placeholders(kind):
    layer = LayerConfig(kind)
    spec = layer.kind_spec
    x, w = sample_inputs(layer, 2, gen()), sample_weights(layer, 2, gen())
    y = spec.run(layer, x, w, lambda a: a)
    assert y.shape == (2, *spec.output_shape(layer))
    numbers = spec.placeholders(layer)
    assert numbers["units"] == numbers["channels"] == layer.channels
    assert set(spec.sizes) <= set(numbers)
