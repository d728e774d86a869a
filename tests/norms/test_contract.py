"""The registries' contract: an entry missing a required member fails when it is built, not later."""

from __future__ import annotations

import pytest

from invcheck.layer_kinds import LAYER_KINDS
from invcheck.layer_kinds.base import LAYER_CONFIG_NAMES, LayerKind, Size
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


def test_a_size_key_that_layer_config_answers_itself_cannot_be_built():
    """`channels` as a size key: layer.channels is LayerConfig's property, so the kind's channels()
    returning it called itself (RecursionError at the first check)."""

    class Depthwise(_Shapes):
        id, doc, exact_sizes = "depthwise", "x", None
        sizes = {"cases": Size(2), "channels": Size(4)}

    with pytest.raises(TypeError, match="size key 'channels' is a name LayerConfig answers itself"):
        Depthwise()


def test_the_reserved_names_are_layer_configs_own():
    from dataclasses import fields

    from invcheck.settings import LayerConfig

    own = {n for n in dir(LayerConfig) if not n.startswith("_")} | {f.name for f in fields(LayerConfig)}
    assert own == LAYER_CONFIG_NAMES


def test_every_registered_entry_declares_what_the_why_machinery_reads():
    for norm in NORMS.values():
        assert norm.acts_on in ("data", "weights") and norm.formula and norm.doc
    for kind in LAYER_KINDS.values():
        assert kind.exact_sizes is None or set(kind.exact_sizes) == set(kind.sizes)
