"""The tensor a scan compares, in an output that nests containers: one rule, the first tensor depth
first (a dict's logits, else last_hidden_state, first), as docs/scan.md says."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from invcheck.errors import InvcheckError  # noqa: E402
from invcheck.scan.passes import select_output  # noqa: E402


def test_nested_tuples_lists_and_dicts_are_searched_depth_first() -> None:
    y, z = torch.ones(2), torch.zeros(2)
    assert select_output(((y,),), None) is y
    assert select_output([[], (None, [z]), y], None) is z
    assert select_output(({"hidden": None, "out": [y]}, z), None) is y
    assert select_output(({"last_hidden_state": z, "logits": y},), None) is y
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(InvcheckError, match="holds no tensor"):
        select_output((looped, {"a": None}), None)
