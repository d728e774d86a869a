"""pytest plugin: every `*.invcheck.yaml` (or `.yml`) file is a test file, each of its checks an item.

    pytest                               # collects specs/*.invcheck.yaml beside the tests
    pytest --invcheck-allow-import       # also run checks whose norm is user code (`module:`)
    pytest -m "not invcheck_user_code"   # leave those out
    pytest --invcheck-seed 7 --invcheck-trials 32 --invcheck-dtype float32 --invcheck-device cuda
                                         # every check's seed, trials, dtype, device overridden

An item fails when its verdict differs from its `expect:`; the report is the evidence (deviation,
tolerance, bound, worst trial, spec line), not a traceback. Without `expect:` an item passes with
whatever verdict it measured (it asserts nothing), except `undefined`, which is skipped with its
reason: nothing was measured and nothing was claimed. A spec that does not load is a collection
error of one line, `file:line: message (hint)`, like a test module that does not import.

The plugin is loaded in every pytest session of an environment where invcheck is installed, so it
costs nothing there: no torch, no spec parsing and no fixtures until a spec file is collected.
"""

from __future__ import annotations

import builtins
import io
import os
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from invcheck.errors import InvarianceError, InvcheckError
from invcheck.spec_values import whole_number
from invcheck.user_objects import user_code

if TYPE_CHECKING:
    from invcheck.evidence import Result
    from invcheck.scan.spec import Outcome, ScanEntry
    from invcheck.settings import CheckConfig

SUFFIXES = (".invcheck.yaml", ".invcheck.yml")
_DTYPES = ("float64", "float32", "float16", "bfloat16")  # names.DTYPES, without importing the registries
_ALLOW_KEY = pytest.StashKey[dict[Path, bool]]()  # spec folder -> allowed by pyproject.toml


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("invcheck")
    group.addoption(
        "--invcheck-allow-import",
        action="store_true",
        default=False,
        help="run *.invcheck.yaml checks whose norm is user code (module: ...); importing it runs it",
    )
    for key, metavar, kind, what in (
        ("seed", "N", whole_number, "seed"),  # 8, 8.0 or 1e3, as the command line reads it
        ("trials", "N", whole_number, "number of trials"),
        ("dtype", "[" + "|".join(_DTYPES) + "]", str, "dtype"),
        ("device", "[cpu|cuda|cuda:N|auto]", str, "device"),
    ):
        group.addoption(
            f"--invcheck-{key}",
            type=kind,
            default=None,
            metavar=metavar,
            help=f"every *.invcheck.yaml check's {what}, in place of the spec's (to reproduce a failure)",
        )
    group.addoption(
        "--invcheck-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds a check of user code may take before it fails (default 15)",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(SUFFIXES):
        return SpecFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """A `*.invcheck.yaml` link that leads nowhere (or loops) is no file, so pytest would pass it by
    in silence: one failing item of one line, as `invcheck run` refuses it."""
    outcome: Any = yield
    folder = getattr(pytest, "Dir", None)
    if folder is None or not isinstance(collector, folder):
        return
    report = outcome.get_result()
    try:
        entries = [e for e in os.scandir(collector.path) if e.name.endswith(SUFFIXES) and e.is_symlink()]
    except OSError:
        return
    for entry in sorted(entries, key=lambda e: e.name):
        if os.path.exists(entry.path):
            continue
        from invcheck import spec

        try:
            spec.discover([_shown(Path(entry.path))])
        except InvcheckError as err:
            report.result.append(
                BrokenSpec.from_parent(collector, name=entry.name, path=Path(entry.path), error=err)
            )


class SpecFile(pytest.File):
    """One spec file; its checks are the items."""

    def collect(self) -> Iterator[pytest.Item]:
        """The checks; a spec that does not load is one failing item of one line, so that a
        session (even without --continue-on-collection-errors) still runs every other test."""
        try:
            with _own_imports(self.config):
                from invcheck import spec

                checks = _overridden(self.config, spec.load_file(_shown(self.path)))
        except InvcheckError as err:
            yield BrokenSpec.from_parent(self, name=self.path.name, error=err)
            return
        from invcheck.settings import test_names

        names = test_names(checks)
        for check, name in zip(checks, names):  # a repeated title: '@line' added
            yield CheckItem.from_parent(self, name=name, check=check)
        with _own_imports(self.config):
            scans = list(scan_items(self, set(names)))
        yield from scans

    # pytest's Collector narrows Node.repr_failure so (no style), and ignores mypy's objection the same way
    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, InvcheckError):  # a SpecError: already says file:line
            return str(excinfo.value)
        return super().repr_failure(excinfo)  # a collector's takes no style


