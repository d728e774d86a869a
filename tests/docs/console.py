"""Shell sessions in the docs: ```console blocks, run by the tool itself and compared with what they show.

A block holds commands, each a line starting with `$ `, followed by the output it prints:

    $ invcheck explain --norm layer_norm --transform dataset_recenter
    layer_norm × dataset_recenter in a dense layer: not_invariant
    ...

- `$ invcheck ARGS` runs in this process (invcheck's own entry point inside typer's CliRunner
  isolation: stdout and stderr interleaved as a terminal shows them), with COLUMNS=100 and
  NO_COLOR=1, so the output is what a 100-column terminal without colour shows.
- `$ pytest ARGS` runs `python -m pytest ARGS` in a subprocess (a pytest session inside this one
  would share its plugins and capture).
- `$ python benchmarks/NAME.py ARGS` runs the benchmark in a subprocess. Benchmarks take minutes:
  the docs test runs them only with INVCHECK_DOCS_SLOW=1 (and skips them otherwise, saying so);
  `python -m tests.docs.regen` always runs them.
- `$ cd DIR` changes the folder of the commands after it, in that block only (blocks are
  independent, so that pytest-xdist may run them on any worker). Folders are relative to the
  repository root.
- A line ending in a backslash continues on the next line.

Output shown as part of the page (a markdown table rendered as a table) sits between
`<!-- $ invcheck ARGS -->` and `<!-- end -->`, and is compared the same way (`OUTPUT`).

Compared exactly, after two normalisations: durations (a number with a decimal point followed by
`s`, as in `proved (1.96 s)` or `in 4.18s`) read as `…`, and spaces at line ends are dropped
(invisible, and editors strip them). `python -m tests.docs.regen` rewrites every block's output
from the tool's current output.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# CI and BUILD_NUMBER make pytest print its summary lines whole: a CI run must see what a terminal does
ENV = {
    "COLUMNS": "100",
    "NO_COLOR": "1",
    "FORCE_COLOR": None,
    "INVCHECK_DEBUG": None,
    "CI": None,
    "BUILD_NUMBER": None,
}
_DURATION = re.compile(r"\b\d+\.\d+( ?)s\b")
OUTPUT = re.compile(
    r"^<!-- \$ (?P<command>[^\n]+?) -->\n(?P<body>.*?)^<!-- end -->$", re.DOTALL | re.MULTILINE
)


@dataclass
class Command:
    line: str  # without the `$ ` and with continuations joined
    expected: str  # the output shown under it
    raw: str  # the command's lines as written

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.line, comments=True)


def parse(block: str) -> list[Command]:
    """The commands of a console block, each with the output written under it."""
    commands: list[Command] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise ValueError(f"console block: output before any command: {lines[i]!r}")
        start, line = i, lines[i][2:]
        while line.endswith("\\") and i + 1 < len(lines):  # a continued command
            i += 1
            line = line[:-1].rstrip() + " " + lines[i].strip().removeprefix("> ")
        i += 1
        raw = "\n".join(lines[start:i])
        out = []
        while i < len(lines) and not lines[i].startswith("$ "):
            out.append(lines[i])
            i += 1
        commands.append(Command(line, "\n".join(out), raw))
    return commands


def normalise(text: str) -> str:
    """What the comparison sees: durations as `…`, no spaces at line ends, no blank lines at the end."""
    text = _DURATION.sub(r"…\1s", text)
    return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n")


def run_block(block: str) -> list[tuple[Command, str]]:
    """Each command of a block with the output it prints now (normalised)."""
    cwd = ROOT
    results = []
    for command in parse(block):
        argv = command.argv
        if argv[0] == "cd":
            cwd = (cwd / argv[1]).resolve()
            results.append((command, ""))
            continue
        results.append((command, normalise(run(argv, cwd))))
    return results


def run(argv: list[str], cwd: Path) -> str:
    """What a command prints, stdout and stderr together."""
    if argv[0] == "invcheck":
        return _in_process(argv[1:], cwd)
    if argv[0] == "pytest":
        return _subprocess(["-m", "pytest", "-p", "no:cacheprovider", *argv[1:]], cwd)
    if argv[0] == "python" and len(argv) > 1 and argv[1].startswith("benchmarks/"):
        return _subprocess(argv[1:], cwd)
    raise ValueError(f"console block: only invcheck, pytest and cd run here, not {argv[0]!r}")


def _in_process(args: list[str], cwd: Path) -> str:
    from typer.testing import CliRunner

    from invcheck.cli import main

    old_argv, old_cwd = sys.argv, os.getcwd()
    with CliRunner().isolation(env=ENV) as streams:
        sys.argv = ["invcheck", *args]
        os.chdir(cwd)
        try:
            main()
        except SystemExit:  # main() always ends so; the shown output says how it ended
            pass
        finally:
            sys.argv = old_argv
            os.chdir(old_cwd)
            sys.stdout.flush()
            sys.stderr.flush()
        output: str = streams[2].getvalue().decode()
    return output


def in_a_process(block: str) -> bool:
    """Whether a block starts a process (`$ pytest`, `$ python ...`): a pytest session importing
    torch takes seconds, so the suite marks the block slow (the root conftest.py)."""
    return any(c.argv[0] in ("pytest", "python") for c in parse(block))


def slow(block: str) -> bool:
    """Whether a block runs a benchmark (minutes, not seconds)."""
    return any(
        c.argv[0] == "python" and c.argv[1:2] and c.argv[1].startswith("benchmarks/") for c in parse(block)
    )


def _subprocess(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env.update({k: v for k, v in ENV.items() if v is not None})
    for key in (k for k, v in ENV.items() if v is None):
        env.pop(key, None)
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return done.stdout + done.stderr


def compare_output(command: str, body: str) -> str | None:
    """For output shown in the page: None when the command prints it, else a diff."""
    return compare(f"$ {command}\n{body}")


def compare(block: str) -> str | None:
    """None when every command prints what the block shows; otherwise a diff, command by command."""
    import difflib

    problems = []
    for command, actual in run_block(block):
        expected = normalise(command.expected)
        if actual != expected:
            diff = difflib.unified_diff(
                expected.splitlines(), actual.splitlines(), "shown in the docs", "printed now", lineterm=""
            )
            problems.append(f"$ {command.line}\n" + "\n".join(diff))
    if not problems:
        return None
    return (
        "\n\n".join(problems) + "\n\n(python -m tests.docs.regen rewrites the docs' outputs from the tool's)"
    )
