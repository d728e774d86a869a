"""A namespace's version (dict_version.py): the same number means the same names bound to the same
objects; and `isolation.kept`, which copies a namespace again only when its version moved, still
puts back every name user code rebinds, on this Python and where no version can be read."""

from __future__ import annotations

import sys
import types

import pytest

from invcheck import dict_version, isolation


def test_this_python_keeps_a_version_that_moves_with_every_change() -> None:
    if sys.implementation.name != "cpython" or sys.version_info[:2] > (3, 13):
        pytest.skip("no dict version on this Python: kept compares the names one by one")
    assert dict_version._WORKS  # else every kept copies torch's namespaces again: ~0.2 ms a call
    space = types.ModuleType("space")
    space.x = 1
    seen = [dict_version.version(space)]
    assert dict_version.version(space) == seen[0]  # nothing changed
    space.x = 2
    seen.append(dict_version.version(space))
    space.y = 3
    seen.append(dict_version.version(space))
    del space.y
    seen.append(dict_version.version(space))
    assert len(set(seen)) == 4


def test_a_class_attribute_set_moves_the_class_s_version() -> None:
    if not dict_version._WORKS:
        pytest.skip("no dict version on this Python")

    class Space:
        x = 1

    before = dict_version.version(Space)
    Space.x = 2
    assert dict_version.version(Space) != before
    assert dict_version.namespace(Space) is dict_version.namespace(Space)  # the class's own dict


@pytest.fixture(params=["versions", "names one by one"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """kept as it runs on this Python, and as it runs where no version can be read."""
    if request.param == "names one by one":
        monkeypatch.setattr(dict_version, "_WORKS", False)
    elif not dict_version._WORKS:
        pytest.skip("no dict version on this Python")
    return request.param


def test_kept_puts_back_what_a_later_call_rebinds_after_an_unchanged_one(way: str) -> None:
    torch = pytest.importorskip("torch")
    sub, mean = torch.sub, torch.Tensor.mean
    with isolation.kept():
        with isolation.kept():
            pass  # unchanged: the next call may reuse this call's copy of the names
        with isolation.kept():
            torch.sub = lambda *args: 0
            torch.Tensor.mean = lambda *args: 0
        assert torch.sub is sub and torch.Tensor.mean is mean
        with isolation.kept():  # and again, after the names were put back (their versions moved)
            torch.sub = lambda *args: 1
        assert torch.sub is sub


def test_kept_keeps_what_was_bound_between_calls(way: str) -> None:
    """A name bound outside user code (torch imports submodules lazily) is what the next call of
    user code is measured against: put back to it, not to the copy of an earlier call."""
    torch = pytest.importorskip("torch")
    with isolation.kept():
        with isolation.kept():
            pass
        torch.invcheck_between = "bound between calls"
        try:
            with isolation.kept():
                torch.invcheck_between = "rebound by user code"
            assert torch.invcheck_between == "bound between calls"
        finally:
            del torch.invcheck_between
