"""Under pytest, what invcheck raises about a call (TypeError, SpecError, UserCodeError) shows the
user's line and the message, not invcheck's frames, as an InvarianceError does; the message names
the public function called."""

from __future__ import annotations

import re

import pytest

CALLS = {
    "norm_none": 'invcheck.assert_invariant(None, "dataset_rescale")',
    "dtype_typo": 'invcheck.assert_invariant("layer_norm", "dataset_rescale", dtype="flaot32")',
    "transform_returns_a_tensor": 'invcheck.invariance_error("layer_norm", lambda x, w, g: x)',
    "no_transform": 'invcheck.assert_not_invariant("layer_norm")',
    "not_invariant": 'invcheck.assert_invariant("layer_norm", "dataset_recenter", trials=2)',
}


def test_failures_of_the_call_show_no_invcheck_frames(pytester: pytest.Pytester) -> None:
    """A pytest session in this process (pytester's inline run: its own config, plugins and
    capture; what is printed of a failure is the same as in a fresh process)."""
    pytester.makepyfile(
        "import invcheck\n\n" + "".join(f"def test_{name}():\n    {call}\n\n" for name, call in CALLS.items())
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(failed=len(CALLS))
    out = result.stdout.str()
    assert not re.search(r"invcheck[/\\]\S+\.py:\d+", out), out
    for expected in (
        "E       TypeError: norm is None",
        "E       invcheck.errors.SpecError: invcheck.assert_invariant(): unknown dtype 'flaot32'",
        "E       invcheck.errors.UserCodeError: transform",
        "E       TypeError: invcheck.assert_not_invariant() missing required argument 'transform'",
    ):
        assert expected in out, out


def test_a_bug_of_invcheck_keeps_its_frames() -> None:
    from invcheck.api import _about_the_call

    try:
        _ = None + 1  # type: ignore[operator]
    except TypeError as err:
        assert not _about_the_call(err)


@pytest.mark.parametrize("fn", ["invariance_error", "assert_invariant", "assert_not_invariant"])
def test_a_bad_value_names_the_function_called(fn: str) -> None:
    import invcheck
    from invcheck.api import check
    from invcheck.errors import SpecError

    with pytest.raises(SpecError, match=rf"^invcheck\.{fn}\(\): unknown dtype 'flaot32'"):
        getattr(invcheck, fn)("layer_norm", "dataset_rescale", dtype="flaot32")
    with pytest.raises(SpecError, match=r"^invcheck\.api\.check\(\): unknown dtype"):
        check("layer_norm", "dataset_rescale", dtype="flaot32")
    with pytest.raises(SpecError, match=r"^invcheck\.set_timeout\(\): timeout must be"):
        invcheck.set_timeout(0)
