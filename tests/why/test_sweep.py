"""Sweeps use the tool's own verdicts; the eps crossover of layer_norm x dataset_rescale moves like sqrt(eps)."""

from __future__ import annotations

import pytest

from invcheck.errors import InvcheckError
from invcheck.settings import CheckConfig, NormConfig, TransformConfig
from invcheck.why.sweep import scales, sweep


def base(eps: float, transform: str = "dataset_rescale") -> CheckConfig:
    return CheckConfig(
        norm=NormConfig(id="layer_norm", eps=eps), transform=TransformConfig(id=transform), trials=4
    )


def test_scales_span_decades_without_the_identity():
    s = scales(1e-2, 1e2, 2)
    assert s[0] == 1e-2 and s[-1] == 1e2 and 1.0 not in s and len(s) == 8


def test_crossover_moves_like_sqrt_eps():
    factors = scales(1e-3, 10, 6)
    small, large = (sweep(base(e), factors).crossover for e in (1e-5, 1e-3))
    assert small is not None and large is not None
    assert large / small == pytest.approx(10.0, rel=0.2)  # sqrt(1e-3 / 1e-5)


def test_points_carry_the_tools_verdicts():
    sw = sweep(base(0.0), [1e-3, 1e3])
    assert [p.verdict for p in sw.points] == ["invariant", "invariant"]
    assert all(p.deviation <= p.tolerance for p in sw.points)


def test_a_shift_cannot_be_swept():
    with pytest.raises(InvcheckError, match="scale factor"):
        sweep(base(0.0, "dataset_recenter"), [2.0])


def test_scales_end_at_high_and_refuse_an_empty_range() -> None:
    from invcheck.errors import InvcheckError

    assert scales(0.5, 2, 1) == [0.5, 2.0]  # not past --high (was [0.5, 5.0])
    assert scales(3, 7, 4)[-1] == 7.0 and scales(0.01, 0.05, 4)[-1] == 0.05
    assert scales(1, 1.0000001, 4) == [1.0000001] and scales(123456.7, 123456.9, 1) == [123456.7, 123456.9]
    for low, high in ((1, 1 + 1e-13), (0.1, float("inf")), (1e-10, 1e300)):  # 1 + 1e-13: the identity
        with pytest.raises(InvcheckError):
            scales(low, high, 4)


def test_no_two_points_show_as_one_near_high() -> None:
    s = scales(1, 2, 10)  # the grid's 1.995 beside --high 2 printed as two rows labelled "2"
    assert s[-1] == 2.0 and 1.99526 not in s and len({f"{v:.3g}" for v in s}) == len(s)


def test_a_crossover_between_points_across_the_identity_lies_below_1() -> None:
    from invcheck.why.sweep import Point, crossover

    def point(scale: float, verdict: str, deviation: float) -> Point:
        return Point(scale, deviation, 1e-2, verdict, 1e-3, "float64", "")

    # 0.1 breaks, 10 holds, 1 (the identity, deviation 0) is not on the grid: the change is in (0.1, 1)
    assert 0.1 < crossover([point(0.1, "not_invariant", 0.09), point(10, "invariant", 1e-3)]) < 1.0
