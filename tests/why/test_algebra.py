"""The proofs' fast exact arithmetic (invcheck/why/algebra.py): its identities, its refusals, and
that it proves exactly the cells sympy's slower path proves."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from invcheck.why.algebra import Algebra, Unsupported
from invcheck.why.cell import ExactCell
from invcheck.why.prove import fast_zero, prove, symbolic


@pytest.fixture
def alg() -> Algebra:
    return Algebra()


def test_a_positive_factor_leaves_a_root_and_the_rest_shares_it(alg):
    x1, x2, d = alg.generator("x1"), alg.generator("x2"), alg.generator("d", nonneg=True)
    p = x1 * x1 + x2 * x2
    assert (alg.sqrt(d * d * p) - d * alg.sqrt(p)).is_zero()
    assert (alg.sqrt(8 * p) - 2 * alg.sqrt(2 * p)).is_zero()
    assert (alg.sqrt(p / 4) - alg.sqrt(p) / 2).is_zero()
    assert not (alg.sqrt(2 * p) - alg.sqrt(p)).is_zero()
    assert not (alg.sqrt(x1 * x1) - x1).is_zero()  # sqrt(x^2) is |x| for a real x: not simplified


def test_relu_takes_out_nonnegative_factors_only(alg):
    x1, x2, d = alg.generator("x1"), alg.generator("x2"), alg.generator("d", nonneg=True)
    z = x1 - x2
    assert (alg.relu(3 * d * z) - 3 * d * alg.relu(z)).is_zero()
    assert not (alg.relu(-z) - alg.relu(z)).is_zero()
    assert not (alg.relu(x1 * z) - x1 * alg.relu(z)).is_zero()  # x1 may be negative
    assert alg.relu(alg.constant(-3)).is_zero()
    assert (alg.relu(2 * d) - 2 * d).is_zero()


def test_fractions_over_different_denominators(alg):
    x1, x2, d = alg.generator("x1"), alg.generator("x2"), alg.generator("d", nonneg=True)
    assert ((x1 / 3 + x2 / 6) * 6 - (2 * x1 + x2)).is_zero()
    assert ((x1 / d + x2 / (d * d)) * d * d - (x1 * d + x2)).is_zero()
    assert (x1 * Fraction(1, 2) - x1 / 2).is_zero()
    assert not (x1 / 3 - x1 / 2).is_zero()


@pytest.mark.parametrize(
    "step",
    [
        lambda x1, x2: x1 / (x1 + x2),  # a division by a sum
        lambda x1, x2: x1 / (x2 - x2),  # by zero
        lambda x1, x2: abs(x1),
        lambda x1, x2: x1 < x2,
        lambda x1, x2: x1**300,  # beyond the packed exponents
    ],
)
def test_what_it_does_not_write_is_refused(alg, step):
    with pytest.raises(Unsupported):
        step(alg.generator("x1"), alg.generator("x2"))


def test_summed_inputs_from_the_nonzero_coefficients_match_the_dense_product():
    cell = ExactCell("conv3d", "layer_norm", "weight_matrix_rescale")
    rng = np.random.default_rng(1)
    x = rng.integers(-3, 4, cell.kind.input_shape(cell.layer))
    w = rng.integers(-3, 4, cell.kind.weight_shape(cell.layer))
    exact = cell.summed(x.astype(object), w.astype(object))
    assert np.array_equal(exact.astype(float), cell.summed(x.astype(float), w.astype(float)))


CELLS = [  # (kind, norm, placement, transform): a proof in both, or in neither
    ("dense", "layer_norm", "summed", "weight_matrix_rescale"),
    ("dense", "batch_norm", "post_activation", "weight_vector_rescale"),
    ("dense", "weight_norm", "summed", "weight_vector_rescale"),
    ("dense", "layer_norm", "summed", "weight_vector_rescale"),
    ("dense", "rms_norm", "input", "dataset_recenter"),
    ("dense", "group_norm", "summed", "case_rescale"),
    ("dense", "scale_norm", "post_activation", "weight_matrix_recenter"),
    ("conv", "rms_norm", "summed", "dataset_rescale"),
    ("sequence", "layer_norm", "input", "token_rescale"),
]


@pytest.mark.parametrize("kind, norm, placement, transform", CELLS)
def test_it_proves_what_sympy_proves_and_nothing_else(kind, norm, placement, transform):
    cell = ExactCell(kind, norm, transform, placement=placement)
    assert fast_zero(cell) == (symbolic(cell).status == "proved")


def test_a_norm_it_does_not_write_goes_to_sympy():
    with pytest.raises(Unsupported):  # dyt's tanh
        fast_zero(ExactCell("dense", "dyt", "weight_matrix_rescale"))


def test_a_spread_identically_zero_is_neither_proved_nor_refuted():
    # a dense layer's 2 inputs in 2 groups: each group's spread is over one entry
    proof = prove(ExactCell("dense", "group_norm", "dataset_rescale", placement="input"))
    assert proof.status == "numeric only" and "identically 0" in proof.detail