class BrokenSpec(pytest.Item):
    """A spec file that does not load: an error with its one line, `file:line: message` (as
    `invcheck run` refuses it with exit 2)."""

    def __init__(self, *, error: InvcheckError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def setup(self) -> None:
        raise self.error

    def runtest(self) -> None:  # never reached: setup raises
        raise self.error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"invcheck: {self.name}"


class CheckItem(pytest.Item):
    """One check: run it, compare the verdict with `expect:`."""

    def __init__(self, *, check: CheckConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.result: Result | None = None  # for hooks (pytest_runtest_makereport, say)
        if user_code(check):
            self.add_marker("invcheck_user_code")

    def setup(self) -> None:
        """Runs the check. Here, not in runtest: a check that cannot run (refused import, bad user
        code, a missing device) is a pytest error, as it is an error in `invcheck run` (exit 2) and
        its JUnit file; a verdict other than the expected one is a failure (runtest)."""
        for name in _OWN_MODULES:  # torch, numpy: never a planted numpy.py beside the spec
            try:
                with _own_imports(self.config):
                    __import__(name)
            except ImportError:  # installed in the project's folders after all
                __import__(name)
        from invcheck.runner import import_refused, run_check

        if not user_code(self.check):
            with _own_imports(self.config):
                self.result = run_check(self.check, checked=True)  # held to the rules as it loaded
        elif not _allow_import(self.config, self.path):
            raise import_refused(self.check, "--invcheck-allow-import", self.config.invocation_params.dir)
        else:
            _show_a_hard_stop(self.config)
            with _importable_from(self.path):  # only now, with permission, and appended
                self.result = run_check(self.check, checked=True)  # held to the rules as it loaded
        self._record(self.result)

    def runtest(self) -> None:
        from invcheck.evidence import explain

        result = self.result
        assert result is not None  # setup() ran the check
        if result.expected is False:
            raise InvarianceError(explain(result, self.check.expect), result)
        if result.expected is None and result.verdict == "undefined":
            pytest.skip(f"undefined: {result.why}")

    def _record(self, result: Result) -> None:
        """The numbers as pytest properties, for report hooks, and in `pytest --junit-xml` where the
        family is xunit1: xunit2 (pytest's default, the Jenkins schema's shape) has no properties
        in a testcase, so there the numbers are in a failure's text only."""
        if self.config.getini("junit_family") != "xunit1":
            return
        for key in ("verdict", "deviation", "tolerance", "bound"):
            self.user_properties.append((key, getattr(result, key)))
        self.user_properties.append(("expect", self.check.expect))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, (InvarianceError, InvcheckError)):
            # the evidence, or one line (refused import, bad user code); then how to reproduce it
            return str(excinfo.value) + self.reproduce()
        return super().repr_failure(excinfo, style)

    def reproduce(self) -> str:
        """The lines that re-run this check alone (pytest, invcheck run) and explain it."""
        from invcheck.reproduce import OVERRIDES, rerun_lines, shell_word

        c, allow = self.check, bool(user_code(self.check))
        values = " ".join(f"--invcheck-{key} {getattr(c, key)}" for key in OVERRIDES)
        allowing = " --invcheck-allow-import" if allow else ""
        lines = [f"re-run:  pytest {shell_word(self.nodeid)} {values}{allowing}"]
        lines += rerun_lines(c, self.name, allow)
        return "".join(f"\n  {line}" for line in lines)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.check.line - 1 if self.check.line else None  # pytest counts from 0
        return self.path, line, f"invcheck: {self.name}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A check that could not run errs in setup with its one line, not a traceback (pytest writes
    setup errors without asking the item's repr_failure)."""
    outcome = yield
    excinfo = call.excinfo
    if (
        (isinstance(item, (CheckItem, BrokenSpec)) or getattr(item, "invcheck_one_line", False))
        and call.when == "setup"
        and excinfo
        and isinstance(excinfo.value, InvcheckError)
    ):
        extra = item.reproduce() if isinstance(item, CheckItem) else ""
        outcome.get_result().longrepr = str(excinfo.value) + extra


_SESSION: dict[str, pytest.Config] = {}  # the session whose user code runs now


def _show_a_hard_stop(config: pytest.Config) -> None:
    """User code that defeats its deadline ends the process (user_load's watchdog): its one line
    must reach the terminal, not pytest's capture of stderr, which dies with the process."""
    from invcheck.impls import user_load

    _SESSION["config"] = config
    if _release_capture not in user_load.BEFORE_HARD_EXIT:
        user_load.BEFORE_HARD_EXIT.append(_release_capture)


def _release_capture() -> None:
    capman = _SESSION["config"].pluginmanager.getplugin("capturemanager")
    if capman is not None:
        capman.suspend_global_capture(in_=True)
    sys.stdout.flush()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "invcheck_user_code: an invcheck check whose norm is user code")
    seconds = config.getoption("invcheck_timeout", None)
    if seconds is not None:
        from invcheck import timeouts

        if not timeouts.within_bounds(seconds):
            raise pytest.UsageError(
                f"--invcheck-timeout must be in {timeouts.BOUNDS} seconds, got {seconds:g}"
            )
        timeouts.set_timeout(seconds, "--invcheck-timeout SECONDS")
    try:
        _overridden(config, [])  # a bad value is a usage error before anything is collected
    except InvcheckError as err:
        raise pytest.UsageError(str(err)) from None


