"""The hand-derived verdicts of every norm in a dense and a conv layer (summed placement), shared by
the tests that check the tool against them (test_measure.py) and those that count from them.

Derived here, cell by cell, from the definitions in the README ("What it computes") (not imported
from invcheck.paper): a norm is invariant under a transform exactly when the transform maps every
normalized entry (a - mu) / sigma to itself, i.e. when it changes the summed inputs a only by a
positive factor and/or an additive constant that are both constant over the set of entries one
statistic is taken over.

Notation: dense a_ni = x_n . w_i; conv a_ncp = sum_{c_in, k} X[n, c_in, p + k] W[c, c_in, k]
(no padding). Sets: batch_norm = one unit over cases (and positions); layer_norm / rms_norm = one
case over units (and positions); instance_norm = one case, one channel, over positions;
group_norm = one case, one group of channels (and positions); weight_norm divides by ||w_i||;
layer_norm_2d / rms_norm_2d = one case, one position, over its channels (in a dense layer there are
no positions: they are layer_norm / rms_norm).
A new norm: add its row to each layer below (or the oracles that use this table skip it, by name).
"""

from __future__ import annotations

import pytest

from invcheck.layer_kinds import LAYER_KINDS
from invcheck.norms import NORMS
from invcheck.settings import LayerConfig
from invcheck.transforms import TRANSFORMS

I, N, U = "invariant", "not_invariant", "undefined"

# Where a row is missing, the oracles reading this table skip, naming the norm and this file.
HOME = "tests/derived_rows.py"

# The columns of every hand-derived row (here, tests/test_conformance.py, tests/test_layer_tables.py),
# in names.TRANSFORMS order; token_rescale, last, only where a kind has tokens (the rows below stop
# before it: a dense or conv layer has none).
COLUMNS = (
    "weight_matrix_rescale",
    "weight_matrix_recenter",
    "weight_vector_rescale",
    "dataset_rescale",
    "dataset_recenter",
    "case_rescale",
    "token_rescale",
)


def transforms(kind: str) -> list[str]:
    """The registered transforms a layer kind defines (the rest are undefined there), in registry order."""
    return [t for t, spec in TRANSFORMS.items() if spec.undefined_reason(LAYER_KINDS[kind]) is None]


