"""Measuring and judging take no default norm or transform: a call that names neither would check
something its author never chose."""

from __future__ import annotations

import pytest
from torch import nn

import invcheck
from invcheck.api import check


@pytest.mark.parametrize("fn", ["invariance_error", "assert_invariant", "assert_not_invariant"])
def test_a_call_without_a_transform_is_a_type_error_naming_it(fn: str) -> None:
    with pytest.raises(TypeError, match=rf"^invcheck\.{fn}\(\) missing required argument 'transform': give"):
        getattr(invcheck, fn)(nn.LayerNorm(16))
    with pytest.raises(TypeError, match=rf"^invcheck\.{fn}\(\) missing required argument 'transform'"):
        getattr(invcheck, fn)(norm="layer_norm", trials=2)


@pytest.mark.parametrize("fn", ["invariance_error", "assert_invariant", "assert_not_invariant"])
def test_a_call_without_a_norm_is_a_type_error_naming_it(fn: str) -> None:
    with pytest.raises(TypeError, match=rf"^invcheck\.{fn}\(\) missing required argument 'norm': give"):
        getattr(invcheck, fn)(transform="dataset_rescale")


def test_user_code_given_as_module_is_a_norm_and_a_checkconfig_needs_nothing_more() -> None:
    assert invcheck.invariance_error(module=nn.LayerNorm(16), transform="dataset_rescale", trials=2)
    assert invcheck.invariance_error(check("layer_norm", "dataset_rescale", trials=2)).verdict == "invariant"