# What pytest's own report and exit go through, as they were when pytest started: a thread user code
# left running may rebind them after its check (isolation.kept puts them back only as a check ends).
_PYTEST_WRITES = [(builtins, "open"), (io, "open"), (sys, "exit")]
_AT_START = {(id(space), name): getattr(space, name) for space, name in _PYTEST_WRITES}


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, Any, None]:
    """Before pytest writes its report (`--junit-xml`): `open` and `sys.exit` are pytest's again.
    After it: a thread user code left running under a check does not keep pytest waiting at its
    exit, the process ends with pytest's own status."""
    for space, name in _PYTEST_WRITES:
        if getattr(space, name) is not _AT_START[(id(space), name)]:
            setattr(space, name, _AT_START[(id(space), name)])
    yield
    from invcheck import isolation

    isolation.end_host_promptly(lambda: int(session.exitstatus))


def _overridden(config: pytest.Config, checks: list[CheckConfig]) -> list[CheckConfig]:
    """The checks with --invcheck-seed/-trials/-dtype/-device in place of their own values."""
    from invcheck.reproduce import OVERRIDES, overridden

    values = {key: config.getoption(f"invcheck_{key}", None) for key in OVERRIDES}
    if all(value is None for value in values.values()):
        return checks
    return overridden(checks, "--invcheck-", **values)


# What a check imports: resolved from the environment, never from the project's folders.
_OWN_MODULES = ("torch", "invcheck.runner", "invcheck.measure", "invcheck.verdict")


class _own_imports:
    """sys.path without the working directory and the project's folders (those pytest put there
    for test modules), while invcheck imports its own modules and runs built-in checks: a
    `numpy.py` or `yaml.py` beside a spec is never imported in their place. A virtual
    environment inside the project stays; an import that needs a stripped entry is retried."""

    def __init__(self, config: pytest.Config) -> None:
        self.user = [Path.cwd().resolve(), config.rootpath.resolve()]

    def _trusted(self, entry: str) -> bool:
        if not entry:
            return False
        path = Path(entry).resolve()
        if any(path.is_relative_to(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix)):
            return True
        return not any(path == u or path.is_relative_to(u) for u in self.user)

    def __enter__(self) -> None:
        self.saved = list(sys.path)
        sys.path[:] = [entry for entry in sys.path if self._trusted(entry)]

    def __exit__(self, *exc: object) -> None:
        added = [entry for entry in sys.path if entry not in self.saved]  # by what ran meanwhile
        sys.path[:] = self.saved + added


