"""Layers that compute in bfloat16 or float16 inside, where the outsider's report (issue 18) found them
judged wrong: on the layer's input (the probe's W moved every output, so the fine step was kept), after
a ReLU (0/0 sets the coarse dither makes), and bfloat16's own 0/0 on the input read as overflow."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from invcheck.api import invariance_error

LAYERS = '''
import torch
from torch import nn


class BF16LayerNorm(nn.Module):
    """A LayerNorm over the last axis whose arithmetic runs in bfloat16 whatever dtype it is given."""

    def __init__(self, features, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(features))
        self.bias = nn.Parameter(torch.randn(features))
        self.eps = eps

    def forward(self, a):
        x = a.to(torch.bfloat16)
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return ((x - mu) / torch.sqrt(var + self.eps)).to(a.dtype) * self.weight + self.bias


class F16RMSNorm(nn.Module):
    """An RMSNorm whose arithmetic runs in float16."""

    def __init__(self, features, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(features) + 0.5)
        self.variance_epsilon = eps

    def forward(self, a):
        x = a.to(torch.float16)
        y = x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True).half() + self.variance_epsilon)
        return self.weight * y.to(a.dtype)
'''


@pytest.fixture(scope="module")
def layers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("low_precision_layers")
    (folder / "low_precision_t.py").write_text(textwrap.dedent(LAYERS))
    sys.path.insert(0, str(folder))
    yield "low_precision_t"
    sys.path.remove(str(folder))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_bfloat16_norm_on_the_input_is_probed_at_its_own_step(layers: str, dtype: str) -> None:
    r = invariance_error(
        f"{layers}:BF16LayerNorm",
        "case_rescale",
        "dense",
        kwargs={"features": "{channels}"},
        placement="input",
        dtype=dtype,
        trials=3,
    )
    assert r.verdict == "invariant", r.why  # was not_invariant: noise 5.9e-16 against its own 1e-3
    assert "bfloat16 (or coarser) inside" in r.why


def test_a_float16_norm_on_the_input_is_probed_at_its_own_step(layers: str) -> None:
    kwargs = {"features": "{channels}"}
    r = invariance_error(
        f"{layers}:F16RMSNorm", "token_rescale", "sequence", kwargs=kwargs, placement="input", dtype="float32"
    )
    assert r.verdict == "invariant", r.why
    # and its violations stay violations at that step
    r = invariance_error(
        f"{layers}:F16RMSNorm",
        "dataset_recenter",
        "sequence",
        kwargs=kwargs,
        placement="input",
        dtype="float32",
    )
    assert r.verdict == "not_invariant", r.why


def test_sets_a_coarse_dither_zeroes_are_left_out_not_their_trials(layers: str) -> None:
    # after a ReLU a token can keep two close entries, which bfloat16's probe step rounds to one value:
    # with eps off that is 0/0 at the dithered inputs only; the entries go, the trials stay
    r = invariance_error(
        f"{layers}:BF16LayerNorm",
        "weight_matrix_recenter",
        "sequence",
        kwargs={"features": "{channels}"},
        placement="post_activation",
        dtype="float32",
        trials=3,
        seed=0,
    )
    assert r.verdict == "not_invariant", r.why  # was undefined: every trial degenerate
    assert "entries left out" in r.why and "degenerate" not in r.why


@pytest.mark.parametrize(
    ("transform", "wanted"), [("case_rescale", "invariant"), ("dataset_recenter", "not_invariant")]
)
def test_bfloat16_zero_sets_on_the_input_are_zero_over_zero_not_overflow(transform: str, wanted: str) -> None:
    # two channels that bfloat16 rounds to one value: that position's norm is 0/0, and W carries the
    # NaN to the outputs beside it; those entries are left out, the rest decide (as in float32)
    r = invariance_error(
        "layer_norm_2d", transform, "conv", dtype="bfloat16", placement="input", in_channels=2
    )
    assert r.verdict == wanted, r.why  # was undefined: "overflow inside the layer?"
    assert "overflow" not in r.why


def test_an_output_that_underflows_to_zero_over_zero_is_not_called_an_overflow() -> None:
    """Scale factors of 1e-30 in bfloat16: a^2 flushes to 0 and the norm divides 0 by 0 (outsider)."""
    r = invariance_error("rms_norm", "dataset_rescale", "dense", dtype="bfloat16", scale=(1e-30, 1e-25))
    assert r.verdict == "undefined" and "underflow to 0/0" in r.why
