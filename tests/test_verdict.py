"""verdict.judge on hand-made Measurements: the boundaries between verdicts, and what a Result carries."""

from __future__ import annotations

import pytest

from invcheck import names
from invcheck.check import Measurement
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig
from invcheck.tolerance import MARGIN, decide
from invcheck.verdict import Result, judge


def measurement(deviation, *, kappa=None, kappa_acc=None, eps_effect=None, dtype="float64", tolerance=None,
                tf32=False, expect=None, where=None) -> Measurement:
    n = len(deviation)
    check = CheckConfig(dtype=dtype, tolerance=tolerance, tf32=tf32, expect=expect, trials=n)
    return Measurement(check, deviation=list(deviation), kappa=kappa or [10.0] * n,
                       kappa_acc=kappa_acc or [100.0] * n, eps_effect=eps_effect or [0.0] * n,
                       where=where or [{"trial": t, "case": 0, "unit": 0} for t in range(n)],
                       device="cpu", seconds=0.25, tf32=tf32)


def tol_of(kappa=10.0, kappa_acc=100.0, eps=0.0, dtype="float64", tf32=False) -> float:
    return decide(kappa, kappa_acc, eps, dtype, tf32).value


# ---------------------------------------------------------------- boundaries, with an override of 1.0

@pytest.mark.parametrize("deviation, verdict", [
    pytest.param(0.0, "invariant", id="zero"),
    pytest.param(0.5, "invariant", id="half"),
    pytest.param(1.0, "invariant", id="ratio-exactly-1"),
    pytest.param(1.0 + 1e-12, "inconclusive", id="just-above-1"),
    pytest.param(3.0, "inconclusive", id="between"),
    pytest.param(MARGIN, "inconclusive", id="ratio-exactly-MARGIN"),
    pytest.param(MARGIN * (1 + 1e-12), "not_invariant", id="just-above-MARGIN"),
    pytest.param(1e6, "not_invariant", id="far"),
])
def test_boundaries(deviation, verdict):
    r = judge(measurement([deviation], tolerance=1.0))
    assert r.verdict == verdict
    assert (r.deviation, r.tolerance, r.bound) == (deviation, 1.0, "override")
    assert r.ratio == pytest.approx(deviation)


@pytest.mark.parametrize("dtype", names.DTYPES)
def test_boundary_with_computed_tolerance(dtype):
    # tolerances whose MARGIN x lies above the sqrt(u) floor, and below MAX_TOLERANCE
    kappa = [{"float64": 1e9, "float32": 1e3}.get(dtype, 10.0)]
    t = tol_of(kappa=kappa[0], dtype=dtype)
    assert judge(measurement([t], kappa=kappa, dtype=dtype)).verdict == "invariant"
    assert judge(measurement([t * 1.001], kappa=kappa, dtype=dtype)).verdict == "inconclusive"
    assert judge(measurement([t * MARGIN * 1.001], kappa=kappa, dtype=dtype)).verdict == "not_invariant"
    r = judge(measurement([t], kappa=kappa, dtype=dtype))
    assert r.tolerance == t and r.bound == "rounding"


def test_the_same_deviation_is_judged_by_its_dtype():
    """1e-6 is far beyond float64 rounding and well within float32's."""
    dev = [1e-6]
    assert judge(measurement(dev, dtype="float64")).verdict == "not_invariant"
    assert judge(measurement(dev, dtype="float32")).verdict == "invariant"


def test_a_deviation_below_sqrt_u_is_never_a_violation():
    """An ill-conditioned user layer can amplify rounding past the model; sqrt(u) is the floor."""
    r = judge(measurement([1e-12], dtype="float64"))  # ~40x the float64 tolerance, but tiny
    assert r.verdict == "inconclusive" and "sqrt(u)" in r.why
    assert judge(measurement([1e-7], dtype="float64")).verdict == "not_invariant"


def test_a_tolerance_too_loose_to_decide_is_not_invariant():
    r = judge(measurement([0.05, 0.05, 0.05], eps_effect=[0.0] * 3, kappa=[1e3] * 3, dtype="bfloat16"))
    assert r.tolerance > 0.1 and r.verdict == "inconclusive" and "too loose" in r.why


def test_a_capped_eps_bound_never_makes_invariant():
    r = judge(measurement([0.005], eps_effect=[0.9]))
    assert r.bound == "eps (capped)" and r.verdict == "inconclusive" and "eps dominates" in r.why


# ---------------------------------------------------------------- several trials

def test_every_trial_must_be_within_tolerance():
    r = judge(measurement([0.1, 0.2, 1.5, 0.3], tolerance=1.0))
    assert r.verdict == "inconclusive" and r.trial == 2 and r.deviation == 1.5


def test_one_far_trial_makes_it_not_invariant():
    r = judge(measurement([0.1, 9.0, 0.3], tolerance=1.0))
    assert r.verdict == "not_invariant" and r.trial == 1


def test_the_decisive_trial_is_the_worst_ratio_not_the_worst_deviation():
    # trial 0: large deviation, large eps tolerance; trial 1: smaller deviation against a tiny tolerance
    m = measurement([1e-3, 1e-6], eps_effect=[5e-3, 0.0])
    r = judge(m)
    assert r.trial == 1
    assert r.deviation == 1e-6
    assert r.tolerance == tol_of(eps=0.0)
    assert r.bound == "rounding"
    assert r.verdict == "not_invariant"  # 1e-6 >> 2 * 2^-53 * 210, and above sqrt(u)


def test_bound_reported_is_the_decisive_trials():
    m = measurement([1e-5, 1e-30], eps_effect=[1e-3, 0.0])
    r = judge(m)
    assert r.trial == 0 and r.bound == "eps" and r.verdict == "invariant"
    assert r.tolerance == pytest.approx(1e-3 + tol_of())


