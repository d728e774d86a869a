"""One conformance test over every registered norm x layer kind x placement.

For each cell group (a norm in a layer kind, at a placement; every transform the kind has):
- the reference implementation's verdict and PyTorch's version's (where torch has one) agree;
- where this file derives the verdict by hand (the norms added last: DERIVED, and per kind
  DERIVED_BY_KIND, below), both are it;
- conv3d gives conv's verdict, cell for cell (the same algebra over three spatial axes);
- (slow) the exact machinery (`invcheck prove`) proves every invariant cell and refutes every
  not_invariant one, for every kind written exactly (`LayerKind.exact_sizes`).
Everything is parametrized from the registries: a new entry is checked the day it is registered,
and an oracle here that does not know it says so (a skip naming it), never an error.
"""

from __future__ import annotations

import functools

import pytest

from invcheck.layer_kinds import LAYER_KINDS
from invcheck.norms import NORMS
from invcheck.placements import PLACEMENTS
from invcheck.runner import run_check
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig
from tests.derived_rows import COLUMNS, transforms

I, N, U = "invariant", "not_invariant", "undefined"
EPS = 1e-12  # far below every spread here: the verdicts are eps 0's
TRIALS = 3  # few trials: the verdicts here are far from their tolerances (test_measure.py calibrates)
MORE_TRIALS = 48  # where every one of TRIALS was degenerate (a per-position norm after a ReLU)

# The hand derivation, one string per norm and placement, one letter per transform in COLUMNS' order
# (token_rescale only where a kind has tokens). Derived from each norm's definition, not from its code.
# DERIVED[(norm, placement)] holds for every kind in DERIVED_KINDS; where a kind's row differs (or a
# kind is not in DERIVED_KINDS), DERIVED_BY_KIND[(norm, kind, placement)] holds it and wins. A norm or
# kind without a row here is skipped, by name: a new norm adds its DERIVED rows (and any per-kind rows
# that differ), a new kind its DERIVED_BY_KIND rows, with the derivation in a comment above them.
#
# scale_norm: y = g a / ||a||_2 over one case's units and positions (per token in a sequence layer):
#   a factor constant over that set cancels, nothing else does (no mean is subtracted).
#   summed: W rescale (a' = d a) I; W recenter (a' = a + x.gamma, not removed) N; w_i rescale (d_i
#   differs over the units of a case) N; data rescale I; data recenter (a' = a + gamma.w_i) N; case
#   rescale (d_n: one per set) I; token rescale (d_ns: one per token, the set in a sequence) I.
#   post_activation: relu(k a) = k relu(a) for k > 0, a shift loses all structure: the same letters.
#   input (y = norm(X) W^T): weight transforms act after the norm (y' = d y, y + norm(X) gamma 1^T,
#   d_i y_i) N N N; data rescale I; data recenter (gamma per feature) N; case rescale I; token I.
#   recurrent (summed only): W rescale scales every a_t, so h_t is unchanged step by step: I; the data
#   transforms scale x_t but not W_hh h_t-1 from the second step on: N; the rest as dense: N.
# dyt: y = g tanh(a / 2) + b entry by entry, no statistic: any change of what it sees changes y; on the
#   input, any change of X or W changes y: N everywhere.
# weight_standardization: w_i -> (w_i - mean w_i) / std w_i before the layer, y = g a + b: a positive
#   factor of w_i (one d, or its own d_i) cancels in the standardization: I, I; w_i + gamma is no
#   function of w_i's mean and spread: N; the data is not normalized (a' = d a, a + gamma.w_hat_i with
#   w_hat_i of mean 0 but gamma not constant, d_n a_n, d_ns): N. A ReLU after it keeps those letters.
#   On the input it has no meaning (no unit's weights there): U. Recurrent: the same (W = [W_xh | W_hh]
#   as a whole, each unit's row standardized).
DERIVED: dict[tuple[str, str], str] = {
    ("scale_norm", "summed"): "INNINII",
    ("scale_norm", "post_activation"): "INNINII",
    ("scale_norm", "input"): "NNNINII",
    ("dyt", "summed"): "NNNNNNN",
    ("dyt", "post_activation"): "NNNNNNN",
    ("dyt", "input"): "NNNNNNN",
    ("weight_standardization", "summed"): "ININNNN",
    ("weight_standardization", "post_activation"): "ININNNN",
    ("weight_standardization", "input"): "UUUUUUU",
}
DERIVED_KINDS = ("dense", "conv", "conv1d", "conv3d", "sequence")  # where DERIVED's rows were derived
DERIVED_BY_KIND: dict[tuple[str, str, str], str] = {
    ("scale_norm", "recurrent", "summed"): "INNNNNN",
    ("dyt", "recurrent", "summed"): "NNNNNNN",
    ("weight_standardization", "recurrent", "summed"): "ININNNN",
}
# The paper's norms: their rows are derived in tests/derived_rows.py (dense, conv) and tests/placements.
DERIVED_ELSEWHERE = (
    "batch_norm",
    "weight_norm",
    "layer_norm",
    "instance_norm",
    "group_norm",
    "rms_norm",
    "layer_norm_2d",
    "rms_norm_2d",
)
HOME = "tests/test_conformance.py"
LETTER = {"I": I, "N": N, "U": U}


