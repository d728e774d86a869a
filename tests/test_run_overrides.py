"""Reproducing one failure: run --seed/--trials/--dtype/--device, SPEC::NAME, the re-run lines."""

from __future__ import annotations

import json
import shlex
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from invcheck.cli import app
from invcheck.errors import InvcheckError
from invcheck.reproduce import overridden, rerun_lines, split

SPEC = """\
checks:
  - {norm: layer_norm, transform: dataset_recenter, expect: invariant}
  - {norm: layer_norm, transform: dataset_rescale, expect: invariant}
  - {name: rms in float32, norm: rms_norm, transform: case_rescale, dtype: float32, expect: invariant}
"""


def cli(*args: str) -> tuple[int, str]:
    """An invcheck command in this process: its exit status as `invcheck` gives it, and its output
    with an error's one line (which `invcheck` prints on stderr)."""
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, InvcheckError):
        return result.exception.exit_code, result.output + f"error: {result.exception}"
    return result.exit_code, result.output


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    Path("mine.yaml").write_text(SPEC)
    return "mine.yaml"


def test_overrides_reach_every_check(spec: str) -> None:
    code, out = cli("run", spec, "-f", "json", "--seed", "7", "--trials", "3", "--dtype", "float32")
    results = json.loads(out[: out.rindex("}") + 1])["results"]
    assert code == 1 and [r["dtype"] for r in results] == ["float32"] * 3
    code, plain = cli("run", spec, "-f", "json", "--seed", "7", "--trials", "3")
    assert [r["dtype"] for r in json.loads(plain[: plain.rindex("}") + 1])["results"]] == [
        "float64",
        "float64",
        "float32",
    ]


def test_the_seed_and_trials_are_honoured(spec: str) -> None:
    def worst(*args: str) -> tuple[float, int]:
        out = cli("run", f"{spec}::dense/layer_norm/dataset_recenter", "-f", "json", *args)[1]
        r = json.loads(out[: out.rindex("}") + 1])["results"][0]
        return r["deviation"], r["trial"]

    assert worst("--seed", "1") != worst("--seed", "2")
    assert worst("--seed", "1") == worst("--seed", "1")
    assert worst("--trials", "2")[1] < 2


def test_a_failure_prints_the_lines_that_re_run_and_explain_it(spec: str) -> None:
    code, out = cli("run", spec, "--seed", "5", "--trials", "4")
    assert code == 1
    rerun = "invcheck run mine.yaml::dense/layer_norm/dataset_recenter --seed 5 --trials 4 --dtype float64 --device cpu"
    assert f"re-run:  {rerun}" in out
    assert "explain: invcheck explain mine.yaml::dense/layer_norm/dataset_recenter" in out
    assert out.count("re-run:") == 1  # the passing checks print none
    # the printed line runs that one check alone, with the same numbers
    again = cli(*shlex.split(rerun)[1:])
    assert again[0] == 1 and "1 failed" in again[1] and "passed" in again[1]
    assert again[1].splitlines()[0] == out.splitlines()[0]


def test_an_erroring_check_prints_its_re_run_line(spec: str) -> None:
    Path("err.yaml").write_text("norm: layer_norm\ntransform: dataset_rescale\ndevice: cuda:99\n")
    code, out = cli("run", "err.yaml", "-q")
    assert code == 2 and "re-run:  invcheck run err.yaml::dense/layer_norm/dataset_rescale" in out


def test_a_name_with_spaces_is_quoted_for_the_shell() -> None:
    from invcheck.settings import CheckConfig

    c = CheckConfig(name="rms in float32", file="my specs/mine.yaml", line=4, dtype="float32")
    assert rerun_lines(c, "rms in float32") == [
        "re-run:  invcheck run 'my specs/mine.yaml::rms in float32' --seed 0 --trials 8 --dtype float32 --device cpu",
        "explain: invcheck explain 'my specs/mine.yaml::rms in float32' --check-seed 0 --trials 8 --dtype float32 --device cpu",
    ]
    assert rerun_lines(CheckConfig(), "x") == []  # from the API: no spec to name


