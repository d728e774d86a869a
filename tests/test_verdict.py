"""verdict.judge on hand-made Measurements: the boundaries between verdicts, and what a Result carries."""

from __future__ import annotations

import json

import pytest

from invcheck import tolerance as tol
from invcheck.evidence import EpsInfo, Measurement, RunNumbers
from invcheck.settings import CheckConfig, NormConfig
from invcheck.verdict import judge

NOISE = 1e-15  # float64 noise of the exact run in these measurements: tolerance SAFETY x 1e-15


def run(dtype: str, deviation: list[float], noise: float) -> RunNumbers:
    n = len(deviation)
    return RunNumbers(
        dtype,
        deviation=list(deviation),
        noise=[noise] * n,
        scale=[1.0] * n,
        where=[{"trial": t, "case": t, "unit": 0} for t in range(n)],
        finite=[True] * n,
        moves=[True] * n,
    )


def measurement(
    exact: list[float],
    checked: list[float] | None = None,
    dtype: str = "float32",
    checked_noise: float = 1e-7,
    eps_effect: list[float] | None = None,
    **check,
) -> Measurement:
    c = CheckConfig(dtype=dtype, trials=len(exact), **check)
    wide = run("float64", exact, NOISE)
    m = Measurement(
        c,
        checked=wide if checked is None else run(dtype, checked, checked_noise),
        exact=wide,
        degenerate=[None] * len(exact),
    )
    if eps_effect is not None:
        m.eps, m.eps_effect = EpsInfo(1e-5, "the spec"), eps_effect
    return m


def test_exact_invariance_in_both_runs_is_invariant():
    r = judge(measurement([1e-16, 2e-16], checked=[1e-7, 2e-7]))
    assert r.verdict == "invariant"
    assert (r.run, r.bound) == ("float32", "rounding")  # the checked dtype is the headline
    assert r.tolerance == pytest.approx(tol.SAFETY * 1e-7) and r.deviation == 2e-7
    assert "float64 run: deviation" in r.why


@pytest.mark.parametrize(
    "ratio, verdict",
    [
        (0.99, "invariant"),
        (1.01, "inconclusive"),
        (tol.MARGIN * 0.99, "inconclusive"),
        (tol.MARGIN * 1.01, "not_invariant"),
        (1e9, "not_invariant"),
    ],
)
def test_boundaries_of_the_float64_run(ratio, verdict):
    limit = tol.SAFETY * NOISE
    r = judge(measurement([ratio * limit, 0.0], checked=[1e-7, 1e-7]))
    assert r.verdict == verdict
    assert r.run == ("float32" if verdict == "invariant" else "float64")


def test_a_violation_only_float64_sees_says_so():
    r = judge(measurement([1e-6, 1e-6], checked=[1e-2, 1e-2], dtype="bfloat16", checked_noise=1e-2))
    assert r.verdict == "not_invariant" and r.run == "float64"
    assert r.deviation == 1e-6 and r.tolerance == pytest.approx(tol.SAFETY * NOISE)
    assert "only the float64 run of the same layer sees the violation" in r.why


def test_checked_dtype_far_off_while_float64_is_fine_is_inconclusive():
    r = judge(measurement([1e-16, 1e-16], checked=[1e-2, 1e-7]))
    assert r.verdict == "inconclusive" and r.run == "float32"
    assert "float32-specific" in r.why


def test_range_problem_is_undefined_not_a_violation():
    m = measurement([1e-16, 1e-16], checked=[0.5, 0.5], dtype="float16", checked_noise=1e-3)
    m.range_problem = "X' underflows float16: ..."
    r = judge(m)
    assert r.verdict == "undefined" and r.why.startswith("X' underflows float16")
    assert r.deviation is None and r.tolerance is None


def test_range_problem_does_not_hide_a_math_violation():
    m = measurement([0.3, 0.3], checked=[0.5, 0.5], dtype="float16", checked_noise=1e-3)
    m.range_problem = "X' underflows float16"
    assert judge(m).verdict == "not_invariant"


