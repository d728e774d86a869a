"""Issue 18's bounds: the memory a check needs is estimated from its shapes and refused before
anything is allocated, in one line naming the estimate and the limit."""

from __future__ import annotations

import pytest

from invcheck import bounds
from invcheck.api import check
from invcheck.errors import SpecError
from invcheck.settings import CheckConfig, LayerConfig, NormConfig, TransformConfig


def test_the_estimate_grows_with_the_shapes_and_trials() -> None:
    small = CheckConfig(layer=LayerConfig("dense", cases=16, inputs=32, units=16))
    assert bounds.memory(small) == 8 * 8 * (4 * 16 * 32 + 2 * 16 * 32 + 5 * 16 * 16)
    assert bounds.memory(small.with_(trials=16)) == 2 * bounds.memory(small)


def test_a_check_that_needs_too_much_memory_is_refused_before_it_runs() -> None:
    with pytest.raises(SpecError) as err:
        check("batch_norm", "dataset_rescale", "dense", trials=1, cases=1_048_576, inputs=127, units=127)
    message = str(err.value)
    assert (
        "1 trial of this dense layer needs about 9.59 GB of memory" in message
        and "above the limit of 4.29 GB" in message
    )


def test_a_check_within_the_bound_is_accepted() -> None:
    c = CheckConfig(
        norm=NormConfig("batch_norm"),
        transform=TransformConfig("dataset_rescale"),
        layer=LayerConfig("dense", cases=65536, inputs=127, units=127),
        trials=1,
    )
    assert bounds.memory(c) <= bounds.MAX_MEMORY


def test_shown_sizes() -> None:
    assert (bounds.shown(9.59e9), bounds.shown(5.12e8), bounds.shown(12)) == ("9.59 GB", "512 MB", "12 bytes")
