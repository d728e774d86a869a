"""Statistic sets of two entries: a centered norm's output is ±1 per set, so a check compares enough
sets to see a transform swap one (issue 18's campaign: verdicts that flipped with the seed), and a
jump of ±1 is not read as a coarser precision inside."""

from __future__ import annotations

from typing import Any

import pytest

from invcheck import two_entry_sets
from invcheck.api import check, invariance_error

FLIPPED = [  # each read invariant at some seeds with its few sets
    {
        "norm": "layer_norm",
        "transform": "weight_vector_rescale",
        "layer": "dense",
        "trials": 2,
        "cases": 1,
        "units": 2,
    },
    {
        "norm": "group_norm",
        "transform": "weight_vector_rescale",
        "layer": "dense",
        "trials": 2,
        "cases": 3,
        "inputs": 32,
        "units": 2,
        "groups": 1,
        "eps": 1e-5,
    },
    {
        "norm": "batch_norm",
        "transform": "dataset_rescale",
        "layer": "recurrent",
        "trials": 4,
        "cases": 2,
        "inputs": 8,
        "units": 2,
        "steps": 3,
    },
]


@pytest.mark.fast_set(seed=0)  # the other seeds: slow
@pytest.mark.parametrize("cell", FLIPPED, ids=lambda c: f"{c['norm']}-{c['layer']}")
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 5])  # at least one of these read invariant in each
def test_a_violation_of_two_entry_sets_is_found_at_every_seed(cell: dict[str, Any], seed: int) -> None:
    r = invariance_error(seed=seed, **cell)
    assert r.verdict == "not_invariant", r.why
    assert "2 entries" in r.why and f"{two_entry_sets.MIN_SETS} sets" in r.why


@pytest.mark.fast_set(seed=0)  # the other seeds: slow
@pytest.mark.parametrize("seed", range(4))
def test_an_invariance_of_two_entry_sets_stays_invariant(seed: int) -> None:
    r = invariance_error("layer_norm", "dataset_rescale", "dense", trials=2, cases=1, units=2, seed=seed)
    assert r.verdict == "invariant", r.why


def test_a_jump_of_plus_minus_one_is_no_coarser_precision() -> None:
    r = invariance_error("layer_norm", "weight_vector_rescale", "dense", seed=9, trials=2, cases=1, units=2)
    assert r.verdict == "not_invariant", r.why  # was inconclusive: "computes in bfloat16 inside", noise 0.26
    assert "bfloat16" not in r.why


def test_only_centered_norms_of_two_entry_sets_count() -> None:
    assert two_entry_sets.sets_per_trial(check("layer_norm", "dataset_rescale", units=2, cases=3)) == 3
    assert (
        two_entry_sets.sets_per_trial(check("group_norm", "dataset_rescale", units=4, groups=2, cases=3)) == 6
    )
    assert two_entry_sets.sets_per_trial(check("rms_norm", "dataset_rescale", units=2)) is None  # a / rms
    # a norm that only scales, over one entry: its output is the entry's sign, ±1 too
    assert two_entry_sets.sets_per_trial(check("rms_norm", "dataset_rescale", units=1, cases=3)) == 3
    assert two_entry_sets.sets_per_trial(check("layer_norm", "dataset_rescale")) is None  # default sizes


def test_on_the_input_the_sets_are_those_of_x() -> None:
    # the norm sees X there: its channels and positions (8 x 8 input, not the 6 x 6 output), not the units'
    on_x = check(
        "layer_norm_2d", "dataset_rescale", "conv", placement="input", in_channels=2, out_channels=8, cases=2
    )
    assert two_entry_sets.sets_per_trial(on_x) == 2 * 8 * 8
    assert (
        two_entry_sets.sets_per_trial(on_x.with_(layer=on_x.layer.with_sizes(in_channels=8, out_channels=2)))
        is None
    )
    dense = check("layer_norm", "dataset_rescale", "dense", placement="input", inputs=2, units=16, cases=3)
    assert two_entry_sets.sets_per_trial(dense) == 3


@pytest.mark.parametrize("seed", [0, 1])
def test_a_sign_flip_of_a_one_unit_rms_norm_at_a_later_step_is_seen(seed: int) -> None:
    """rms_norm_2d after a recurrent layer of one unit outputs sign(a_t): data rescaled, a later
    step's a_t = d W_xh x_t + W_hh h_t-1 can change sign (outside tester I: invariant at 6 of 6 seeds)."""
    r = invariance_error(
        "rms_norm_2d",
        "dataset_rescale",
        "recurrent",
        eps=0.0,
        trials=4,
        cases=1,
        steps=2,
        inputs=5,
        units=1,
        seed=seed,
    )
    assert r.verdict == "not_invariant", r.why


def test_a_one_channel_rms_norm_keeps_its_exact_invariance() -> None:
    """The sign of a positive multiple is the sign: invariant, not a rounding remainder read as a
    violation (outside tester I: not_invariant at seed 1, 7.3e-14 against 3.9e-15)."""
    r = invariance_error(
        "rms_norm_2d",
        "weight_matrix_rescale",
        "conv1d",
        dtype="float32",
        eps=0.001,
        trials=8,
        cases=1,
        in_channels=1,
        out_channels=1,
        kernel=3,
        padding=1,
        size=5,
        seed=1,
    )
    assert r.verdict == "invariant", r.why


def test_a_weight_norm_over_two_weights_per_unit_is_held_to_the_rule() -> None:
    """weight_standardization over a fan-in of 2: each unit's standardized weights are ±1; W
    recentered swaps them where a unit's pair changes order (outside tester I: invariant at 3 of 6
    seeds). The sets are the units' weights."""
    assert (
        two_entry_sets.sets_per_trial(check("weight_standardization", "dataset_rescale", inputs=2, units=3))
        == 3
    )
    for seed in (0, 3):
        r = invariance_error(
            "weight_standardization",
            "weight_matrix_recenter",
            "dense",
            eps=0.0,
            trials=2,
            cases=2,
            inputs=2,
            units=1,
            seed=seed,
        )
        assert r.verdict == "not_invariant", r.why
