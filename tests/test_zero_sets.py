"""0/0 entries left out, not whole trials: cells whose verdict flipped with the seed."""

from __future__ import annotations

import pytest
import torch

from invcheck import zero_sets
from invcheck.draws import draw
from invcheck.measure import measure
from invcheck.runner import run_check
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig


def post_activation(norm: str, transform: str, kind: str = "conv", **kw: object) -> CheckConfig:
    return CheckConfig(
        norm=NormConfig(id=norm, impl=str(kw.pop("impl", "reference"))),
        transform=TransformConfig(id=transform),
        layer=LayerConfig(kind=kind, placement="post_activation"),
        trials=8,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("impl", ["reference", "torch"])
@pytest.mark.parametrize("norm", ["layer_norm_2d", "rms_norm_2d"])
def test_a_per_position_norm_after_a_relu_counts_every_trial(norm: str, impl: str) -> None:
    """A conv's per-position norm over 4 channels after a ReLU: some positions are zeroed in most
    trials. Their entries are left out and every trial counts, at every seed (whether any trial was
    left used to vary with the seed: undefined at one, not_invariant at the next)."""
    for seed in (1000, 1001, 1002):
        # one check: its Result carries the measurement's counts (no trial degenerate, entries left out)
        r = run_check(post_activation(norm, "dataset_recenter", impl=impl, seed=seed, dtype="float32"))
        assert r.degenerate == 0 and r.left_out > 0, seed
        assert r.verdict == "not_invariant", seed


def test_a_set_bfloat16_zeroes_is_left_out_not_an_overflow() -> None:
    """At this seed bfloat16's rounding zeroes a position's channels that float64 does not: its
    0/0 is left out in the checked run too, never read as overflow."""
    c = post_activation("rms_norm_2d", "dataset_recenter", seed=1003, dtype="bfloat16")
    d = draw(c)
    wide = zero_sets._zero_spread(c, d.x, d.w) | zero_sets._zero_spread(c, d.x2, d.w2)
    narrow = zero_sets._zero_spread(c, d.x.bfloat16(), d.w.bfloat16()) | zero_sets._zero_spread(
        c, d.x2.bfloat16(), d.w2.bfloat16()
    )
    only = narrow & ~wide
    assert bool(only.any())  # the case this test is about
    zero = zero_sets.mask(c, d, torch.device("cpu"))
    assert zero is not None and bool(zero[only].all())
    m = measure(c)
    assert m.range_problem is None and not any(m.degenerate)
    assert run_check(c).verdict == "not_invariant"


def test_every_entry_zero_is_undefined() -> None:
    """Groups of one entry: every set has zero spread, every entry is 0/0: undefined, not a verdict."""
    c = CheckConfig(
        norm=NormConfig(id="group_norm", groups=16),
        transform=TransformConfig(id="weight_matrix_rescale"),
        layer=LayerConfig(kind="dense"),
        trials=2,
    )
    r = run_check(c)
    assert r.verdict == "undefined" and "every entry" in r.why


def test_counts_only_where_the_rule_applies() -> None:
    """The input placement's norm(X) W^T mixes a case's entries: no entry rule there."""
    c = post_activation("layer_norm_2d", "dataset_recenter").with_(
        layer=LayerConfig(kind="conv", placement="input")
    )
    assert not zero_sets.applies(c)


@pytest.mark.parametrize("impl", ["reference", "torch"])
def test_the_probe_s_0_0_test_and_the_run_share_each_summed_input(impl: str, monkeypatch) -> None:
    """The 0/0 test at the probe's points and the forward pass see the same stacked inputs: a = f(X, W)
    is computed once for each pair the draw keeps (a conv's summed inputs were half of a check's time)."""
    from invcheck.layer_kinds.conv import Conv

    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    original = Conv.summed

    def counted(self, layer, x, w):  # type: ignore[no-untyped-def]
        seen.append((x, w))  # held: their ids stay unique while the test runs
        return original(self, layer, x, w)

    monkeypatch.setattr(Conv, "summed", counted)
    check = CheckConfig(
        norm=NormConfig(id="layer_norm_2d", impl=impl),
        transform=TransformConfig(id="dataset_rescale"),
        layer=LayerConfig("conv", placement="post_activation"),
        trials=3,
        seed=917_301 + (impl == "torch"),  # a draw of its own: a fresh cache, filled by this check
    )
    d = draw(check)
    measure(check)
    kept = {id(t) for t in (d.x, d.x2, d.w, d.w2)} | {
        id(t) for k, v in d.cache.items() if k[0] == "stacked" for t in v
    }
    pairs = [(id(x), id(w)) for x, w in seen if id(x) in kept and id(w) in kept]
    assert pairs and len(pairs) == len(set(pairs))
