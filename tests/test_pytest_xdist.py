"""The plugin's items under pytest-xdist: distributed over workers, each check run once, the same
outcomes as a plain run (items are named from the spec alone, so every worker collects the same ids)."""

from __future__ import annotations

import pytest

pytest.importorskip("xdist")

pytestmark = pytest.mark.slow  # a real pytest session with two worker processes

SPEC = """\
defaults: {trials: 2}
checks:
  - {name: kept, norm: layer_norm, transform: dataset_rescale, expect: invariant}
  - {name: kept, norm: rms_norm, transform: dataset_rescale, expect: invariant}
  - {name: broken, norm: layer_norm, transform: weight_vector_rescale, expect: invariant}
  - {name: free, norm: batch_norm, transform: case_rescale}
"""


def test_items_are_distributed_over_two_workers(pytester: pytest.Pytester) -> None:
    pytester.makefile(".invcheck.yaml", norms=SPEC)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["[[]gw[01][]]*PASSED norms.invcheck.yaml::kept@4*"]
    )  # a repeated title: @line
    workers = {line.split()[0] for line in result.stdout.lines if line.startswith("[gw")}
    assert workers and workers <= {"[gw0]", "[gw1]"}
    result.stdout.fnmatch_lines(["*broken: expected invariant, got not_invariant*"])
