"""What every test may use: one torch thread, pytester, and `invoke`, the command line in-process.

Starting `python -m invcheck` costs a second or more (the interpreter, then torch); most command
tests ask only what the command prints and how it exits, which `invoke` answers in-process through
the same entry point, `invcheck.cli.main` (its stream set-up, its exit codes, its one-line errors).
A test keeps a real process where the process is the point: signals, pipes, closed or full
standard streams, file descriptors, --jobs workers, what a fresh process imports. Those whose
process imports torch or runs for seconds are marked `slow` (`python -m pytest -m "not slow"`
leaves them out); a torch-free import check (a fraction of a second) is not.

Two markers keep the fast set fast and the whole suite from computing a result twice:
- `fast_set(param=value, ...)`: a family parametrized over seeds, dtypes, kinds or APIs keeps the
  named slice in the fast set; every other parametrization is marked `slow` (the whole suite runs
  them all, unchanged).
- `shares_results(param, ...)`: tests that read one cached result (a functools.cache keyed by these
  parameters); the `xdist_group` it adds puts them on one worker (the root conftest.py's scheduler),
  so the result is computed once in the session.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

# The tests run thousands of tiny tensor ops: one intra-op thread each avoids the oversubscription
# stalls seen on a loaded 2-core machine (a 3x3 conv taking 16 ms instead of 0.1 ms). Set before
# torch is imported; CLI subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Result:
    """A command's exit code and what it wrote, as `subprocess.run(..., text=True)` reports them."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def returncode(self) -> int:
        """subprocess's name for it: a test reads the same in-process or not."""
        return self.exit_code


Invoke = Callable[..., Result]


def invoke_main(
    *args: str,
    input: str | bytes | None = None,
    env: Mapping[str, str | None] | None = None,
    cwd: Path | str | None = None,
) -> Result:
    """`invcheck ARGS` in this process: `main()` with sys.argv, the standard streams (typer's test
    runner's isolation: stdin from `input`, `env` laid over os.environ, None removing a variable)
    and the working folder (the repository's root unless `cwd`) as the process would have them.

    What a command leaves behind is undone afterwards: user modules it imported and the folders it
    put on sys.path (a later command in another folder imports its own `mynorms.py`, as a fresh
    process would), and the deadline that --timeout set."""
    from typer.testing import CliRunner

    from invcheck.cli import main

    saved_modules, saved_path, saved_argv = set(sys.modules), list(sys.path), sys.argv
    saved_timeout = _user_timeout()
    here = os.getcwd()
    # click names the program after `python -m <__main__'s package>` (here pytest's): as the
    # installed `invcheck` script instead, for usage lines
    entry = sys.modules["__main__"]
    saved_package = getattr(entry, "__package__", None)
    code: object = 0
    with CliRunner().isolation(input=input, env=env) as (out, err, _):
        try:
            os.chdir(cwd if cwd is not None else ROOT)
            sys.argv = ["invcheck", *args]
            entry.__package__ = None
            main()
        except SystemExit as stop:
            code = stop.code
        finally:
            sys.argv, entry.__package__ = saved_argv, saved_package
            os.chdir(here)
            sys.path[:] = saved_path
            for name in set(sys.modules) - saved_modules:
                if _is_user_module(sys.modules[name]):
                    del sys.modules[name]
            if saved_timeout is not None:
                sys.modules["invcheck.impls.user_load"]._timeout.update(saved_timeout)
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr = (s.getvalue().decode("utf-8", "backslashreplace") for s in (out, err))
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): the message on stderr, exit 1
        stderr, code = stderr + f"{code}\n", 1
    return Result(code, stdout, stderr)


def _user_timeout() -> dict[str, object] | None:
    """The user-code deadline as it stands (module state that `--timeout` sets), to put back."""
    user_load = sys.modules.get("invcheck.impls.user_load")
    return dict(user_load._timeout) if user_load is not None else None


_INSTALLED = tuple(
    str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, ROOT / "invcheck"}
)


def _is_user_module(module: object) -> bool:
    """A module a test's spec or --module imported (from a temporary folder, examples/, ...), not
    Python's, an installed package's or invcheck's own."""
    file = getattr(module, "__file__", None)
    return file is not None and not str(Path(file).resolve()).startswith(_INSTALLED)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects and before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        fast = item.get_closest_marker("fast_set")
        if fast is not None:
            if unknown := set(fast.kwargs) - set(params):  # a misspelt name would make all of it slow
                raise pytest.UsageError(f"{item.nodeid}: fast_set names no parameter {sorted(unknown)}")
            if any(_outside(params[k], v) for k, v in fast.kwargs.items()):
                item.add_marker(pytest.mark.slow)
        shared = item.get_closest_marker("shares_results")
        if shared is not None:
            key = "-".join(str(params[name]) for name in shared.args)
            item.add_marker(pytest.mark.xdist_group(f"{item.path.stem}:{key}"))


def _outside(value: object, wanted: object) -> bool:
    """Whether a parameter's value is outside the fast slice (one value, or a tuple of them)."""
    return value not in (wanted if isinstance(wanted, tuple) else (wanted,))


@pytest.fixture
def invoke() -> Invoke:
    """`invoke(*args, input=None, env=None, cwd=None) -> Result`: see invoke_main."""
    return invoke_main
