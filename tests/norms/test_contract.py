"""The registries' contract: an entry missing a required member fails when it is built, not later."""

from __future__ import annotations

import pytest

from invcheck.layer_kinds import LAYER_KINDS
from invcheck.layer_kinds.base import LayerKind, Size
from invcheck.norms import NORMS
from invcheck.norms.base import Norm


def test_a_norm_without_statistics_cannot_be_built():
    class NoStatistics(Norm):
        id, doc, formula = "x", "x", "x"

    with pytest.raises(TypeError, match="statistics"):
        NoStatistics()


def test_a_norm_without_its_formula_cannot_be_built():
    class NoFormula(Norm):
        id, doc = "x", "x"

        def statistics(self, v, xp, cfg, per_token=False, state=None):
            return None

    with pytest.raises(TypeError, match="formula"):
        NoFormula()


class _Shapes(LayerKind):
    """Every required method, and the class attributes left to each test."""

    def channels(self, layer):
        return 1

    def fan_in(self, layer):
        return 1

    def input_shape(self, layer):
        return (1, 1)

    def weight_shape(self, layer):
        return (1, 1)

    def summed(self, layer, x, w):
        return x


def test_a_layer_kind_without_summed_cannot_be_built():
    class NoSummed(LayerKind):
        id, doc, sizes, exact_sizes = "x", "x", {"cases": Size(2)}, None
        channels = fan_in = input_shape = weight_shape = _Shapes.channels

    with pytest.raises(TypeError, match="summed"):
        NoSummed()


def test_a_layer_kind_without_exact_sizes_cannot_be_built():
    class NoExactSizes(_Shapes):
        id, doc, sizes = "x", "x", {"cases": Size(2)}

    with pytest.raises(TypeError, match="exact_sizes"):
        NoExactSizes()

    class PartialExactSizes(_Shapes):
        id, doc, sizes, exact_sizes = "x", "x", {"cases": Size(2), "units": Size(2)}, {"cases": 2}

    with pytest.raises(TypeError, match="every size"):
        PartialExactSizes()


def test_every_registered_entry_declares_what_the_why_machinery_reads():
    for norm in NORMS.values():
        assert norm.acts_on in ("data", "weights") and norm.formula and norm.doc
    for kind in LAYER_KINDS.values():
        assert kind.exact_sizes is None or set(kind.exact_sizes) == set(kind.sizes)
