"""judge: the numbers a verdict reports are the ones that decided it."""

from __future__ import annotations

from invcheck import tolerance as tol
from invcheck.scan.judge import Numbers, judge


def test_an_eps_verdict_reports_eps_effect_and_its_cap() -> None:
    """Invariant with eps off (deviation 0), broken by eps: the row must not read "✗ 0"."""
    j = judge(Numbers(deviation=0.0, tolerance=1e-15, noise=2e-16, eps_effect=0.05))
    assert j.verdict == "not_invariant"
    assert (j.deviation, j.tolerance) == (0.05, tol.EPS_CAP)


def test_a_verdict_of_the_model_values_run_keeps_its_numbers() -> None:
    j = judge(Numbers(deviation=0.3, tolerance=1e-15, noise=2e-16))
    assert j.verdict == "not_invariant"
    assert (j.deviation, j.tolerance) == (None, None)  # the run's own numbers stand