def _shown(path: Path) -> str:
    """`path` relative to where pytest runs, as the user would type it (messages name it so)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def _allow_import(config: pytest.Config, spec_path: Path) -> bool:
    """The flag, or `allow-import = true` under [tool.invcheck] in the pyproject.toml nearest the
    spec when that is the project's pytest was run from (the working directory's, as for `invcheck
    run`; not the rootdir, which pytest may place in the spec's own folder): a folder with a
    pyproject.toml of its own cannot grant itself permission. Read once per folder; a bad setting
    fails the items with its one-line InvcheckError."""
    if config.getoption("invcheck_allow_import"):
        return True
    from invcheck.project_config import allow_import_from_config, find_pyproject

    cache = config.stash.setdefault(_ALLOW_KEY, {})
    folder = spec_path.parent
    if folder not in cache:
        own = find_pyproject(folder) == find_pyproject(config.invocation_params.dir)
        cache[folder] = own and allow_import_from_config(folder)
    return cache[folder]


class _importable_from:
    """Put a spec's folder on sys.path while its user-code check runs, so that
    `module: "mynorms:MyNorm"` finds mynorms.py beside the spec; appended, so that a file there
    never shadows an installed module (numpy.py beside the spec is not numpy)."""

    def __init__(self, spec_path: Path) -> None:
        self.folder = str(_base_dir(spec_path))
        self.added = False

    def __enter__(self) -> None:
        if self.folder not in sys.path:
            sys.path.append(self.folder)
            self.added = True

    def __exit__(self, *exc: object) -> None:
        if self.added and self.folder in sys.path:
            sys.path.remove(self.folder)


def _base_dir(path: Path) -> Path:
    """The first folder above `path` that is not a package (pytest's `prepend` import mode rule)."""
    folder = path.parent
    while (folder / "__init__.py").exists() and folder.parent != folder:
        folder = folder.parent
    return folder


# `scan:` entries: one item per entry, so that pytest-xdist spreads a zoo of models over its workers.
# An item errs (in setup) where its entry cannot run: import not allowed, a factory that fails, a
# glob that matches no parameter; it fails where a verdict differs from its `expect:`, a line a tensor.


class ScanMismatch(AssertionError):
    """Expected verdicts that did not hold; the message lists them."""


def scan_items(parent: pytest.File, names: set[str]) -> Iterator[pytest.Item]:
    """The items of `parent`'s scan entries (the file already loaded without error); `names` are
    the ids its checks took, so that a scan's id is unique among them."""
    from invcheck.scan.spec import item_names, load_file

    found = load_file(_shown(parent.path))
    for entry, name in zip(found, item_names(found, names)):
        yield ScanItem.from_parent(parent, name=name, entry=entry)


class ScanItem(pytest.Item):
    """One scan entry: scan the model, compare the verdicts with `expect:`."""

    invcheck_one_line = True  # the plugin reports an error in setup as its one line

    def __init__(self, *, entry: ScanEntry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entry = entry
        self.outcome: Outcome | None = None
        self.add_marker("invcheck_user_code")

    def setup(self) -> None:
        from invcheck.scan.spec import refused, run_entry

        if not _allow_import(self.config, self.path):
            raise refused(self.entry, "--invcheck-allow-import")
        _show_a_hard_stop(self.config)  # a factory past its deadline: its line reaches the terminal
        with _importable_from(self.path):
            self.outcome = run_entry(self.entry)

    def runtest(self) -> None:
        assert self.outcome is not None
        if self.outcome.mismatches:
            raise ScanMismatch("\n".join(self.outcome.mismatches))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, (ScanMismatch, InvcheckError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        line = self.entry.line - 1 if self.entry.line else None
        return self.path, line, f"invcheck: {self.name}"
