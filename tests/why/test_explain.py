"""Counterexamples are small, short and really break the norm; invariant cells show the cancellation."""

from __future__ import annotations

import pytest

from invcheck.settings import CheckConfig, NormConfig, TransformConfig
from invcheck.why.explain import explain_check as explain
from tests.why.independent import breaks

BROKEN = [
    ("layer_norm", "dataset_recenter"),
    ("batch_norm", "case_rescale"),
    ("weight_norm", "dataset_rescale"),
    ("rms_norm", "weight_matrix_recenter"),
    ("group_norm", "weight_vector_rescale"),
    ("layer_norm", "weight_vector_rescale"),
    ("batch_norm", "weight_matrix_recenter"),
]


def check(norm: str, transform: str) -> CheckConfig:
    return CheckConfig(norm=NormConfig(id=norm), transform=TransformConfig(id=transform), trials=4)


def _flat(nested: list) -> list:
    return [v for row in nested for v in (row if isinstance(row, list) else [row])]


@pytest.mark.parametrize(("norm", "transform"), BROKEN)
def test_counterexample_is_small_short_and_breaks(norm, transform):
    e = explain(check(norm, transform))
    assert e.verdict == "not_invariant"
    c = e.counterexample
    assert len(_flat(c["X"])) <= 12 and len(_flat(c["W"])) <= 12
    for v in _flat(c["X"]) + _flat(c["W"]) + _flat(c["X2"]) + _flat(c["W2"]):
        assert float(v) == round(float(v), 1) and abs(v) <= 20  # short numbers
    broken, y, y2 = breaks(norm, c["X"], c["W"], c["X2"], c["W2"])
    assert broken
    assert _flat(y.tolist()) == pytest.approx(_flat(c["y"]), abs=1e-9)
    assert _flat(y2.tolist()) == pytest.approx(_flat(c["y2"]), abs=1e-9)
    assert c["g"] == 1 and c["b"] == 0 and c["differs"]


def test_invariant_cell_shows_how_mu_and_sigma_move():
    e = explain(check("layer_norm", "dataset_rescale"))
    assert e.verdict == "invariant" and e.counterexample is None
    assert e.movement["sigma_ratio"] == ["δ"] and e.movement["centred_ratio"] == ["δ"]


def test_weight_rescaling_shows_the_gradient_consequence():
    e = explain(check("batch_norm", "weight_matrix_rescale"))
    learning = e.learning
    assert abs(learning["cosine_grad_w"]) < 1e-12
    assert all(r == pytest.approx(1.0, rel=1e-9) for r in learning["grad_norm_times_delta_ratio"].values())


def test_data_transform_has_no_learning_section():
    assert explain(check("layer_norm", "case_rescale")).learning is None
