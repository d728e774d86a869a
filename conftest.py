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
import os
import sys
from pathlib import Path
from types import ModuleType

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one intra-op thread, as the docs' numbers were made

import pytest
from sybil import Sybil
from sybil.parsers.markdown import SkipParser


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


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """Under pytest-xdist, a page's examples run in order on one worker: a doctest line reads the
    names the lines before it set (`report` was a NameError where two lines of one block landed on
    two workers). Every other test is a unit of its own, handed to whichever worker is free, as
    `--dist load` does. (xdist's own `xdist_group` cannot do this under pytest 9: the group suffix
    it writes into a test's id is no longer read.)"""
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None  # a user's explicit --dist each/loadfile/...: theirs
    from xdist.scheduler import LoadScopeScheduling

    class PagesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            page = nodeid.split("::", 1)[0]
            return page if page.endswith(".md") else nodeid

    return PagesTogether(config, log)
