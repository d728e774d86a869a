"""Each transform does exactly the README's algebra ("What it computes") to X or W, and nothing else."""

from __future__ import annotations

import pytest
import torch

from invcheck.layer_kinds import get_kind
from invcheck.settings import TransformConfig
from invcheck.transforms import get_transform
from tests.derived_rows import transforms

KINDS = ["dense", "conv"]
CFG = TransformConfig(scale=(0.1, 10.0))


def apply(transform_id, x, w, gen, cfg=CFG):
    x0, w0 = x.clone(), w.clone()
    kind = get_kind("dense" if x.dim() == 3 else "conv")
    x2, w2 = get_transform(transform_id).apply(x, w, cfg, gen, kind)
    assert torch.equal(x, x0) and torch.equal(w, w0), "inputs modified in place"
    assert x2.shape == x.shape and w2.shape == w.shape
    assert x2.dtype == w2.dtype == torch.float64
    return x2, w2


def per_trial_ratio(new: torch.Tensor, old: torch.Tensor, keep: int) -> torch.Tensor:
    """new / old flattened past the first `keep` axes: [*lead, rest]."""
    return (new / old).flatten(keep)


def assert_constant_along_last(r: torch.Tensor):
    """Every row of r is one repeated value (up to float64 rounding of a product)."""
    torch.testing.assert_close(r, r[..., :1].expand_as(r), rtol=1e-13, atol=0)


def in_range(f: torch.Tensor, cfg: TransformConfig = CFG) -> bool:
    lo, hi = cfg.scale
    return bool(((f >= lo * (1 - 1e-12)) & (f <= hi * (1 + 1e-12))).all())


# ---------------------------------------------------------------- weights


@pytest.mark.parametrize("kind", KINDS)
def test_weight_matrix_rescale_one_positive_delta_per_trial(draw, gen, kind):
    x, w = draw(kind)
    x2, w2 = apply("weight_matrix_rescale", x, w, gen())
    assert torch.equal(x2, x)
    r = per_trial_ratio(w2, w, 1)  # [T, all entries of W]
    assert_constant_along_last(r)
    delta = r[:, 0]
    assert (delta > 0).all() and in_range(delta)
    assert len(set(delta.tolist())) == delta.numel(), "each trial draws its own delta"


@pytest.mark.parametrize("kind", KINDS)
def test_weight_matrix_recenter_adds_one_vector_to_every_neuron(draw, gen, kind):
    x, w = draw(kind)
    x2, w2 = apply("weight_matrix_recenter", x, w, gen())
    assert torch.equal(x2, x)
    d = (w2 - w).flatten(2)  # [T, H, D] | [T, C_out, C_in*k*k]: one row per neuron
    torch.testing.assert_close(d, d[:, :1].expand_as(d), rtol=0, atol=1e-15)  # the same gamma for all rows
    gamma = d[:, 0]  # [T, fan_in]
    assert (gamma.abs() > 0).all()
    assert gamma.std(1).min() > 0, "gamma is a vector, not one constant"
    assert not torch.allclose(gamma[0], gamma[1]), "each trial draws its own gamma"


@pytest.mark.parametrize("kind", KINDS)
def test_weight_vector_rescale_one_positive_delta_per_neuron(draw, gen, kind):
    x, w = draw(kind)
    x2, w2 = apply("weight_vector_rescale", x, w, gen())
    assert torch.equal(x2, x)
    r = per_trial_ratio(w2, w, 2)  # [T, H, fan_in]
    assert_constant_along_last(r)  # one factor per row / filter
    delta = r[..., 0]  # [T, H]
    assert (delta > 0).all() and in_range(delta)
    assert (delta.max(1).values / delta.min(1).values > 1.01).all(), "neurons get different deltas"


# ---------------------------------------------------------------- data


@pytest.mark.parametrize("kind", KINDS)
def test_dataset_rescale_one_positive_delta_per_trial(draw, gen, kind):
    x, w = draw(kind)
    x2, w2 = apply("dataset_rescale", x, w, gen())
    assert torch.equal(w2, w)
    r = per_trial_ratio(x2, x, 1)  # [T, all entries of X]
    assert_constant_along_last(r)
    assert (r[:, 0] > 0).all() and in_range(r[:, 0])


