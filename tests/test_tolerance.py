"""tolerance.py: the constants and the few formulas built on them."""

from __future__ import annotations

import pytest

from invcheck import names
from invcheck import tolerance as tol


def test_roundoff_table_covers_every_dtype():
    assert set(tol.ROUNDOFF) == set(names.DTYPES)
    assert (
        tol.ROUNDOFF["float64"] < tol.ROUNDOFF["float32"] < tol.ROUNDOFF["float16"] < tol.ROUNDOFF["bfloat16"]
    )


@pytest.mark.parametrize("dtype", names.DTYPES)
def test_rounding_is_safety_times_noise_above_the_floor(dtype):
    assert tol.rounding(0.0, dtype) == tol.floor(dtype) == tol.FLOOR_ULPS * tol.ROUNDOFF[dtype]
    noise = 100 * tol.ROUNDOFF[dtype]
    assert tol.rounding(noise, dtype) == pytest.approx(tol.SAFETY * noise)


def test_tf32_coarsens_float32_only():
    assert tol.unit("float32", tf32=True) == tol.TF32_ROUNDOFF > tol.unit("float32")
    for dtype in ("float64", "float16", "bfloat16"):
        assert tol.unit(dtype, tf32=True) == tol.unit(dtype)


@pytest.mark.parametrize("dtype", names.DTYPES)
def test_dither_moves_inputs_by_ulps_or_past_float32(dtype):
    u = tol.unit(dtype)
    stencil = tol.dither(dtype)
    assert stencil >= tol.MIN_DITHER and stencil >= tol.DITHER_ULPS * u  # float32 inside re-rounds
    assert stencil**4 < u  # the fourth difference's smooth remainder stays below rounding


@pytest.mark.parametrize(
    "lost, dtype, underflow",
    [
        (0.0, "float16", False),
        (2 * tol.ROUNDOFF["float16"], "float16", False),
        (1e-2, "float16", True),
        (5e-2, "bfloat16", True),
        (1e-16, "float64", False),
    ],
)
def test_storage_error_flags_underflow_not_rounding(lost, dtype, underflow):
    assert tol.storage_error(lost, dtype) is underflow


def test_constants_are_sane():
    assert 1 < tol.MARGIN < tol.SAFETY * tol.MARGIN <= 10  # a detectable violation within 10x the noise
    assert 0 < tol.EPS_CAP < tol.MAX_TOLERANCE < 1
    assert tol.EPS_OFF > 0 and tol.EPS_OFF + 1e-280 == 1e-280  # invisible next to any real variance
