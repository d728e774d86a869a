"""tolerance.decide on hand-made numbers: which bound decides, with what value, and why."""

from __future__ import annotations

import pytest

from invcheck import names
from invcheck import tolerance as tol
from invcheck.tolerance import EPS_CAP, ROUNDOFF, SAFETY, TF32_ROUNDOFF, decide, rounding_bound, rounding_unit


def expected_rounding(kappa: float, kappa_acc: float, dtype: str) -> float:
    u, u_acc = ROUNDOFF[dtype]
    return SAFETY * (u * kappa + u_acc * kappa_acc)


@pytest.mark.parametrize("dtype", names.DTYPES)
def test_rounding_bound_formula(dtype):
    assert rounding_bound(10.0, 300.0, dtype) == pytest.approx(expected_rounding(10.0, 300.0, dtype), rel=1e-15)


def test_roundoff_table():
    assert ROUNDOFF["float64"] == (2.0**-53, 2.0**-53)
    assert ROUNDOFF["float32"] == (2.0**-24, 2.0**-24)
    # half types store in 11/8 bits but accumulate in float32
    assert ROUNDOFF["float16"] == (2.0**-11, 2.0**-24)
    assert ROUNDOFF["bfloat16"] == (2.0**-8, 2.0**-24)


@pytest.mark.parametrize("dtype", names.DTYPES)
def test_rounding_bound_decides_without_eps(dtype):
    t = decide(10.0, 300.0, 0.0, dtype)
    assert t.bound == "rounding"
    assert t.value == pytest.approx(expected_rounding(10.0, 300.0, dtype), rel=1e-15)
    assert dtype in t.why and "kappa" in t.why and "eps" not in t.why


def test_small_eps_effect_is_added_but_rounding_decides():
    r = expected_rounding(10.0, 300.0, "float32")
    t = decide(10.0, 300.0, 0.5 * r, "float32")
    assert t.bound == "rounding"
    assert t.value == pytest.approx(1.5 * r, rel=1e-12)
    assert "eps effect" in t.why


def test_eps_equal_to_rounding_is_still_rounding():
    r = expected_rounding(10.0, 300.0, "float64")
    t = decide(10.0, 300.0, r, "float64")
    assert t.bound == "rounding" and t.value == pytest.approx(2 * r, rel=1e-12)


def test_eps_bound_decides_when_eps_effect_exceeds_rounding():
    r = expected_rounding(10.0, 300.0, "float64")
    t = decide(10.0, 300.0, 1e-4, "float64")
    assert 1e-4 > r
    assert t.bound == "eps"
    assert t.value == pytest.approx(r + 1e-4, rel=1e-12)
    assert "eps effect" in t.why and "capped" not in t.why


def test_eps_effect_exactly_at_cap_is_not_capped():
    t = decide(10.0, 300.0, EPS_CAP, "float64")
    assert t.bound == "eps"
    assert t.value == pytest.approx(EPS_CAP + expected_rounding(10.0, 300.0, "float64"), rel=1e-12)


def test_eps_effect_beyond_cap_is_capped():
    r = expected_rounding(10.0, 300.0, "float32")
    t = decide(10.0, 300.0, 0.7, "float32")
    assert t.bound == "eps (capped)"
    assert t.value == pytest.approx(r + EPS_CAP, rel=1e-12)  # not 0.7: eps this large breaks the invariance
    assert "capped" in t.why


def test_override_wins_over_everything():
    t = decide(1e9, 1e9, 0.7, "bfloat16", override=1e-3)
    assert (t.value, t.bound) == (1e-3, "override")
    assert "0.001" in t.why


def test_override_zero_is_still_an_override():
    t = decide(10.0, 10.0, 0.0, "float32", override=0.0)
    assert (t.value, t.bound) == (0.0, "override")


def test_tf32_coarsens_float32_stores_only():
    assert rounding_unit("float32", tf32=True) == (TF32_ROUNDOFF, 2.0**-24)
    assert rounding_unit("float32", tf32=False) == ROUNDOFF["float32"]
    for dtype in ("float64", "float16", "bfloat16"):
        assert rounding_unit(dtype, tf32=True) == ROUNDOFF[dtype]
    assert TF32_ROUNDOFF == 2.0**-11


def test_tf32_changes_the_float32_tolerance_and_says_so():
    plain, tf32 = decide(10.0, 300.0, 0.0, "float32"), decide(10.0, 300.0, 0.0, "float32", tf32=True)
    assert tf32.value == pytest.approx(SAFETY * (TF32_ROUNDOFF * 10.0 + 2.0**-24 * 300.0), rel=1e-12)
    assert tf32.value > 100 * plain.value
    assert "tf32" in tf32.why and "tf32" not in plain.why


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_tf32_leaves_other_dtypes_alone(dtype):
    assert decide(10.0, 300.0, 0.0, dtype, tf32=True).value == decide(10.0, 300.0, 0.0, dtype).value


def test_constants_are_sane():
    assert tol.MARGIN > 1
    assert 0 < EPS_CAP < 1
    assert SAFETY >= 1
