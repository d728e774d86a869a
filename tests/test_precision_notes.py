"""What the probe learns of the precision a layer computes in is read from the trials that count: a 0/0
trial's rounding remainder over a spread of 0 is no sign of a lower precision inside (outside tester
A: nn.GroupNorm(16, 16) in a dense layer, groups of one entry, was undefined, right, with the note
"rounding noise 1.8 ... it computes in lower precision (float32?) internally")."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from invcheck.api import invariance_error  # noqa: E402


def test_groups_of_one_entry_are_0_over_0_not_lower_precision() -> None:
    r = invariance_error(nn.GroupNorm(16, 16), "weight_matrix_rescale")
    assert r.verdict == "undefined" and "0/0" in r.why
    assert not any("precision" in note for note in r.notes), r.notes


class Float32Inside(nn.Module):
    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return nn.functional.layer_norm(a.float(), a.shape[-1:]).to(a.dtype)


def test_a_float32_inside_layer_is_still_noted() -> None:
    r = invariance_error(Float32Inside(), "weight_matrix_rescale")
    assert r.verdict == "invariant", r.why
    assert any("lower precision" in note for note in r.notes), r.notes