def test_eps_capped_bound_reported():
    r = judge(measurement([0.5], eps_effect=[0.9]))
    assert r.bound == "eps (capped)" and r.verdict == "not_invariant"
    assert "capped" in r.why


def test_zero_tolerance():
    assert judge(measurement([0.0], tolerance=0.0)).verdict == "invariant"
    r = judge(measurement([1e-3], tolerance=0.0))
    assert r.verdict == "not_invariant" and r.ratio is None


# ---------------------------------------------------------------- override, tf32, undefined

def test_override_is_used_and_reported():
    computed = judge(measurement([1e-7], dtype="float64"))
    overridden = judge(measurement([1e-7], dtype="float64", tolerance=1e-6))
    assert computed.verdict == "not_invariant"
    assert overridden.verdict == "invariant"
    assert (overridden.tolerance, overridden.bound) == (1e-6, "override")


def test_tf32_loosens_float32_only():
    dev = [20 * tol_of(dtype="float32")]  # beyond MARGIN x the IEEE float32 tolerance
    assert judge(measurement(dev, dtype="float32")).verdict == "not_invariant"
    r = judge(measurement(dev, dtype="float32", tf32=True))
    assert r.verdict == "invariant" and "tf32" in r.why
    dev64 = [1e-6]
    assert judge(measurement(dev64, dtype="float64", tf32=True)).verdict == "not_invariant"


def test_undefined_passes_through():
    m = Measurement(CheckConfig(), undefined="instance_norm needs spatial positions", device="cpu", seconds=0.5)
    r = judge(m)
    assert r.verdict == "undefined"
    assert (r.deviation, r.tolerance, r.bound, r.ratio) == (None, None, None, None)
    assert r.why == "instance_norm needs spatial positions"
    assert r.seconds == 0.5


def test_undefined_wins_even_with_numbers():
    m = measurement([1e6], tolerance=1.0)
    m.undefined = "zero variance"
    assert judge(m).verdict == "undefined"


# ---------------------------------------------------------------- where, Result

def test_where_is_the_decisive_trials():
    where = [{"trial": 0, "case": 1, "unit": 2}, {"trial": 1, "case": 3, "unit": 4}]
    r = judge(measurement([0.1, 0.9], tolerance=1.0, where=where))
    assert r.where == {"trial": 1, "case": 3, "unit": 4}


def test_where_follows_the_ratio_not_the_largest_deviation():
    # trial 0 deviates most, but trial 1's deviation is the larger share of its tolerance
    where = [{"trial": 0, "case": 1, "unit": 2}, {"trial": 1, "case": 3, "unit": 4}]
    m = measurement([1e-4, 1e-12], eps_effect=[1e-3, 0.0], where=where)
    assert judge(m).where == {"trial": 1, "case": 3, "unit": 4}


RESULT_KEYS = {
    "file", "line", "name", "layer", "norm", "transform", "impl", "dtype", "verdict", "expect", "passed",
    "deviation", "tolerance", "bound", "why", "trial", "where", "device", "tf32", "seconds",
}


def test_to_dict():
    check = CheckConfig(norm=NormConfig(id="rms_norm"), transform=TransformConfig(id="case_rescale"),
                        layer=LayerConfig(kind="conv"), dtype="float32", expect="invariant",
                        file="specs/x.yaml", line=7)
    m = Measurement(check, deviation=[1e-8], kappa=[10.0], kappa_acc=[10.0], eps_effect=[0.0],
                    where=[{"trial": 0, "case": 1, "unit": 2}], seconds=0.123456)
    d = judge(m).to_dict()
    assert set(d) == RESULT_KEYS
    assert d["name"] == "conv/rms_norm/case_rescale"
    assert (d["layer"], d["norm"], d["transform"], d["dtype"]) == ("conv", "rms_norm", "case_rescale", "float32")
    assert (d["file"], d["line"], d["impl"], d["tf32"]) == ("specs/x.yaml", 7, "reference", False)
    assert d["verdict"] == "invariant" and d["expect"] == "invariant" and d["passed"] is True
    assert d["deviation"] == 1e-8 and d["bound"] == "rounding" and d["trial"] == 0
    assert d["seconds"] == 0.1235


def test_to_dict_of_undefined():
    d = judge(Measurement(CheckConfig(), undefined="why not")).to_dict()
    assert set(d) == RESULT_KEYS
    assert d["verdict"] == "undefined" and d["deviation"] is None and d["why"] == "why not"
    assert d["passed"] is None


@pytest.mark.parametrize("expect, deviation, expected", [
    pytest.param(None, 0.0, None, id="nothing-expected"),
    pytest.param("invariant", 0.0, True, id="invariant-as-expected"),
    pytest.param("not_invariant", 0.0, False, id="invariant-unexpected"),
    pytest.param("inconclusive", 3.0, True, id="inconclusive-as-expected"),
    pytest.param("invariant", 3.0, False, id="inconclusive-unexpected"),
])
def test_expected(expect, deviation, expected):
    assert judge(measurement([deviation], tolerance=1.0, expect=expect)).expected is expected


def test_expected_undefined():
    m = Measurement(CheckConfig(expect="undefined"), undefined="x")
    assert judge(m).expected is True
    m = Measurement(CheckConfig(expect="invariant"), undefined="x")
    assert judge(m).expected is False


def test_result_ratio():
    r = Result(CheckConfig(), "invariant", 2e-10, 1e-9, "rounding", "why")
    assert r.ratio == pytest.approx(0.2)
    assert Result(CheckConfig(), "undefined", None, None, None, "why").ratio is None