def derived_row(norm: str, kind: str, placement: str) -> str | None:
    """The hand-derived letters of a cell group, None where this file derives none."""
    if (norm, kind, placement) in DERIVED_BY_KIND:
        return DERIVED_BY_KIND[norm, kind, placement]
    return DERIVED.get((norm, placement)) if kind in DERIVED_KINDS else None


def derived(norm: str, kind: str, placement: str, transform: str) -> str:
    """The hand-derived verdict; a cell group this file derives none for is skipped, by name."""
    letters = derived_row(norm, kind, placement)
    if letters is None:
        if kind not in (*DERIVED_KINDS, "recurrent"):  # a kind this file has not derived for
            pytest.skip(
                f"no hand derivation for {kind} ({norm}, {placement}): add one in {HOME} (DERIVED_BY_KIND)"
            )
        if norm in DERIVED_ELSEWHERE:
            pytest.skip(f"{norm} is derived in tests/derived_rows.py and tests/placements, not here")
        pytest.skip(f"no hand derivation for {norm} ({kind}, {placement}): add one in {HOME} (DERIVED)")
    return LETTER[letters[COLUMNS.index(transform)]]


def _group(norm: str, kind: str, placement: str) -> pytest.MarkDecorator:
    """One pytest-xdist worker for a cell's tests (and conv3d's with conv's, which it compares with),
    so `verdict`'s cache computes each verdict once in the session, not once per worker."""
    family = "conv" if kind == "conv3d" else kind
    return pytest.mark.xdist_group(f"conformance:{norm}-{family}-{placement}")


CELLS = [
    pytest.param(norm, kind, placement, id=f"{norm}-{kind}-{placement}", marks=_group(norm, kind, placement))
    for norm in NORMS
    for kind in LAYER_KINDS
    for placement in PLACEMENTS
    if PLACEMENTS[placement].refusal(LAYER_KINDS[kind]) is None
]


@functools.cache
def verdict(norm: str, kind: str, placement: str, transform: str, impl: str = "reference") -> str:
    """The cell's verdict, every implementation given the same eps: EPS where the norm's PyTorch
    version takes one (torch's BatchNorm refuses 0), else 0 (what torch's own default eps does to a
    verdict is test_torch_impl.py's question)."""
    check = CheckConfig(
        norm=NormConfig(id=norm, impl=impl, eps=EPS if NORMS[norm].has_eps else 0.0),
        transform=TransformConfig(id=transform),
        layer=LayerConfig(kind, placement=placement),
        trials=TRIALS,
    )
    result = run_check(check)
    if result.degenerate == check.trials:  # a ReLU zeroed a set in every trial: decide on more trials
        result = run_check(check.with_(trials=MORE_TRIALS))
    return result.verdict


@pytest.mark.fast_set(kind="dense")  # the other kinds: slow (the full suite runs every one)
@pytest.mark.parametrize("norm, kind, placement", CELLS)
def test_torch_version_agrees_with_the_reference(norm: str, kind: str, placement: str) -> None:
    if not NORMS[norm].has_torch:
        pytest.skip(f"PyTorch has no version of {norm}")
    ts = transforms(kind)
    assert {t: verdict(norm, kind, placement, t, "torch") for t in ts} == {
        t: verdict(norm, kind, placement, t) for t in ts
    }


