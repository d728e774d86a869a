"""No import circles in the package: the modules' imports form a DAG.

Every import counts, at module level or inside a function (a lazy import is still a dependency:
it runs the first time the function does), except those under `if TYPE_CHECKING:` (never run).
`from pkg import name` depends on pkg.name where that is a module, else on pkg itself.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "invcheck"


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under root (a package is its __init__)."""
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported(tree: ast.AST, here: str, known: dict[str, Path]) -> set[str]:
    """The package's modules that `tree` (module `here`) imports, wherever in it."""

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if _type_checking(child):
                stack.extend(child.orelse)
                continue
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: from . import x
                    package = here if known[here].name == "__init__.py" else here.rpartition(".")[0]
                    for _ in range(child.level - 1):
                        package = package.rpartition(".")[0]
                    base = f"{package}.{base}".rstrip(".")
                targets = [f"{base}.{alias.name}" for alias in child.names]
            found.update(t for t in map(resolve, targets) if t and t != here)
            stack.append(child)
    return found


def graph(root: Path) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imported(ast.parse(path.read_text()), name, known) for name, path in known.items()}


@functools.cache
def package_graph() -> dict[str, set[str]]:
    """invcheck's own graph, parsed once for the tests that read it."""
    return graph(PACKAGE)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_package_has_no_import_circles():
    circles = cycles(package_graph())
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_the_walk_finds_a_circle(tmp_path):
    """The check can fail: a two-module circle through a lazy import is found, one under
    TYPE_CHECKING is not."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from pkg.a import x\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    (pkg / "d.py").write_text("from pkg import c\n")
    assert cycles(graph(pkg)) == [["pkg.a", "pkg.b"]]


REGISTRIES = ("invcheck.norms", "invcheck.layer_kinds", "invcheck.placements", "invcheck.transforms")


@pytest.mark.parametrize("registry", REGISTRIES)
def test_registries_never_import_the_settings_at_run_time(registry):
    """settings.py (what a check asks for) sits under the registries: they name its types only for
    type checkers, so no circle can run through it whatever settings.py looks up."""
    edges = package_graph()
    inside = [m for m in edges if m == registry or m.startswith(registry + ".")]
    assert not [m for m in inside if "invcheck.settings" in edges[m]]
