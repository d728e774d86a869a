"""Each reference norm, through `normalize` in float64 with eps > 0, equals PyTorch's own functional."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from invcheck.norms import get_norm, normalize, normalized_weight
from invcheck.settings import NormConfig

EPS = [1e-5, 0.3]  # > 0 (torch refuses eps = 0 for batch_norm); 0.3 makes a misplaced eps show
EPS_IDS = ["eps1e-5", "eps0.3"]


def ours(sample, norm_id: str, eps: float, **kw) -> torch.Tensor:
    cfg = NormConfig(id=norm_id, eps=eps, **kw)
    g, b = sample.g_b
    norm = get_norm(norm_id)
    if norm.acts_on == "weights":  # the layer runs through the normalized weights: y = g a_hat + b
        layer = sample.layer
        a_hat = layer.kind_spec.summed(layer, sample.x, normalized_weight(norm, sample.w, cfg))
        return g * a_hat + b
    y = normalize(norm, sample.a, g, b, cfg)
    assert y.shape == sample.a.shape and y.dtype == torch.float64
    return y


def per_channel(v: torch.Tensor, a_t: torch.Tensor) -> torch.Tensor:
    """A per-channel vector [C] expanded to a trial's trailing shape (C,) or (C, S', S')."""
    return v.reshape(-1, *([1] * (a_t.dim() - 2))).expand(a_t.shape[1:])


def close(actual, expected):
    torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("eps", EPS, ids=EPS_IDS)
def test_batch_norm_is_torch_batch_norm_training(sample, eps):
    y = ours(sample, "batch_norm", eps)
    for t in range(y.shape[0]):
        ref = F.batch_norm(
            sample.a[t], None, None, weight=sample.g[t], bias=sample.b[t], training=True, eps=eps
        )
        close(y[t], ref)


@pytest.mark.parametrize("eps", EPS, ids=EPS_IDS)
def test_layer_norm_is_torch_layer_norm_over_all_units_and_positions(sample, eps):
    y = ours(sample, "layer_norm", eps)
    for t in range(y.shape[0]):
        a_t = sample.a[t]  # [N, C] | [N, C, S', S']
        shape = tuple(a_t.shape[1:])
        ref = F.layer_norm(a_t, shape, per_channel(sample.g[t], a_t), per_channel(sample.b[t], a_t), eps)
        close(y[t], ref)


@pytest.mark.parametrize("groups", [1, 2, 3], ids=lambda g: f"groups{g}")
@pytest.mark.parametrize("eps", EPS, ids=EPS_IDS)
def test_group_norm_is_torch_group_norm(make, groups, eps):
    # dense has 8 units (groups 1, 2), conv 6 channels (groups 1, 2, 3)
    for kind in ("dense", "conv"):
        sample = make(kind)
        if sample.layer.channels % groups:
            continue
        y = ours(sample, "group_norm", eps, groups=groups)
        for t in range(y.shape[0]):
            close(y[t], F.group_norm(sample.a[t], groups, sample.g[t], sample.b[t], eps))


@pytest.mark.parametrize("eps", EPS, ids=EPS_IDS)
def test_group_norm_with_one_group_is_layer_norm(sample, eps):
    torch.testing.assert_close(ours(sample, "group_norm", eps, groups=1), ours(sample, "layer_norm", eps))


@pytest.mark.parametrize("eps", EPS, ids=EPS_IDS)
def test_instance_norm_is_torch_instance_norm(conv_sample, eps):
    s = conv_sample
    y = ours(s, "instance_norm", eps)
    for t in range(y.shape[0]):
        close(y[t], F.instance_norm(s.a[t], weight=s.g[t], bias=s.b[t], eps=eps))


@pytest.mark.parametrize("eps", EPS, ids=EPS_IDS)
def test_group_norm_with_groups_equal_channels_is_instance_norm(conv_sample, eps):
    groups = conv_sample.layer.channels
    torch.testing.assert_close(
        ours(conv_sample, "group_norm", eps, groups=groups), ours(conv_sample, "instance_norm", eps)
    )


@pytest.mark.parametrize("eps", EPS, ids=EPS_IDS)
def test_rms_norm_is_torch_rms_norm_plus_bias(sample, eps):
    y = ours(sample, "rms_norm", eps)
    for t in range(y.shape[0]):
        a_t = sample.a[t]
        shape = tuple(a_t.shape[1:])
        ref = F.rms_norm(a_t, shape, per_channel(sample.g[t], a_t), eps) + per_channel(sample.b[t], a_t)
        close(y[t], ref)


def test_weight_norm_divides_by_the_incoming_weight_norm(sample):
    """y = g * a / ||w_i|| + b (eps = 0): the paper's weight normalization."""
    y = ours(sample, "weight_norm", 0.0)
    norms = sample.w.flatten(2).norm(dim=-1)  # [T, C]
    g, b = sample.g_b
    summed = sample.layer.kind_spec.summed(sample.layer, sample.x, sample.w)  # a, without the sample's offset
    close(y, g * summed / norms.reshape(g.shape) + b)
    # by hand, one entry: trial 1, case 2, unit 3 (first position for conv)
    a = summed[1, 2, 3].flatten()[0]
    expected = sample.g[1, 3] * a / sample.w[1, 3].norm() + sample.b[1, 3]
    assert y[1, 2, 3].flatten()[0].item() == pytest.approx(expected.item(), rel=1e-12)


def test_weight_norm_with_eps_adds_it_inside_the_root(sample):
    y = ours(sample, "weight_norm", 0.3)
    sq = sample.w.flatten(2).pow(2).sum(-1)  # [T, C]
    g, b = sample.g_b
    summed = sample.layer.kind_spec.summed(sample.layer, sample.x, sample.w)
    close(y, g * summed / (sq.reshape(g.shape) + 0.3).sqrt() + b)


def test_weight_standardization_standardizes_each_units_weights(sample):
    """y = g * X W_hat^T + b, w_hat_i = (w_i - mean w_i) / std w_i (population std, eps 0.3 inside)."""
    y = ours(sample, "weight_standardization", 0.3)
    w = sample.w.flatten(2)  # [T, C, fan-in]
    w_hat = (w - w.mean(-1, keepdim=True)) / (w.var(-1, unbiased=False, keepdim=True) + 0.3).sqrt()
    layer, (g, b) = sample.layer, sample.g_b
    close(y, g * layer.kind_spec.summed(layer, sample.x, w_hat.reshape(sample.w.shape)) + b)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("norm_id", ["batch_norm", "layer_norm", "rms_norm"])
def test_half_inputs_normalize_in_float32_and_store_in_their_dtype(sample, norm_id, dtype):
    """As PyTorch's kernels do: the result is the float32 computation rounded once to the dtype."""
    cfg = NormConfig(id=norm_id, eps=1e-5)
    g, b = sample.g_b
    a_half = sample.a.to(dtype)
    y = normalize(get_norm(norm_id), a_half, g.to(dtype), b.to(dtype), cfg)
    assert y.dtype == dtype
    ref = normalize(
        get_norm(norm_id),
        a_half.float(),
        g.to(dtype).float(),
        b.to(dtype).float(),
        cfg,
    ).to(dtype)
    assert torch.equal(y, ref)