def test_eps_effect_is_allowed_up_to_the_cap():
    r = judge(measurement([1e-16, 1e-16], checked=[3e-3, 1e-4], eps_effect=[3e-3, 1e-4]))
    assert r.verdict == "invariant" and r.bound == "eps" and r.eps_effect == 3e-3
    assert r.tolerance == pytest.approx(3e-3 + tol.SAFETY * 1e-7)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_eps_beyond_a_set_bound_breaks_invariance_in_every_dtype(dtype):
    r = judge(
        measurement(
            [1e-16, 1e-16],
            checked=[0.08, 0.01],
            dtype=dtype,
            checked_noise=0.05,
            eps_effect=[0.08, 0.01],
            max_eps_effect=0.01,
        )
    )
    assert r.verdict == "not_invariant"
    assert (r.run, r.bound, r.deviation, r.tolerance) == ("eps", "eps", 0.08, 0.01)
    assert "breaks it" in r.why


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_without_a_bound_eps_qualifies_invariance_and_never_fails_it(dtype):
    m = measurement(
        [1e-16, 1e-16], checked=[0.08, 0.01], dtype=dtype, checked_noise=1e-3, eps_effect=[0.08, 0.01]
    )
    r = judge(m)
    assert r.verdict == "invariant" and r.eps_effect == 0.08
    assert "invariant up to eps" in r.why and "0.08" in r.why


def test_a_tolerance_too_loose_to_mean_anything_is_inconclusive():
    m = measurement([1e-16], checked=[0.01], checked_noise=0.05)
    m.exact = None  # no float64 run: the checked dtype alone must have the power
    r = judge(m)
    assert r.verdict == "inconclusive" and "too loose" in r.why


def test_with_a_float64_run_the_power_is_its_own():
    r = judge(measurement([1e-16], checked=[0.01], checked_noise=0.05))
    assert r.verdict == "invariant"  # bfloat16-like noise, but the float64 run decides violations


def test_degenerate_trials_are_left_out_and_counted():
    m = measurement([1e-16, 0.9, 1e-16], checked=[1e-7, 0.9, 1e-7])
    m.degenerate = [None, "zero variance: ...", None]
    r = judge(m)
    assert r.verdict == "invariant" and r.degenerate == 1
    assert "1 of 3 trials degenerate (zero variance" in r.why


def test_all_trials_degenerate_is_undefined():
    m = measurement([0.0, 0.0])
    m.degenerate = ["zero variance: x", "zero variance: x"]
    r = judge(m)
    assert r.verdict == "undefined" and "every trial is degenerate: zero variance" in r.why


def test_undefined_passes_through():
    m = Measurement(CheckConfig(norm=NormConfig(id="instance_norm")), undefined="no positions")
    r = judge(m)
    assert (r.verdict, r.why, r.deviation, r.tolerance) == ("undefined", "no positions", None, None)


@pytest.mark.parametrize(
    "ratio, verdict", [(1.0, "invariant"), (1.2, "inconclusive"), (1.4, "not_invariant")]
)
def test_override_judges_the_checked_run_alone(ratio, verdict):
    m = Measurement(
        CheckConfig(dtype="float32", tolerance=1e-3, trials=1), checked=run("float32", [ratio * 1e-3], 0.0)
    )
    r = judge(m)
    assert (r.verdict, r.bound, r.tolerance) == (verdict, "override", 1e-3)


def test_the_decisive_trial_is_the_worst_ratio_and_carries_its_place():
    r = judge(measurement([1e-16, 5e-14, 1e-16], checked=[1e-7, 1e-7, 1e-7]))
    assert r.verdict == "not_invariant" and r.trial == 1 and r.where == {"trial": 1, "case": 1, "unit": 0}


def test_json_holds_no_nan():
    m = measurement([1e-16], checked=[float("inf")])
    d = judge(m).to_dict()
    json.dumps(d, allow_nan=False)  # raises on NaN or inf
    assert d["placement"] == "summed" and "runs" in d and "eps_source" in d