@pytest.mark.fast_set(placement="summed")  # the other placements: slow
@pytest.mark.parametrize("norm, kind, placement", [c for c in CELLS if c.values[1] == "conv3d"])
def test_conv3d_gives_convs_verdicts(norm: str, kind: str, placement: str) -> None:
    ts = transforms(kind)
    assert {t: verdict(norm, kind, placement, t) for t in ts} == {
        t: verdict(norm, "conv", placement, t) for t in ts
    }


# conv3d's other placements: slow (its volumes make it the dearest kind; in the fast set its summed
# cells are checked against conv's, above, and conv's against the derivation, here)
@pytest.mark.fast_set(kind=tuple(k for k in LAYER_KINDS if k != "conv3d"))
@pytest.mark.parametrize("norm, kind, placement", CELLS)
def test_reference_matches_the_hand_derivation(norm: str, kind: str, placement: str) -> None:
    want = {t: derived(norm, kind, placement, t) for t in transforms(kind)}
    assert {t: verdict(norm, kind, placement, t) for t in want} == want


@pytest.mark.parametrize("norm, kind, placement", [c for c in CELLS if c.values[1:] == ("dense", "summed")])
def test_exact_search_agrees_in_a_dense_layer(norm: str, kind: str, placement: str) -> None:
    """Fast, for every norm: the exact machinery's small-integer search refutes the cells the
    reference finds not invariant, and none it finds invariant (the full proofs, every kind and
    placement, are the slow test below)."""
    from invcheck.why.cell import ExactCell
    from invcheck.why.prove import refute

    missed = []
    for t in transforms(kind):
        cell = ExactCell(kind, norm, t, placement=placement)
        want = verdict(norm, kind, placement, t)
        if cell.undefined_reason():
            assert want == U, t
            continue
        found = refute(cell, draws=8)
        if want != N:
            assert found is None, (t, "an exact counterexample to a cell the reference finds " + want, found)
        elif found is None and refute(cell, draws=200, high=6) is None:
            missed.append(t)  # every small draw degenerate at the exact sizes (one entry per set)
    if missed:
        pytest.xfail(f"no small-integer draw breaks {', '.join(missed)} at the exact sizes")


PROOF = {I: "proved", N: "refuted", U: "undefined"}
# wall clock per cell and transform: each takes well under a second of CPU (why/algebra.py); the
# margin is for a loaded machine, where a cell past it is listed (xfail), never passed
PROOF_SECONDS = 20.0


# Cells where the exact machinery answers another question than the numeric check (known, said):
EXACT_DIFFERS = {
    **{  # the exact sizes give the input 2 channels: with 2 groups, group_norm is instance_norm there
        ("group_norm", kind, "input"): "at the exact sizes one input channel per group (instance_norm)"
        for kind in ("conv", "conv1d", "conv3d", "sequence")
    },
}
PROOF_CELLS = [
    pytest.param(
        *c.values, id=c.id, marks=[*c.marks, pytest.mark.xfail(reason=EXACT_DIFFERS[c.values], strict=True)]
    )
    if c.values in EXACT_DIFFERS
    else c
    for c in CELLS
]


@pytest.mark.slow
@pytest.mark.parametrize("norm, kind, placement", PROOF_CELLS)
def test_exact_proof_agrees(norm: str, kind: str, placement: str) -> None:
    """Every cell the exact machinery decides is decided as its verdict says: proved where invariant,
    refuted where not. A cell it cannot decide (the time limit; a draw degenerate at the exact sizes)
    is listed (xfail), never passed; a contradiction fails."""
    from invcheck.why.cell import ExactCell
    from invcheck.why.prove import prove

    if LAYER_KINDS[kind].exact_sizes is None:
        pytest.skip(f"a {kind} layer is not written exactly (exact_sizes None)")
    undecided = []
    for t in transforms(kind):
        want = PROOF[verdict(norm, kind, placement, t)]
        proof = prove(ExactCell(kind, norm, t, placement=placement), time_limit=PROOF_SECONDS)
        if proof.status == "numeric only":
            undecided.append(t)
            continue
        assert proof.status == want, (t, proof.detail)
    if undecided:
        pytest.xfail(
            f"not decided exactly (time limit {PROOF_SECONDS:g} s, or sizes): {', '.join(undecided)}"
        )