def test_spec_name_picks_one_check_and_a_misspelt_name_gets_did_you_mean(spec: str) -> None:
    code, out = cli("run", f"{spec}::rms in float32")
    assert code == 0 and "1 passed" in out
    code, out = cli("run", f"{spec}::dense/layer_norm/dataset_rescal")
    assert code == 2 and "did you mean 'dense/layer_norm/dataset_rescale'?" in out
    assert split("a/b.yaml::x::y") == (Path("a/b.yaml"), "x::y")


def test_explain_takes_spec_name(spec: str) -> None:
    code, out = cli("explain", f"{spec}::dense/layer_norm/dataset_recenter")
    assert code == 0 and "layer_norm × dataset_recenter in a dense layer: not_invariant" in out
    assert "dataset_rescale" not in out.splitlines()[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--trials", "0"), "0 is not in [1, 100000]"),
        (("--device", "gpu"), "unknown device 'gpu' (did you mean 'cuda'?)"),
        (("--dtype", "float46"), "(did you mean 'float64'?)"),
    ],
)
def test_bad_overrides_are_refused_as_a_specs_values(spec: str, args: tuple[str, ...], message: str) -> None:
    code, out = cli("run", spec, *args)
    assert code == 2 and message in out, out


def test_an_override_that_makes_a_check_impossible_names_it(spec: str) -> None:
    Path("tf32.yaml").write_text("norm: layer_norm\ntransform: dataset_rescale\ndevice: cuda\ntf32: true\n")
    code, out = cli("run", "tf32.yaml", "--device", "cpu")
    assert (
        code == 2
        and "tf32.yaml:1: tf32 applies only on a CUDA device, not on 'cpu' (with --device cpu)" in out
    )


def test_overridden_validates_by_the_spec_rules() -> None:
    from invcheck.settings import CheckConfig

    with pytest.raises(InvcheckError, match="seed must be an integer"):
        overridden([CheckConfig()], seed=-1)
    assert overridden([CheckConfig()], seed=3, trials=None)[0].seed == 3


# The pytest plugin ---------------------------------------------------------------------------------


def test_pytest_options_override_and_a_failure_says_how_to_re_run(pytester: pytest.Pytester) -> None:
    (pytester.path / "mine.invcheck.yaml").write_text(textwrap.dedent(SPEC))
    result = pytester.runpytest(
        "--invcheck-seed", "5", "--invcheck-trials", "4", "--invcheck-dtype", "float32"
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*check: dense layer, layer_norm, dataset_recenter, float32 on cpu, 4 trials, seed 5",
            "*re-run:  pytest mine.invcheck.yaml::dense/layer_norm/dataset_recenter --invcheck-seed 5 "
            "--invcheck-trials 4 --invcheck-dtype float32 --invcheck-device cpu",
            "*re-run:  invcheck run mine.invcheck.yaml::dense/layer_norm/dataset_recenter --seed 5 --trials 4 "
            "--dtype float32 --device cpu",
            "*explain: invcheck explain mine.invcheck.yaml::dense/layer_norm/dataset_recenter --check-seed 5 "
            "--trials 4 --dtype float32 --device cpu",
        ]
    )


def test_pytest_options_read_whole_numbers_as_the_command_line_does(pytester: pytest.Pytester) -> None:
    (pytester.path / "mine.invcheck.yaml").write_text(textwrap.dedent(SPEC))
    result = pytester.runpytest("--invcheck-seed", "5.0", "--invcheck-trials", "4e0")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*4 trials, seed 5"])


def test_pytest_refuses_a_bad_override(pytester: pytest.Pytester) -> None:
    (pytester.path / "mine.invcheck.yaml").write_text(textwrap.dedent(SPEC))
    result = pytester.runpytest("--invcheck-device", "gpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown device 'gpu' (did you mean 'cuda'?)*"])
