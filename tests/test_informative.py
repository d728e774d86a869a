"""Small sets after a ReLU: an uncentered norm's output is constant in a set with one nonzero entry,
so a check runs enough trials whose output responds (outside tester A: rms_norm, rms_norm_2d and
scale_norm over 2 units after a ReLU, one case, read invariant at 1-3 of 24 seeds in float64)."""

from __future__ import annotations

import pytest

from invcheck import informative
from invcheck.api import invariance_error
from invcheck.draws import draw
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig

SMALL = {"layer": "dense", "placement": "post_activation", "cases": 1, "inputs": 8, "units": 2}


@pytest.mark.parametrize(
    ("norm", "transform", "seed"),
    [
        ("rms_norm", "weight_matrix_recenter", 5),  # 6 of its 8 trials 0/0, the other 2 constant
        ("rms_norm", "weight_vector_rescale", 14),
        ("rms_norm_2d", "dataset_recenter", 17),
        ("scale_norm", "weight_vector_rescale", 19),
    ],
)
def test_the_seeds_that_read_invariant_read_not_invariant(norm: str, transform: str, seed: int) -> None:
    r = invariance_error(norm, transform, seed=seed, **SMALL)
    assert r.verdict == "not_invariant", r.why
    assert "trials ran" in r.why
    assert "bfloat16" not in r.why  # a constant output is no coarser precision inside


@pytest.mark.parametrize("norm", ["rms_norm", "scale_norm"])
def test_a_true_invariance_stays_invariant(norm: str) -> None:
    for seed in (5, 17):
        r = invariance_error(norm, "weight_matrix_rescale", seed=seed, **SMALL)
        assert r.verdict == "invariant", r.why


def _check(units: int, placement: str = "post_activation") -> CheckConfig:
    layer = LayerConfig("dense", placement=placement, cases=1, inputs=8, units=units)
    return CheckConfig(
        NormConfig("rms_norm"), TransformConfig("weight_matrix_recenter"), layer, trials=8, seed=5
    )


def test_trials_are_added_only_where_few_respond() -> None:
    small = _check(2)
    more, note = informative.enough(small, draw(small))
    assert more.trials > small.trials and note
    wide = _check(16)  # sets of 16 entries: not looked at
    assert informative.constant_trials(wide, draw(wide)) is None
    assert informative.enough(wide, draw(wide)) == (wide, None)
    summed = _check(2, "summed")  # (a1, a2) / rms: it responds wherever it is defined
    assert informative.enough(summed, draw(summed)) == (summed, None)
