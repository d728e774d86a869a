"""A title repeated in one spec file: the check is `name@line` (settings.test_names), its re-run line
says so, and run alone by that name its re-run line still picks it, not the file's first check of
that title (it said `::same`, which ran another, passing, check)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Invoke

SPEC = """\
checks:
  - {name: same, norm: layer_norm, transform: dataset_rescale, expect: invariant}
  - {name: same, norm: rms_norm, transform: dataset_recenter, expect: invariant}
"""


def _rerun(stderr_or_out: str) -> list[str]:
    return [line.split()[3] for line in stderr_or_out.splitlines() if line.strip().startswith("re-run:")]


def test_the_re_run_line_picks_the_check_that_failed(tmp_path: Path, invoke: Invoke) -> None:
    (tmp_path / "dup.yaml").write_text(SPEC)
    whole = invoke("run", "dup.yaml", "--trials", "2", cwd=tmp_path)
    assert whole.returncode == 1
    assert _rerun(whole.stdout + whole.stderr) == ["dup.yaml::same@3"]

    alone = invoke("run", "dup.yaml::same@3", "--trials", "2", "-f", "json", cwd=tmp_path)
    assert alone.returncode == 1
    results = json.loads(alone.stdout)["results"]
    assert [(r["line"], r["verdict"]) for r in results] == [(3, "not_invariant")]
    assert _rerun(alone.stderr) == ["dup.yaml::same@3"]  # it said dup.yaml::same

    first = invoke("run", "dup.yaml::same", "--trials", "2", "-f", "json", cwd=tmp_path)
    assert [r["line"] for r in json.loads(first.stdout)["results"]] == [2]


def test_the_plugin_s_test_ids_are_unique_and_select_one_check(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    (pytester.path / "dup.invcheck.yaml").write_text(SPEC)
    result = pytester.runpytest("--collect-only", "-q")
    assert [line for line in result.stdout.lines if "::" in line] == [
        "dup.invcheck.yaml::same",
        "dup.invcheck.yaml::same@3",
    ]
    chosen = pytester.runpytest("dup.invcheck.yaml::same@3", "--invcheck-trials", "2")
    chosen.assert_outcomes(failed=1)
    chosen.stdout.fnmatch_lines(["*re-run:  pytest dup.invcheck.yaml::same@3 *"])
