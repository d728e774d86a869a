"""The examples keep working: their specs load and hold, the example test suite passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from invcheck import spec
from invcheck.runner import run_checks

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CUSTOM = EXAMPLES / "custom_norm"


def unmet(results: list) -> list[str]:
    return [
        f"{r.check.title} (line {r.check.line}): expected {r.check.expect}, got {r.verdict}"
        for r in results
        if r.expected is not True
    ]


def test_examples_folder_holds_only_valid_specs() -> None:
    """`invcheck validate examples/` passes: the workflow sits in a hidden folder discovery skips."""
    assert spec.validate([EXAMPLES]) == []
    assert {p.name for p in spec.discover([EXAMPLES])} == {
        "layer_norm_table.yaml",
        "custom_norm.invcheck.yaml",
        "scan_ci.yaml",  # scan: entries (tests/scan/test_scan_spec.py runs them)
    }


def test_layer_norm_table_holds() -> None:
    checks = spec.load_file(EXAMPLES / "layer_norm_table.yaml")
    assert len(checks) == 48 and all(c.expect for c in checks)
    assert unmet(run_checks(checks)) == []


def test_custom_norm_spec_holds() -> None:
    """The spec loads as 12 expectations on the example's layer. That they hold is docs/specs.md's
    console block (`invcheck run custom_norm.invcheck.yaml --allow-import`: every line compared,
    numbers included) and, under the pytest plugin, the slow test below; running the 12 checks here
    too (9 s of user-layer checks) computed the same table a third time."""
    checks = spec.load_file(CUSTOM / "custom_norm.invcheck.yaml")
    assert len(checks) == 12 and all(c.norm.module == "mynorms:ScaleNorm" and c.expect for c in checks)
    page = (EXAMPLES.parent / "docs" / "specs.md").read_text()
    assert (
        "$ invcheck run custom_norm.invcheck.yaml --allow-import\n" in page and "12 passed, 0 failed" in page
    )


def test_custom_norm_spec_needs_allow_import() -> None:
    from invcheck.errors import ImportRefused

    with pytest.raises(ImportRefused, match=r"custom_norm.invcheck.yaml:.*mynorms:ScaleNorm"):
        run_checks(spec.load_file(CUSTOM / "custom_norm.invcheck.yaml"))


@pytest.mark.slow
def test_custom_norm_folder_passes_under_pytest() -> None:
    """`cd examples/custom_norm && pytest`, as documented: the `pytest` script (which, unlike
    `python -m pytest`, does not put the folder on sys.path), the example's tests and its spec."""
    script = Path(sys.executable).with_name("pytest")
    command = [str(script)] if script.exists() else [sys.executable, "-P", "-m", "pytest"]
    run = subprocess.run(
        [*command, "-q", "-p", "no:cacheprovider"], cwd=CUSTOM, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "23 passed" in run.stdout  # 11 API tests + 12 spec cells


def test_github_workflow_runs_specs_and_publishes_junit() -> None:
    workflow = yaml.safe_load((EXAMPLES / ".github" / "workflows" / "invcheck.yml").read_text())
    steps = workflow["jobs"]["invariances"]["steps"]
    uses = [step.get("uses", "").split("@")[0] for step in steps]
    assert {
        "actions/checkout",
        "actions/setup-python",
        "actions/upload-artifact",
        "mikepenz/action-junit-report",
    } <= set(uses)
    run = "\n".join(step.get("run", "") for step in steps)
    assert "download.pytorch.org/whl/cpu" in run and "pip install ." in run
    assert "invcheck run specs/ --junit-xml reports/invcheck.xml" in run
    report = next(s for s in steps if s.get("uses", "").startswith("mikepenz/"))
    assert report["with"]["report_paths"] == "reports/invcheck.xml" and report["if"] == "${{ !cancelled() }}"
    assert workflow["permissions"]["checks"] == "write"
