"""How scale factors are drawn: log-uniform on cfg.scale, as likely to shrink as to grow."""

from __future__ import annotations

import math

import pytest
import torch

from invcheck.layer_kinds import get_kind
from invcheck.settings import TransformConfig
from invcheck.transforms import get_transform
from invcheck.transforms.base import scale_factors, shift, trailing

SCALES = [(0.1, 10.0), (0.5, 8.0), (1e-3, 1e-1)]
N = 40_000


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("scale", SCALES, ids=lambda s: f"{s[0]:g}..{s[1]:g}")
def test_factors_lie_in_range(scale):
    f = scale_factors((N,), TransformConfig(scale=scale), gen())
    lo, hi = scale
    assert f.dtype == torch.float64
    assert f.min() >= lo * (1 - 1e-12) and f.max() <= hi * (1 + 1e-12)
    # and fill it: both ends are reached to within 1% of the log-range
    span = math.log(hi / lo)
    assert math.log(f.min() / lo) < 0.01 * span and math.log(hi / f.max()) < 0.01 * span


@pytest.mark.parametrize("scale", SCALES, ids=lambda s: f"{s[0]:g}..{s[1]:g}")
def test_factors_are_log_uniform(scale):
    f = scale_factors((N,), TransformConfig(scale=scale), gen(1))
    lo, hi = scale
    geo = math.sqrt(lo * hi)
    # median at the geometric mean (a uniform draw would put it at the arithmetic mean)
    assert f.median().item() == pytest.approx(geo, rel=0.03)
    # log f uniform: each quarter of the log-range holds a quarter of the draws
    u = (f.log() - math.log(lo)) / math.log(hi / lo)
    counts = torch.histc(u, bins=4, min=0.0, max=1.0) / N
    torch.testing.assert_close(counts, torch.full((4,), 0.25, dtype=counts.dtype), rtol=0, atol=0.015)


def test_degenerate_range_gives_that_factor():
    f = scale_factors((10,), TransformConfig(scale=(3.0, 3.0)), gen())
    torch.testing.assert_close(f, torch.full((10,), 3.0, dtype=torch.float64))


def test_negative_factors_mirror_the_positive_ones():
    pos = scale_factors((100,), TransformConfig(scale=(0.1, 10.0)), gen(3))
    neg = scale_factors((100,), TransformConfig(scale=(0.1, 10.0), negative=True), gen(3))
    assert torch.equal(neg, -pos)


def test_factors_reproducible():
    cfg = TransformConfig()
    assert torch.equal(scale_factors((50,), cfg, gen(4)), scale_factors((50,), cfg, gen(4)))
    assert not torch.equal(scale_factors((50,), cfg, gen(4)), scale_factors((50,), cfg, gen(5)))


def test_factors_drawn_by_case_rescale_are_log_uniform():
    """Through a transform, not just the helper: per-case factors, median near the geometric mean."""
    x = torch.ones((100, 400, 2), dtype=torch.float64)  # T=100, N=400 cases, D=2
    w = torch.ones((100, 3, 2), dtype=torch.float64)
    x2, _ = get_transform("case_rescale").apply(
        x, w, TransformConfig(scale=(0.5, 8.0)), gen(6), get_kind("dense")
    )
    f = x2[..., 0]
    assert f.median().item() == pytest.approx(2.0, rel=0.03)  # sqrt(0.5 * 8)
    assert f.log().mean().item() == pytest.approx(math.log(2.0), abs=0.03)


def test_shift_scales_with_spread_and_cfg():
    spread = torch.tensor([1.0, 10.0], dtype=torch.float64)
    g1 = shift((2, 1, 5000), spread, TransformConfig(shift=1.0), gen(7))
    g2 = shift((2, 1, 5000), spread, TransformConfig(shift=2.0), gen(7))
    torch.testing.assert_close(g2, 2 * g1)
    stds = g1.flatten(1).std(1)
    torch.testing.assert_close(stds, spread, rtol=0.04, atol=0)


def test_trailing():
    t = torch.arange(3.0)
    assert trailing(t, 4).shape == (3, 1, 1, 1)
    assert trailing(t, 1).shape == (3,)