EXPECTED: dict[str, dict[str, tuple[str, ...]]] = {
    "dense": {
        "batch_norm": (
            I,  # a' = d a: each unit's mu, sigma scale by d > 0
            N,  # a'_ni = a_ni + x_n.gamma: the added term varies over cases n within a unit's set
            I,  # a'_ni = d_i a_ni: one factor per unit, and the set is one unit
            I,  # a' = d a: one factor for everything
            I,  # a'_ni = a_ni + gamma.w_i: a constant per unit over cases -> removed by the unit's mean
            N,  # a'_ni = d_n a_ni: factors differ across the cases of a unit's set
        ),
        "weight_norm": (
            I,  # a' = d a and ||w_i'|| = d ||w_i||
            N,  # a' gains x_n.gamma, ||w_i + gamma|| is not a common factor, and no mean is subtracted
            I,  # a'_i = d_i a_i and ||w_i'|| = d_i ||w_i||
            N,  # a' = d a but ||w_i|| is unchanged: y scales by d
            N,  # a'_ni = a_ni + gamma.w_i: nothing subtracts the shift
            N,  # a'_n = d_n a_n, ||w_i|| unchanged
        ),
        "layer_norm": (
            I,  # a' = d a: each case's mu, sigma scale by d
            I,  # a'_ni = a_ni + x_n.gamma: a constant per case over units -> removed by the case's mean
            N,  # a'_ni = d_i a_ni: factors differ across the units of a case's set
            I,  # a' = d a
            N,  # a'_ni = a_ni + gamma.w_i: the shift varies across units within a case
            I,  # a'_n = d_n a_n: one factor per case, and the set is one case
        ),
        "instance_norm": (U,) * 6,  # a dense layer has no positions: no set to take statistics over
        "group_norm": (
            I,  # a' = d a
            I,  # x_n.gamma is constant over all units of case n, so over each group
            N,  # d_i differs within a group (groups of 8 units)
            I,  # a' = d a
            N,  # gamma.w_i varies across the units of a group
            I,  # d_n is constant over every group of case n
        ),
        "rms_norm": (
            I,  # a' = d a: rms scales by d
            N,  # x_n.gamma is a constant per case, but rms_norm does not subtract a mean
            N,  # d_i differs across the units of a case
            I,  # a' = d a
            N,  # gamma.w_i shifts units differently and is not subtracted
            I,  # d_n: one factor per case
        ),
        "layer_norm_2d": None,  # filled below: layer_norm's row (a dense layer has no positions)
        "rms_norm_2d": None,
    },
    "conv": {
        "batch_norm": (
            I,  # a' = d a
            N,  # a'_ncp = a_ncp + conv(X, gamma)_np: varies over cases and positions within a channel
            I,  # a'_c = d_c a_c: one factor per filter = per channel's set
            I,  # a' = d a
            I,  # x + gamma_{c_in} (no padding): a'_c = a_c + sum gamma_{c_in} sum_k W[c, c_in, k], constant per channel
            N,  # d_n differs across the cases of a channel's set
        ),
        "weight_norm": (
            I,  # a' = d a and ||w_c'|| = d ||w_c||
            N,  # conv(X, gamma) added, not subtracted, and ||w_c + gamma|| is no common factor
            I,  # a'_c = d_c a_c and ||w_c'|| = d_c ||w_c||
            N,  # a' = d a, ||w_c|| unchanged
            N,  # a per-channel constant is added and never subtracted
            N,  # a'_n = d_n a_n, ||w_c|| unchanged
        ),
        "layer_norm": (
            I,  # a' = d a
            N,  # conv(X, gamma)_np varies over positions p within a case's set (unlike dense)
            N,  # d_c differs across the channels of a case
            I,  # a' = d a
            N,  # the added constant differs per channel c, within a case's set
            I,  # d_n: one factor per case
        ),
        "instance_norm": (
            I,  # a' = d a
            N,  # conv(X, gamma)_np varies over positions within one case and channel
            I,  # d_c: one factor per channel, and the set is one channel of one case
            I,  # a' = d a
            I,  # a per-channel constant over positions -> removed by the (case, channel) mean
            I,  # d_n: one factor per case
        ),
        "group_norm": (
            I,  # a' = d a
            N,  # conv(X, gamma)_np varies over positions within a group's set
            N,  # d_c differs across the channels of a group (groups of 4)
            I,  # a' = d a
            N,  # the per-channel constants differ within a group
            I,  # d_n: one factor per case
        ),
        "rms_norm": (
            I,  # a' = d a
            N,  # an added term, never subtracted
            N,  # d_c differs across the channels of a case
            I,  # a' = d a
            N,  # per-channel constants added, never subtracted
            I,  # d_n: one factor per case
        ),
        "layer_norm_2d": (
            I,  # a' = d a
            I,  # conv(X, gamma)_np is the same for every channel at position p: removed by the position's mean
            N,  # d_c differs across the channels at a position
            I,  # a' = d a
            N,  # the added constant differs per channel c, within a position's set
            I,  # d_n: one factor per case
        ),
        "rms_norm_2d": (
            I,  # a' = d a
            N,  # an added term, never subtracted
            N,  # d_c differs across the channels at a position
            I,  # a' = d a
            N,  # per-channel constants added, never subtracted
            I,  # d_n: one factor per case
        ),
    },
}
# The norms that coincide with another in a layer (a table shows that row once, under the other's name):
# in a dense layer there are no positions, so the 2d norms are layer_norm / rms_norm.
COINCIDE: dict[str, dict[str, str]] = {
    "dense": {"layer_norm_2d": "layer_norm", "rms_norm_2d": "rms_norm"},
    "conv": {},
}
for _layer, _same in COINCIDE.items():
    for _norm, _other in _same.items():
        EXPECTED[_layer][_norm] = EXPECTED[_layer][_other]
for _layer in ("dense", "conv"):
    EXPECTED[_layer].update(
        {
            # scale_norm: rms_norm's set (one case over units and positions), sigma = ||a||_2, no mean:
            # absorbed exactly what rms_norm absorbs, a factor constant over a case.
            "scale_norm": (I, N, N, I, N, I),
            # dyt: y = g tanh(alpha a) + b entry by entry, no statistic: every change of a reaches y.
            "dyt": (N,) * 6,
            # weight_standardization: w_i -> (w_i - mean w_i) / std w_i before the layer: any positive
            # factor of w_i (d, or d_i) is taken out; w_i + gamma is no function of w_i's mean and std;
            # nothing about the data is normalized (a' = d a scales y; shifts reach y).
            "weight_standardization": (I, N, I, N, N, N),
        }
    )


def shown_norms(layer: str) -> list[str]:
    """The registered norms a layer's table shows (summed placement), in registry order: all but
    those that coincide with another there. The registry says which coincide; for the norms derived
    here, that must be what COINCIDE says."""
    same = {n: NORMS[n].same_as(LAYER_KINDS[layer], LayerConfig(layer)) for n in NORMS}
    assert {n: o for n, o in same.items() if o and n in EXPECTED[layer]} == COINCIDE[layer]
    return [n for n, o in same.items() if o is None]


def row(layer: str, norm: str) -> tuple[str, ...]:
    """The norm's hand-derived row; a norm without one is skipped, by name."""
    if norm not in EXPECTED[layer]:
        pytest.skip(f"no hand derivation for {norm} in a {layer} layer: add one in {HOME}")
    return EXPECTED[layer][norm]


def count(layer: str, verdict: str) -> int:
    """How many of the layer table's cells the hand derivation gives this verdict."""
    return sum(row(layer, n).count(verdict) for n in shown_norms(layer))


def same_rows(layer: str, norm: str) -> list[str]:
    """The shown norms whose hand-derived row is this norm's, in registry order ("behaves like")."""
    return [n for n in shown_norms(layer) if row(layer, n) == row(layer, norm)]
