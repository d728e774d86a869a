"""0/0 that the checked dtype makes inside a recurrent layer (a set's entries rounded to one value in
bfloat16, eps 0): those trials are left out and the rest decide, never read as overflow (outside
tester A: recurrent batch_norm over 2 cases and group_norm over 2 units, W rescale, undefined at 10
of 10 seeds)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from invcheck.api import invariance_error  # noqa: E402

CELLS = [
    ("batch_norm", {"cases": 2, "steps": 2, "inputs": 16, "units": 4}),
    ("group_norm", {"cases": 1, "steps": 6, "inputs": 16, "units": 2, "groups": 1}),
]


@pytest.mark.parametrize(("norm", "sizes"), CELLS)
def test_recurrent_two_entry_sets_in_bfloat16_are_judged(norm: str, sizes: dict[str, int]) -> None:
    for seed in (0, 1):
        r = invariance_error(
            norm, "weight_matrix_rescale", "recurrent", dtype="bfloat16", seed=seed, trials=4, **sizes
        )
        assert r.verdict == "invariant", r.why
        assert "overflow" not in r.why


def test_their_zero_spread_trials_say_0_over_0() -> None:
    r = invariance_error(
        "batch_norm", "weight_matrix_rescale", "recurrent", dtype="bfloat16", seed=0, trials=4, **CELLS[0][1]
    )
    assert r.degenerate and "zero variance in bfloat16" in r.why
