"""invcheck/cli/options.py: plain option values coerced without pydantic, with typer's checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import typer

from invcheck.cli import app, options

if TYPE_CHECKING:
    from conftest import Invoke

ROOT = Path(__file__).resolve().parents[1]
needs_coercion_layer = pytest.mark.skipif(
    options.RuntimeParam is None, reason="typer before 0.29: no pydantic layer"
)


def _cli(*args: str, probe: str = "") -> subprocess.CompletedProcess:
    code = (
        "import atexit, sys\n" + probe + "from invcheck.cli import main\n"
        f"sys.argv = ['invcheck', *{list(args)!r}]\nmain()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)


@needs_coercion_layer
def test_every_option_of_every_command_is_plain() -> None:
    """A new option of another type would fall back to typer's pydantic coercion (0.08 s of start-up)."""
    command = typer.main.get_command(app)
    for cmd in (command, *command.commands.values()):
        for param in cmd.params:
            assert options._plain(param), f"{cmd.name} {param.name}: {param.type_descriptor.annotation}"


@pytest.mark.slow
@needs_coercion_layer
def test_a_command_does_not_import_pydantic() -> None:
    probe = "atexit.register(lambda: print('pydantic' in sys.modules, file=sys.stderr))\n"
    proc = _cli("table", "--layer", "dense", "--trials", "2", "--eps", "1e-5", "-f", "csv", probe=probe)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "False"
    assert proc.stdout.startswith("layer,placement,norm,transform,verdict")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("table", "--trials", "abc"), "Invalid value for '--trials': 'abc' is not an integer"),
        (("table", "--trials", "1.5"), "'1.5' is not an integer"),
        (("table", "--dtype", "float65"), "'float65' is not one of 'float64', 'float32'"),
        (("table", "--eps", "x"), "'x' is not a number"),
        (
            ("sweep", "--eps", "nan", "--norm", "layer_norm"),
            "Invalid value for '--eps': nan is not at least 0",
        ),
        (("run", "--jobs", "0", "specs"), "0 is not in [1, 256]"),
        (("prove", "--seconds", "0.5"), "0.5 is not in [1, 86400]"),
    ],
)
def test_bad_values_get_one_line_and_exit_2(args: tuple[str, ...], message: str, invoke: Invoke) -> None:
    proc = invoke(*args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_good_values_keep_their_types(invoke: Invoke) -> None:
    proc = invoke(
        "table", "--layer", "dense", "--trials", "2.0", "--dtype", "float32", "--eps", " 1e-5", "-f", "json"
    )
    assert proc.returncode == 0, proc.stderr
    assert '"dtype": "float32"' in proc.stdout and '"trials": 2' in proc.stdout


def test_leaves() -> None:
    assert options._int(" 7") == 7 and options._int("1e3") == 1000 and options._int(5) == 5
    assert options._int("12345678901234567.0") == 12345678901234567  # exactly: no float on the way
    with pytest.raises(ValueError):
        options._int("1e999999999")  # refused, not built
    with pytest.raises(ValueError):
        options._path(" ")
    assert options._float("1e-5") == 1e-5 and options._float(2) == 2.0
    assert options._bool("Yes") is True and options._bool("off") is False and options._bool(True) is True
    for bad, fn in (
        ("7.5", options._int),
        ("inf", options._int),
        ("", options._float),
        ("maybe", options._bool),
    ):
        with pytest.raises(ValueError):
            fn(bad)
    assert options._bounded(3, 1, 256) == 3
    for value, low, high in ((0, 1, 256), (float("nan"), 0.0, None), (2.0, None, 1.0)):
        with pytest.raises(ValueError):
            options._bounded(value, low, high)
