"""Which entries each statistic covers: eval-mode running statistics, statistics' shapes, undefined."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from invcheck.draws import sample_inputs
from invcheck.impls.reference import unit_shape
from invcheck.norms import NORMS, get_norm, normalize
from invcheck.norms.arrays import TORCH
from invcheck.norms.base import opmath
from invcheck.settings import CheckConfig, LayerConfig, NormConfig

# ---------------------------------------------------------------- batch_norm eval mode


def warmup_batches(sample, count: int, seed: int = 11) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [
        sample.layer.kind_spec.summed(
            sample.layer, sample_inputs(sample.layer, sample.a.shape[0], gen), sample.w
        )
        + 0.5
        for _ in range(count)
    ]


@pytest.mark.parametrize("momentum", [0.1, 0.3], ids=lambda m: f"momentum{m}")
@pytest.mark.parametrize("batches", [1, 4], ids=lambda b: f"{b}batches")
def test_running_statistics_equal_torch_batchnorm(sample, momentum, batches):
    cfg = NormConfig(id="batch_norm", mode="eval", momentum=momentum, warmup_batches=batches)
    warm = warmup_batches(sample, batches)
    mean, var = get_norm("batch_norm").prepare(warm, cfg, False)
    c = sample.layer.channels
    assert mean.shape == var.shape == unit_shape(CheckConfig(layer=sample.layer), sample.a.shape[0])
    bn_cls = torch.nn.BatchNorm1d if sample.layer.kind == "dense" else torch.nn.BatchNorm2d
    for t in range(sample.a.shape[0]):
        bn = bn_cls(c, momentum=momentum, dtype=torch.float64).train()
        for a in warm:
            bn(a[t])
        torch.testing.assert_close(mean[t].flatten(), bn.running_mean, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(var[t].flatten(), bn.running_var, rtol=1e-12, atol=1e-14)


def test_eval_mode_normalizes_with_the_running_statistics(sample):
    cfg = NormConfig(id="batch_norm", mode="eval", eps=1e-5)
    norm = get_norm("batch_norm")
    state = norm.prepare(warmup_batches(sample, 3), cfg)
    g, b = sample.g_b
    y = normalize(norm, sample.a, g, b, cfg, False, state)
    for t in range(y.shape[0]):
        ref = F.batch_norm(
            sample.a[t],
            state[0][t].flatten(),
            state[1][t].flatten(),
            sample.g[t],
            sample.b[t],
            training=False,
            eps=1e-5,
        )
        torch.testing.assert_close(y[t], ref, rtol=1e-12, atol=1e-12)
    # and not with the batch's own statistics
    y_train = normalize(norm, sample.a, g, b, NormConfig(id="batch_norm", eps=1e-5))
    assert (y - y_train).abs().max() > 1e-3


def test_train_mode_keeps_no_state(sample):
    assert get_norm("batch_norm").prepare(warmup_batches(sample, 2), NormConfig(id="batch_norm")) is None


@pytest.mark.parametrize("norm_id", [n for n in NORMS if n != "batch_norm"])
def test_other_norms_keep_no_state(sample, norm_id):
    cfg = NormConfig(id=norm_id, mode="eval")
    assert get_norm(norm_id).prepare(warmup_batches(sample, 2), cfg) is None


# ---------------------------------------------------------------- statistics' shapes

# Every (layer, data norm) pair where the norm applies: instance_norm needs positions.
DEFINED = [
    pytest.param(k, n, id=f"{k}-{n}")
    for k in ("dense", "conv")
    for n in NORMS
    if NORMS[n].acts_on == "data"
    and NORMS[n].statistics(torch.ones(1, 2, 2), TORCH, NormConfig(id=n)) is not None
    and not (k == "dense" and n == "instance_norm")
]


@pytest.mark.parametrize("kind, norm_id", DEFINED)
def test_statistics_broadcast_against_a(make, kind, norm_id):
    sample = make(kind)
    mu, var = get_norm(norm_id).statistics(sample.a, TORCH, NormConfig(id=norm_id, groups=2))
    assert (mu + sample.a).shape == sample.a.shape and (var + sample.a).shape == sample.a.shape
    assert (var > 0).all()
    if norm_id in ("rms_norm", "scale_norm"):
        assert (mu == 0).all()  # mu = 0 for these (README, "What it computes")


# ---------------------------------------------------------------- where a norm applies


def undefined(norm_id: str, kind: str) -> str | None:
    layer = LayerConfig(kind)
    return get_norm(norm_id).undefined_reason(layer.kind_spec, layer, NormConfig(id=norm_id))


@pytest.mark.parametrize(
    "kind, defined",
    [("dense", False), ("recurrent", False), ("conv", True), ("conv1d", True), ("sequence", True)],
)
def test_instance_norm_needs_positions(kind, defined):
    reason = undefined("instance_norm", kind)
    assert (reason is None) == defined
    if not defined:
        assert kind in reason


@pytest.mark.parametrize("norm_id", [n for n in NORMS if n != "instance_norm"])
@pytest.mark.parametrize("kind", ["dense", "conv", "conv1d", "sequence", "recurrent"])
def test_other_norms_apply_to_every_layer(norm_id, kind):
    assert undefined(norm_id, kind) is None


def test_opmath():
    assert opmath(torch.float16) == opmath(torch.bfloat16) == torch.float32
    assert opmath(torch.float32) == torch.float32 and opmath(torch.float64) == torch.float64
