"""The shape of the house, read from the source: which first-party package
imports which.

Every import counts, at module level or inside a function, relative or
absolute. The rules:

* ``governance`` is the configuration package (settings, URLs, the ASGI, WSGI
  and Celery entry points): no app imports it.
* ``core`` is shared plumbing: it imports no domain app.
* The apps depend downwards only, in the order of ``LAYERS``: an app imports
  only apps before it, so the graph between apps has no cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first: each app may import only the apps before it. The grid is the
# ground the organisation stands on (departments' jurisdictions and roles'
# scopes are areas), cases build on both, notifications on cases; the demo
# (not installed in production) seeds them all and nothing imports it.
LAYERS = ("core", "grids", "organisation", "cases", "notifications", "field", "demo")
CONFIGURATION = "governance"
DOMAIN_APPS = LAYERS[1:]

# (importing app, imported app) -> where: ["cases/models/case.py:12 grids.models", …]
Graph = dict[tuple[str, str], list[str]]


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _imported_modules(tree: ast.AST, module: str, is_package: bool):
    """Each (line, absolute module name) the source imports."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target


def import_graph(root: Path, packages) -> Graph:
    """The imports between ``packages`` (top-level package names under ``root``)."""
    graph: Graph = defaultdict(list)
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            module, is_package = _module_name(path, root)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, target in _imported_modules(tree, module, is_package):
                imported = target.partition(".")[0]
                if imported in packages and imported != package:
                    where = f"{path.relative_to(root)}:{line} {target}"
                    graph[(package, imported)].append(where)
    return dict(graph)


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle of packages, as [a, b, …, a], or None when there is none."""
    edges = defaultdict(set)
    for source, target in graph:
        edges[source].add(target)
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(edges[node]):
            cycle = visit(target, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for node in sorted(edges):
        cycle = visit(node, [])
        if cycle:
            return cycle
    return None


def _explained(graph: Graph, pairs) -> str:
    return "\n".join(f"{a} -> {b}: {', '.join(graph[(a, b)])}" for a, b in pairs)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph(ROOT, (*LAYERS, CONFIGURATION))


def test_every_app_is_read(graph):
    # Given the project's apps, when their imports are read, then every domain
    # app and the configuration are seen importing another app (all are read).
    importers = {app for app, _imported in graph}
    assert importers == {*DOMAIN_APPS, CONFIGURATION}


def test_no_app_imports_the_configuration_package(graph):
    offending = [(a, b) for a, b in graph if b == CONFIGURATION]
    assert not offending, _explained(graph, offending)


def test_core_imports_no_domain_app(graph):
    offending = [(a, b) for a, b in graph if a == "core" and b in DOMAIN_APPS]
    assert not offending, _explained(graph, offending)


def test_apps_import_each_other_in_no_cycle(graph):
    between_apps = {pair: where for pair, where in graph.items() if set(pair) <= set(LAYERS)}
    cycle = find_cycle(between_apps)
    assert cycle is None, " -> ".join(cycle) + "\n" + _explained(graph, pairwise(cycle))


def test_apps_depend_downwards_only(graph):
    rank = {app: index for index, app in enumerate(LAYERS)}
    upwards = [(a, b) for a, b in graph if a in rank and b in rank and rank[b] > rank[a]]
    assert not upwards, _explained(graph, upwards)


# --- The reader itself, on a planted tree ------------------------------------------


def _plant(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")


def test_a_planted_cycle_through_a_function_level_import_is_found(tmp_path):
    # Given b imports a at module level and a imports b only inside a function
    # (and a's relative imports stay inside a):
    _plant(
        tmp_path,
        {
            "a/__init__.py": "",
            "a/api/__init__.py": "from .. import models\nfrom ..models import f\n",
            "a/models.py": "def f():\n    from b.services import g\n    return g\n",
            "b/__init__.py": "",
            "b/services.py": "import a.models\n",
            "c/__init__.py": "from a import models\n",
        },
    )
    # when the graph is read, then both edges and the cycle are found.
    graph = import_graph(tmp_path, ("a", "b", "c"))
    assert graph == {
        ("a", "b"): ["a/models.py:2 b.services"],
        ("b", "a"): ["b/services.py:1 a.models"],
        ("c", "a"): ["c/__init__.py:1 a"],
    }
    assert find_cycle(graph) == ["a", "b", "a"]


def test_no_cycle_is_reported_for_a_layered_tree(tmp_path):
    _plant(
        tmp_path,
        {
            "a/__init__.py": "",
            "b/__init__.py": "from a import x\n",
            "c/__init__.py": "import a\nfrom b import y\n",
        },
    )
    assert find_cycle(import_graph(tmp_path, ("a", "b", "c"))) is None


def test_the_case_models_import_no_policy_or_services():
    # Who may act is decided in cases.policy, which reads the models: the
    # models asking the policy back would close a circle inside the app.
    above_models = ("cases.policy", "cases.services", "cases.selectors")
    found = []
    for path in sorted((ROOT / "cases" / "models").rglob("*.py")):
        module, is_package = _module_name(path, ROOT)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, target in _imported_modules(tree, module, is_package):
            if target.startswith(above_models):
                found.append(f"{path.relative_to(ROOT)}:{line} {target}")
    assert not found, found