@pytest.mark.parametrize("kind", KINDS)
def test_dataset_recenter_same_shift_for_every_case(draw, gen, kind):
    x, w = draw(kind)
    x2, w2 = apply("dataset_recenter", x, w, gen())
    assert torch.equal(w2, w)
    d = x2 - x  # [T, N, ...]
    torch.testing.assert_close(d, d[:, :1].expand_as(d), rtol=0, atol=1e-14)
    gamma = d[:, 0]  # [T, D] | [T, C_in, S, S]
    assert (gamma.abs() > 0).all()
    if kind == "conv":
        # one constant per input channel, the same at every position
        flat = gamma.flatten(2)  # [T, C_in, S*S]
        torch.testing.assert_close(flat, flat[..., :1].expand_as(flat), rtol=0, atol=1e-14)
        per_channel = flat[..., 0]  # [T, C_in]
        assert (per_channel.std(1) > 0).all(), "channels get different shifts"
    else:
        assert (gamma.std(1) > 0).all(), "a vector, not one constant"


@pytest.mark.parametrize("kind", KINDS)
def test_case_rescale_one_positive_delta_per_case(draw, gen, kind):
    x, w = draw(kind)
    x2, w2 = apply("case_rescale", x, w, gen())
    assert torch.equal(w2, w)
    r = per_trial_ratio(x2, x, 2)  # [T, N, rest]
    assert_constant_along_last(r)
    delta = r[..., 0]  # [T, N]
    assert (delta > 0).all() and in_range(delta)
    assert (delta.max(1).values / delta.min(1).values > 1.01).all(), "cases get different deltas"


# ---------------------------------------------------------------- sign, reproducibility

RESCALES = ["weight_matrix_rescale", "weight_vector_rescale", "dataset_rescale", "case_rescale"]


@pytest.mark.parametrize("transform_id", RESCALES)
def test_negative_negates_the_factors(draw, gen, transform_id):
    x, w = draw("dense")
    neg = TransformConfig(scale=(0.5, 2.0), negative=True)
    pos = TransformConfig(scale=(0.5, 2.0))
    xn, wn = apply(transform_id, x, w, gen(5), neg)
    xp, wp = apply(transform_id, x, w, gen(5), pos)
    changed_n, changed_p, orig = (
        (xn, xp, x) if transform_id in ("dataset_rescale", "case_rescale") else (wn, wp, w)
    )
    torch.testing.assert_close(changed_n, -changed_p, rtol=0, atol=0)  # same draw, opposite sign
    f = changed_n / orig
    assert (f < 0).all() and in_range(-f, pos)


@pytest.mark.parametrize("transform_id", ["weight_matrix_recenter", "dataset_recenter"])
@pytest.mark.parametrize("kind", KINDS)
def test_shift_size_is_proportional_to_cfg_shift(draw, gen, kind, transform_id):
    """Same generator state: doubling cfg.shift doubles the shift exactly."""
    x, w = draw(kind)
    x1, w1 = apply(transform_id, x, w, gen(7), TransformConfig(shift=1.0))
    x3, w3 = apply(transform_id, x, w, gen(7), TransformConfig(shift=3.0))
    x0, w0 = apply(transform_id, x, w, gen(7), TransformConfig(shift=0.0))
    torch.testing.assert_close(x3 - x, 3 * (x1 - x), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(w3 - w, 3 * (w1 - w), rtol=1e-12, atol=1e-14)
    assert torch.equal(x0, x) and torch.equal(w0, w)


@pytest.mark.parametrize("shift", [0.5, 2.0])
@pytest.mark.parametrize("transform_id", ["weight_matrix_recenter", "dataset_recenter"])
def test_shift_is_in_units_of_the_shifted_entries_std(draw, gen, transform_id, shift):
    """gamma ~ N(0, (shift * std)^2): over many trials, gamma / std has standard deviation `shift`."""
    x, w = draw("dense", trials=1000)
    x2, w2 = apply(transform_id, x, w, gen(9), TransformConfig(shift=shift))
    old, new = (w, w2) if transform_id == "weight_matrix_recenter" else (x, x2)
    gamma = (new - old)[:, 0]  # [T, D]: the shared vector
    spread = old.flatten(1).std(1, keepdim=True)  # [T, 1]
    z = gamma / spread  # 12k draws of N(0, shift^2)
    assert abs(z.mean().item()) < 0.05 * shift
    assert z.std().item() == pytest.approx(shift, rel=0.04)


@pytest.mark.parametrize("transform_id", transforms("dense"))  # conv defines the same ones
@pytest.mark.parametrize("kind", KINDS)
def test_reproducible_from_the_generator_seed(draw, gen, kind, transform_id):
    x, w = draw(kind)
    a = apply(transform_id, x, w, gen(1))
    b = apply(transform_id, x, w, gen(1))
    c = apply(transform_id, x, w, gen(2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not (torch.equal(a[0], c[0]) and torch.equal(a[1], c[1]))
