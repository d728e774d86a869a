"""A run's explain line carries the run's overrides, and `invcheck explain SPEC::NAME` honours them
(--check-seed, as explain's own --seed draws its counterexample): it explains the check that ran."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from invcheck.cli import app
from invcheck.errors import InvcheckError
from invcheck.reproduce import rerun_lines
from invcheck.settings import CheckConfig

# A transform of the user's own: explained by its numbers, which depend on the seed and trials.
MODULE = "def shift(x, w, generator):\n    return x + 1.0, w\n"
SPEC = 'norm: layer_norm\ntransform: {module: "mine_shift:shift"}\nexpect: invariant\n'


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, InvcheckError):
        return result.exception.exit_code, result.output + f"error: {result.exception}"
    return result.exit_code, result.output


def test_the_explain_line_has_the_checks_values() -> None:
    c = CheckConfig(file="s.yaml", line=1, seed=5, trials=4, dtype="float32")
    assert rerun_lines(c, "n")[1] == (
        "explain: invcheck explain s.yaml::n --check-seed 5 --trials 4 --dtype float32 --device cpu"
    )


def test_the_printed_explain_line_explains_the_check_that_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    Path("mine_shift.py").write_text(MODULE)
    Path("s.yaml").write_text(SPEC)
    code, out = cli("run", "s.yaml", "--allow-import", "--seed", "3", "--trials", "2", "--dtype", "float32")
    assert code == 1, out
    line = next(x for x in out.splitlines() if "explain: invcheck explain" in x).split("explain: ", 1)[1]
    assert "--check-seed 3 --trials 2 --dtype float32 --device cpu --allow-import" in line
    code, explained = cli(*shlex.split(line)[1:], "-f", "json")
    assert code == 0, explained
    doc = json.loads(explained)["explanations"][0]
    assert (doc["seed"], doc["trials"], doc["dtype"]) == (3, 2, "float32"), doc


def test_a_bad_check_seed_is_refused_by_its_own_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text("norm: layer_norm\ntransform: dataset_rescale\n")
    code, out = cli("explain", "s.yaml", "--dtype", "float46")
    assert code == 2 and "did you mean 'float64'?" in out, out
    code, out = cli("explain", "s.yaml", "--trials", "0")
    assert code == 2 and "--trials" in out, out
