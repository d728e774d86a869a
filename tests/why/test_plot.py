"""The sweep plot keeps every line visible and its legend off the data."""

from __future__ import annotations

import importlib.util

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="matplotlib (invcheck[plot]) not installed"
)


def _sweep(eps: float) -> object:
    from invcheck.api import check
    from invcheck.why.sweep import Point, Sweep

    # float64 as invcheck measures it: above the crossover the tolerance is eps's effect, i.e. the deviation
    points = [
        Point(0.01, 0.5, 1e-2, "not_invariant", eps, "float64", ""),
        Point(0.1, 2e-3, 2e-3, "invariant", eps, "float64", ""),
        Point(10, 2e-5, 2e-5, "invariant", eps, "float64", ""),
    ]
    return Sweep(check("layer_norm", "dataset_rescale", eps=eps), points)


@pytest.fixture
def axes():
    from invcheck.why import plot

    fig = plot.figure([_sweep(1e-5)], "t")
    yield fig.axes[0]
    plot.pyplot().close(fig)


def test_tolerance_drawn_dashed_in_its_own_colour_above_the_deviation(axes) -> None:
    lines = {line.get_label(): line for line in axes.get_lines()}
    tolerance, deviation = lines["tolerance"], next(v for k, v in lines.items() if k.startswith("deviation"))
    assert tolerance.get_zorder() > deviation.get_zorder()
    assert tolerance.get_color() != deviation.get_color() and tolerance.get_linestyle() == "--"
    assert max(c.get_zorder() for c in axes.collections) < tolerance.get_zorder()  # above the points too


def test_legend_outside_the_axes_naming_only_the_verdicts_shown(axes) -> None:
    legend = axes.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert "invariant" in labels and "not invariant" in labels
    assert "inconclusive" not in labels and "undefined" not in labels
    anchor = legend.get_bbox_to_anchor().transformed(axes.transAxes.inverted())
    assert anchor.x0 >= 1.0  # right of the axes: it covers no data


def test_image_is_written_whole(tmp_path) -> None:
    from invcheck.why import plot

    png = plot.image([_sweep(1e-5)], tmp_path / "s.png", "t")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
