"""The command line's manners: bare `invcheck` helps, usage errors point at the right help, help
reads as a person writes it, every misspelt choice gets "did you mean"."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from invcheck import cli as cli_module
from invcheck.cli import app
from invcheck.errors import InvcheckError

COMMANDS = ("explain", "prove", "run", "schema", "sweep", "table", "validate")


def main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """`invcheck ARGS` through its entry point, in this process: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["invcheck", *args])
    with pytest.raises(SystemExit) as info:
        cli_module.main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_bare_invcheck_prints_its_help(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = main(monkeypatch, capsys)
    assert code == 0 and err == ""
    assert out.startswith("Usage: invcheck [OPTIONS] COMMAND [ARGS]...\n") and "\\n" not in out
    assert all(f"\n  {command} " in out for command in COMMANDS)
    result = CliRunner().invoke(app, [])  # the same under typer's runner
    assert result.exit_code == 0 and result.output.startswith("Usage: invcheck [OPTIONS] COMMAND [ARGS]...\n")


@pytest.mark.parametrize(
    ("args", "help_of"),
    [
        (("run",), "invcheck run --help"),
        (("run", "x.yaml", "--jobs", "0"), "invcheck run --help"),
        (("table", "--trials", "many"), "invcheck table --help"),
        (("sweep", "--nope"), "invcheck sweep --help"),
        (("nope",), "invcheck --help"),
    ],
)
def test_a_usage_error_points_at_its_commands_help(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], help_of: str
) -> None:
    code, out, err = main(monkeypatch, capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.rstrip().endswith(f"(see {help_of})") and err.count("\n") == 1


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_readable_metavars_and_every_closed_options_choices(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = result.output
    assert not re.search(r"\{[A-Z]+\}|<list\[|<int|<float|<str>|<path>|<text>", text), text
    for option in (
        "--dtype",
        "--device",
        "--format",
        "--layer",
        "--norm",
        "--transform",
        "--layout",
        "--placement",
    ):
        for line in text.splitlines():
            if re.match(rf"\s+(-\w, )?{option} ", line):
                assert re.search(rf"{option} \[[\w:|]+\]", line), line  # its choices, not <str>


def test_the_choices_shown_are_the_registries() -> None:
    text = CliRunner().invoke(app, ["explain", "--help"], terminal_width=300).output
    assert "--norm [batch_norm|weight_norm|layer_norm|" in text
    from invcheck import names

    assert f"--layer [{'|'.join(names.LAYERS)}]" in text
    run = CliRunner().invoke(app, ["run", "--help"], terminal_width=300).output
    assert "--device [cpu|cuda|cuda:N|auto]" in run and "Usage: invcheck run [OPTIONS] PATH...\n" in run


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (("prove", "--norm", "layer_nrom", "--transform", "dataset_rescale"), "did you mean 'layer_norm'?"),
        (
            ("explain", "--norm", "layer_norm", "--transform", "dataset_rescal"),
            "did you mean 'dataset_rescale'?",
        ),
        (
            ("sweep", "--norm", "layer_norm", "--transform", "dataset_rescale", "--layer", "dens"),
            "did you mean 'dense'?",
        ),
        (("table", "--dtype", "float46"), "did you mean 'float64'?"),
        (("table", "--device", "gpu"), "did you mean 'cuda'?"),
        (("table", "--layer", "conb"), "did you mean 'conv'?"),
        (("table", "--format", "markdwn"), "did you mean 'markdown'?"),
        (("run", "x.yaml", "--format", "jsn"), "did you mean 'json'?"),
        (("run", "x.yaml", "--dtype", "bfloat61"), "did you mean 'bfloat16'?"),
        (("run", "x.yaml", "--device", "cpuu"), "did you mean 'cpu'?"),
        (
            ("sweep", "--norm", "layer_norm", "--transform", "dataset_rescale", "--dtype", "flaot32"),
            "did you mean 'float32'?",
        ),
    ],
)
def test_every_misspelt_value_gets_did_you_mean(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], hint: str
) -> None:
    monkeypatch.chdir(
        Path(__file__).parent.parent / "specs"
    )  # x.yaml: missing, but refused before it is read
    code, _, err = main(monkeypatch, capsys, *args)
    assert code == 2 and hint in err and err.count("\n") == 1, err


TUTORIAL_BATCH_NORM = '''\
import torch
from torch import nn


class TutorialBatchNorm(nn.Module):
    """BatchNorm as tutorials write it: running statistics of shape [C], subtracted as they are."""

    def __init__(self, features):
        super().__init__()
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))

    def forward(self, x):
        dims = [0, *range(2, x.dim())]
        if self.training:
            mean, var = x.mean(dims, keepdim=True), x.var(dims, unbiased=False, keepdim=True)
            with torch.no_grad():
                self.running_mean.lerp_(mean.flatten(), 0.1)
                self.running_var.lerp_(var.flatten(), 0.1)
            return (x - mean) / var.sqrt()
        return (x - self.running_mean) / self.running_var.sqrt()  # [C] against [N, C, H, W]: fails
'''


def test_a_module_whose_eval_mode_fails_says_which_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tutorial_bn.py").write_text(textwrap.dedent(TUTORIAL_BATCH_NORM))
    monkeypatch.chdir(tmp_path)
    args = ["table", "--module", "tutorial_bn:TutorialBatchNorm", "--kwargs", '{"features": "{channels}"}']
    result = CliRunner().invoke(
        app, [*args, "--allow-import", "--layer", "conv", "--trials", "2"], terminal_width=400
    )
    assert result.exit_code == 0, result.output
    assert "tutorial_bn:TutorialBatchNorm behaves like: batch_norm" in result.output  # its train row stands
    assert "tutorial_bn:TutorialBatchNorm fails in eval mode in a conv layer" in result.output
    assert "does not run in a conv layer" not in result.output
    markdown = CliRunner().invoke(
        app, [*args, "--allow-import", "--layer", "conv", "--trials", "2", "-f", "markdown"]
    )
    assert "`tutorial_bn:TutorialBatchNorm` fails in eval mode in a conv layer" in markdown.output


def test_a_command_error_stays_one_line() -> None:
    result = CliRunner().invoke(app, ["explain", "--norm", "layr_norm", "--transform", "dataset_rescale"])
    assert isinstance(result.exception, InvcheckError)
    assert str(result.exception) == "--norm 'layr_norm' is not known (did you mean 'layer_norm'?)"
