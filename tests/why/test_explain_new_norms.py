"""explain for the norms added last: a norm without statistics (dyt) and a weight norm with a mean."""

from __future__ import annotations

from invcheck.settings import check_config
from invcheck.why.explain import explain_check
from invcheck.why.render import explain_text


def test_dyt_counterexample_has_no_statistics_and_renders():
    e = explain_check(check_config("dyt", "case_rescale", "dense", trials=2))
    assert e.verdict == "not_invariant" and e.counterexample is not None
    assert e.counterexample["mu"] == [] and "tanh" in e.counterexample["norm_definition"]
    text = explain_text(e, color=False, width=100)
    assert "statistics: none" in text and "y = g tanh(α a) + b" in text


def test_weight_standardization_holds_under_a_per_unit_rescale():
    e = explain_check(check_config("weight_standardization", "weight_vector_rescale", "dense", trials=2))
    assert e.verdict == "invariant" and e.movement is not None
    assert e.movement["per"] == "unit"  # one mean and spread per unit's incoming weights
    assert e.movement["sigma_ratio"] == ["δ_1", "δ_2", "δ_3", "δ_4"]
