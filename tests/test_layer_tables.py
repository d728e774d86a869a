"""The tables of the layer kinds beyond the paper, against a derivation made here, cell by cell.

A norm is invariant under a transform exactly when the transform changes what the norm sees only by
a positive factor and/or an additive constant that are constant over each set one statistic is taken
over (and, in a recurrent layer, then leaves every h_t unchanged, so the next step sees the same).

sequence: a_nsi = x_ns . w_i, canonical [N, H, S] (tokens are positions). layer_norm / rms_norm per
token over units; batch_norm per unit over cases and tokens; instance_norm per case and unit over
tokens; group_norm per case and group of units over tokens.
recurrent: a_t = [x_t, h_t-1] W^T, h_t = tanh(norm(a_t)); every norm takes statistics per step.
"""

from __future__ import annotations

import pytest

from invcheck import table
from tests.derived_rows import COLUMNS

I, N, U = "invariant", "not_invariant", "undefined"

EXPECTED = {
    "sequence": {
        # W rescale, W recenter (x_ns.gamma: one constant per token), w_i rescale, data rescale,
        # data recenter (gamma.w_i: one constant per unit), case rescale (delta_n), token rescale (delta_ns)
        "batch_norm": (I, N, I, I, I, N, N),  # sets: one unit over cases and tokens
        "weight_norm": (I, N, I, N, N, N, N),  # divides by ||w_i||: only weight scalings cancel
        "layer_norm": (I, I, N, I, N, I, I),  # sets: one token's units
        "instance_norm": (I, N, I, I, I, I, N),  # sets: one case and unit over tokens
        "group_norm": (I, N, N, I, N, I, N),  # sets: one case, a group of units, over tokens
        "rms_norm": (I, N, N, I, N, I, I),  # one token's units, no mean
        "scale_norm": (I, N, N, I, N, I, I),  # rms_norm's sets, sigma = ||a||: the same factors cancel
        "dyt": (N,) * 7,  # tanh(alpha a) entry by entry: nothing cancels
        "weight_standardization": (I, N, I, N, N, N, N),  # standardizes w_i: only its scalings cancel
    },
    "recurrent": {
        # Data transforms scale or shift x_t but not h_t-1, so from the second step on a_t is no multiple
        # of what it was: every data rescaling is lost. A shift of x_t adds W_xh gamma: one constant per unit.
        "batch_norm": (I, N, I, N, I, N, N),  # per step, one unit over cases
        "weight_norm": (I, N, I, N, N, N, N),  # ||w_i|| over all D + H inputs scales with the row
        "layer_norm": (I, I, N, N, N, N, N),  # [x_t, h].gamma is one constant per case: removed (paper 3.1)
        "instance_norm": (U,) * 7,  # a step has no positions
        "group_norm": (I, I, N, N, N, N, N),
        "rms_norm": (I, N, N, N, N, N, N),
        "scale_norm": (I, N, N, N, N, N, N),  # as rms_norm: a_t' = d a_t for W' = d W only
        "dyt": (N,) * 7,
        "weight_standardization": (I, N, I, N, N, N, N),  # each row of [W_xh | W_hh] standardized
    },
}


@pytest.mark.fast_set(seed=0, dtype="float64")  # the other seeds and float32: slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("layer", sorted(EXPECTED))
def test_table_matches_the_derivation(layer: str, seed: int, dtype: str) -> None:
    report = table.build([layer], seed=seed, dtype=dtype)
    assert set(EXPECTED[layer]) <= set(report.norms(layer)) and report.transforms(layer) == list(COLUMNS)
    wrong = {
        (c.norm, c.transform): (c.verdict, c.result.why)
        for c in report.cells
        if c.norm in EXPECTED[layer] and c.verdict != EXPECTED[layer][c.norm][COLUMNS.index(c.transform)]
    }
    assert not wrong
    unknown = [n for n in report.norms(layer) if n not in EXPECTED[layer]]
    if unknown:
        pytest.skip(
            f"no derivation here of {', '.join(unknown)} in a {layer} layer: add its row to EXPECTED "
            "in tests/test_layer_tables.py"
        )


def test_the_rnn_claim_stands_beside_the_recurrent_table() -> None:
    report = table.build(["recurrent"], trials=4)
    cell = report.cell("recurrent", "layer_norm", "weight_matrix_rescale")
    assert cell.survey is not None and cell.survey.verdict == cell.verdict == I
    assert report.failures() == []  # the papers' claims hold in their settings
    note = report.cell("recurrent", "layer_norm", "dataset_rescale").note
    assert note and "h_t-1" in note
