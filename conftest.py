"""Every example in README.md and docs/*.md is a test (sybil): outputs cannot go stale.

- ```console blocks: `$ invcheck ...` sessions, run in this process and compared with the output
  shown (tests/docs/console.py says how);
- ```python blocks: run (doctest blocks, `>>>`, compared with their output);
- `<!-- $ invcheck ... -->` ... `<!-- end -->`: output shown as part of the page (a markdown table),
  compared in the same way;
- `<!-- file: PATH -->` before a fenced block: the block must be PATH's content.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one intra-op thread, as the docs' numbers were made

import pytest
from sybil import Sybil
from sybil.parsers.markdown import SkipParser


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: one xdist worker more than this process may use cores (PYTEST_XDIST_AUTO_NUM_WORKERS
    still decides where set). Part of the suite waits rather than computes (a real process importing
    torch, a deadline that rings after a second, a watchdog's grace): a third worker on 2 cores fills
    those waits (the whole suite 3m00s against 3m32s with two, measured back to back here)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores + 1


def _load(name: str, path: Path) -> ModuleType:
    """A helper module by its file: the repository root stays off sys.path (a numpy.py there is not numpy)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_here = Path(__file__).parent / "tests" / "docs"
_console = _load("tests.docs.console", _here / "console.py")
_docs = _load("tests.docs.parsers", _here / "parsers.py")

# The pages' own example files (run by the console blocks) are not the suite's tests.
collect_ignore_glob = ["docs/examples/*"]

EXAMPLES = str(Path(__file__).parent / "docs" / "examples")


_BEFORE_PAGE: set[str] = set()
_PATH_BEFORE_PAGE: list[str] = []
_OURS = tuple(
    str(Path(p).resolve())
    for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, Path(__file__).parent / "invcheck"}
)


def _setup(namespace: dict) -> None:
    """The pages' Python imports the example layer as a user imports theirs (`from my_norm import MyNorm`)."""
    _BEFORE_PAGE.clear()
    _BEFORE_PAGE.update(sys.modules)
    _PATH_BEFORE_PAGE[:] = sys.path
    if EXAMPLES not in sys.path:
        sys.path.append(EXAMPLES)  # appended: never ahead of installed packages


def _teardown(namespace: dict) -> None:
    """The page's user modules (examples/custom_norm/mynorms.py, my_norm.py) and the folders its
    commands put on sys.path leave with it: a later test on this worker that writes a module of the
    same name must find its own, not the page's "imported earlier"."""
    sys.path[:] = _PATH_BEFORE_PAGE
    for name in set(sys.modules) - _BEFORE_PAGE:
        file = getattr(sys.modules[name], "__file__", None)
        if file is not None and not str(Path(file).resolve()).startswith(_OURS):
            del sys.modules[name]


pytest_collect_file = Sybil(
    parsers=[
        _docs.ConsoleParser(),
        _docs.OutputParser(),
        _docs.FileParser(),
        _docs.UncheckedSessionParser(),
        _docs.PythonParser(),
        SkipParser(),  # <!-- skip: next --> before a block that cannot run here (say why beside it)
    ],
    patterns=["README.md", "docs/*.md"],
    setup=_setup,
    teardown=_teardown,
).pytest()


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A console block that starts a process (`$ pytest ...`) is slow, as the suite's other real
    processes that import torch are (tests/conftest.py); `-m "not slow"` leaves it out."""
    for item in items:
        parsed = getattr(getattr(item, "example", None), "parsed", None)
        if isinstance(parsed, str) and parsed.lstrip().startswith("$ ") and _console.in_a_process(parsed):
            item.add_marker(pytest.mark.slow)


# Under pytest-xdist the controller schedules by test id alone: it collects nothing, so it cannot see
# a test's markers. Each worker writes, for every test it collected, the unit the test belongs to
# (a docs page, an `xdist_group`, or the test alone) into a file the controller named; the
# scheduler reads it.
_UNITS = pytest.StashKey[Path]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Controller: tell each worker where to write its units (one folder per session)."""
    config: pytest.Config = node.config
    if _UNITS not in config.stash:
        config.stash[_UNITS] = Path(tempfile.mkdtemp(prefix="invcheck-units-"))
    node.workerinput["invcheck_units"] = str(config.stash[_UNITS])


def pytest_unconfigure(config: pytest.Config) -> None:
    if _UNITS in config.stash:
        shutil.rmtree(config.stash[_UNITS], ignore_errors=True)


@pytest.hookimpl(tryfirst=True)  # before xdist tells the controller the collection is complete
def pytest_collection_finish(session: pytest.Session) -> None:
    folder = getattr(session.config, "workerinput", {}).get("invcheck_units")
    if folder is None:
        return
    units = {
        item.nodeid: [_unit(item), item.get_closest_marker("slow") is not None] for item in session.items
    }
    ours = Path(folder) / f"{session.config.workerinput['workerid']}.json"
    ours.with_suffix(".tmp").write_text(json.dumps(units))
    ours.with_suffix(".tmp").replace(ours)  # whole or absent: the controller may read it at once


def _unit(item: pytest.Item) -> str:
    """The tests that must share a worker: a page's examples (a doctest line reads the names the lines
    before it set), or tests marked with one `xdist_group` (they read one cached result: on two
    workers it would be computed twice). Every other test is a unit of its own."""
    page = item.nodeid.split("::", 1)[0]
    if page.endswith(".md"):
        return page
    groups = sorted(
        {str(m.args[0] if m.args else m.kwargs.get("name")) for m in item.iter_markers("xdist_group")}
    )
    return "group:" + "_".join(groups) if groups else item.nodeid


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """Under pytest-xdist, each unit (`_unit`: a docs page, an `xdist_group`, a test) runs on one
    worker; units go to whichever worker is free, as `--dist load` hands out tests. (xdist's own
    `--dist loadgroup` cannot do this under pytest 9: the group suffix it writes into a test's id is
    no longer read.)"""
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None  # a user's explicit --dist each/loadfile/...: theirs
    from xdist.scheduler import LoadScopeScheduling

    class Units(LoadScopeScheduling):
        _units: dict[str, list] | None = None
        _ordered = False

        def _split_scope(self, nodeid: str) -> str:
            if self._units is None:
                self._units = _read_units(config)
            page = nodeid.split("::", 1)[0]
            unit = self._units.get(nodeid)
            return unit[0] if unit else (page if page.endswith(".md") else nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            # The dearest units first, the cheap ones last (longest processing time first): a unit
            # of one real process (seconds) handed out at the end would leave the other worker idle
            # until it ends. Dear: its slow tests (real processes, proofs, more seeds) count 1, the
            # others 1/20 (roughly: a real process takes 1.5-9 s, a fast test ~0.05 s; only the order
            # matters).
            if not self._ordered:
                self._ordered = True
                slow = {nodeid: unit[1] for nodeid, unit in (self._units or {}).items()}
                cost = {
                    s: sum(1.0 if slow.get(t) else 0.05 for t in tests) for s, tests in self.workqueue.items()
                }
                for scope in sorted(self.workqueue, key=lambda s: -cost[s]):
                    self.workqueue.move_to_end(scope)
            super()._assign_work_unit(node)

    return Units(config, log)


def _read_units(config: pytest.Config) -> dict[str, list]:
    """What the workers wrote, per test [its unit, whether it is slow] (identical collections: xdist
    checks that); {} where none did."""
    folder = config.stash.get(_UNITS, None)
    for path in sorted(folder.glob("*.json")) if folder is not None else []:
        units: dict[str, list] = json.loads(path.read_text())
        return units
    return {}
