"""The pytest plugin, in scratch projects (pytester): collection, outcomes, failure reports, cost."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

import invcheck.impls.user
import invcheck.measure

# pytester's in-process runs drop the modules imported during a run, and numpy (under torch) cannot
# be loaded twice in one process: load the measuring side here, before any run.
import invcheck.runner
import invcheck.verdict  # noqa: F401

GOOD = """\
checks:
  - norm: layer_norm
    transform: dataset_rescale
    expect: invariant
  - name: layer norm ignores the weight matrix's scale
    norm: layer_norm
    transform: weight_matrix_rescale
    expect: invariant
"""
BAD = """\
norm: layer_norm
transform: dataset_recenter
expect: invariant
"""
NO_EXPECT = """\
checks:
  - {norm: rms_norm, transform: dataset_recenter}
  - {norm: instance_norm, transform: dataset_rescale}
"""
USER_CODE = """\
norm: {module: "scratch_norms:Identity"}
transform: dataset_rescale
"""


def write(pytester: pytest.Pytester, name: str, text: str) -> None:
    (pytester.path / name).write_text(textwrap.dedent(text))


def test_passing_and_failing_specs(pytester: pytest.Pytester) -> None:
    write(pytester, "good.invcheck.yaml", GOOD)
    write(pytester, "bad.invcheck.yml", BAD)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    # The evidence, not a traceback: verdicts, the deviation against its tolerance, the spec line.
    result.stdout.fnmatch_lines(
        [
            "*dense/layer_norm/dataset_recenter: expected invariant, got not_invariant*",
            "  deviation [0-9]* > tolerance *the tolerance; float64 run; bound: rounding)",
            "*spec: bad.invcheck.yml:1*",
        ]
    )
    assert "Traceback" not in out and "def runtest" not in out


def test_nodeids_are_titles(pytester: pytest.Pytester) -> None:
    write(pytester, "good.invcheck.yaml", GOOD)
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "good.invcheck.yaml::dense/layer_norm/dataset_rescale",
            "good.invcheck.yaml::layer norm ignores the weight matrix's scale",
        ]
    )


def test_select_one_check_by_nodeid(pytester: pytest.Pytester) -> None:
    write(pytester, "good.invcheck.yaml", GOOD)
    result = pytester.runpytest("good.invcheck.yaml::dense/layer_norm/dataset_rescale")
    result.assert_outcomes(passed=1)


def test_broken_spec_is_one_located_line(pytester: pytest.Pytester) -> None:
    write(pytester, "broken.invcheck.yaml", "norm: layr_norm\ntransform: dataset_rescale\n")
    write(pytester, "good.invcheck.yaml", GOOD)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1, passed=2)  # the broken spec errs; every other test still runs
    result.stdout.fnmatch_lines(
        ["broken.invcheck.yaml:1: unknown norm 'layr_norm' (did you mean 'layer_norm'?)"]
    )
    assert "Traceback" not in result.stdout.str()


def test_without_expect_passes_and_undefined_skips(pytester: pytest.Pytester) -> None:
    write(pytester, "survey.invcheck.yaml", NO_EXPECT)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*undefined: instance_norm needs positions*"])


def test_user_code_is_refused_without_the_flag(pytester: pytest.Pytester) -> None:
    write(pytester, "user.invcheck.yaml", USER_CODE)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)  # it could not run: an error, as in `invcheck run` (exit 2)
    result.stdout.fnmatch_lines(
        ["*user.invcheck.yaml:1: module 'scratch_norms:Identity' would import*--invcheck-allow-import*"]
    )
    assert "Traceback" not in result.stdout.str() and "def setup" not in result.stdout.str()


@pytest.mark.parametrize("allowed_by", ["flag", "pyproject"])
def test_user_code_beside_the_spec_runs_when_allowed(pytester: pytest.Pytester, allowed_by: str) -> None:
    pytester.makepyfile(
        scratch_norms="""
        import torch

        class Standardize(torch.nn.Module):  # layer norm's statistics over a case, no gain
            def forward(self, a):
                dims = tuple(range(1, a.dim()))
                return (a - a.mean(dims, keepdim=True)) / a.std(dims, keepdim=True, correction=0)
    """
    )
    write(
        pytester,
        "user.invcheck.yaml",
        """\
        defaults:
          norm: {module: "scratch_norms:Standardize", id: layer_norm}
        checks:
          - {transform: dataset_rescale, expect: invariant}
          - {transform: dataset_recenter, expect: invariant}
        """,
    )
    if allowed_by == "pyproject":
        write(pytester, "pyproject.toml", "[tool.invcheck]\nallow-import = true\n")
    result = pytester.runpytest(*(["--invcheck-allow-import"] if allowed_by == "flag" else []))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*dense/layer_norm (scratch_norms:Standardize)/dataset_recenter: expected invariant, got not_invariant*"
        ]
    )


def test_a_downloaded_folder_cannot_grant_itself_permission(pytester: pytest.Pytester) -> None:
    """pytest puts its rootdir in `downloaded/` (it has a pyproject.toml, the working folder's has no
    pytest section): the setting that counts is the working folder's project's, as for `invcheck run`."""
    write(pytester, "pyproject.toml", "[project]\nname = 'mine'\n")
    (pytester.path / "downloaded").mkdir()
    write(pytester, "downloaded/pyproject.toml", "[tool.invcheck]\nallow-import = true\n")
    write(pytester, "downloaded/evil.py", "open('MARKER', 'w').write('ran')\n")
    write(pytester, "downloaded/e.invcheck.yaml", 'norm: {module: "evil:N"}\ntransform: dataset_rescale\n')
    result = pytester.runpytest("-p", "no:cacheprovider", "downloaded")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cannot grant itself permission*"])
    assert not (pytester.path / "MARKER").exists() and not (pytester.path / "downloaded" / "MARKER").exists()


def test_a_bad_project_setting_is_one_line(pytester: pytest.Pytester) -> None:
    write(pytester, "pyproject.toml", "[tool.invcheck]\nallow_import = true\n")
    write(pytester, "user.invcheck.yaml", USER_CODE)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*pyproject.toml: [[]tool.invcheck] has the unknown key 'allow_import' (did you mean 'allow-import'?)"
        ]
    )


def test_junit_xml_carries_the_numbers(pytester: pytest.Pytester) -> None:
    write(pytester, "bad.invcheck.yaml", BAD)
    pytester.runpytest("--junit-xml=report.xml")  # xunit2, pytest's default: the Jenkins schema's shape
    xml = (pytester.path / "report.xml").read_text()
    assert "<properties>" not in xml and "<property " not in xml  # junit-10.xsd: none in a testcase
    assert re.search(r"deviation 0\.\d+ &gt; tolerance", xml)  # the evidence, in the failure's text
    pytester.runpytest("--junit-xml=legacy.xml", "-o", "junit_family=xunit1")
    xml = (pytester.path / "legacy.xml").read_text()
    assert '<property name="verdict" value="not_invariant"' in xml
    assert '<property name="deviation"' in xml


def test_outcomes_are_the_command_lines(pytester: pytest.Pytester) -> None:
    """A check that cannot run is an error (exit 2 in `invcheck run`); an undefined verdict where a
    claim was made is a failure (exit 1); undefined without a claim is skipped."""
    write(
        pytester,
        "mixed.invcheck.yaml",
        """\
        defaults: {trials: 2}
        checks:
          - {name: fine, norm: layer_norm, transform: dataset_rescale, expect: invariant}
          - {name: no device, norm: layer_norm, transform: dataset_rescale, device: "cuda:99", expect: invariant}
          - {name: nothing to measure, norm: instance_norm, transform: dataset_rescale, expect: invariant}
          - {name: no claim, norm: instance_norm, transform: dataset_rescale}
    """,
    )
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=1, errors=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["ERROR mixed.invcheck.yaml::no device - mixed.invcheck.yaml:4: *"])
    assert "Traceback" not in result.stdout.str()


def test_plugin_costs_nothing_at_import() -> None:
    code = (
        "import invcheck.pytest_plugin, sys; "
        "bad = [m for m in ('torch', 'invcheck.spec') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_session_without_specs_never_imports_torch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_no_torch():
            assert "invcheck.pytest_plugin" in sys.modules  # loaded by its entry point
            assert "torch" not in sys.modules
    """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
