"""No import circles between the project's modules, counting every import: at
the top of a file, inside a function, under ``TYPE_CHECKING``.

An import inside a function hides a circle from Python (the second module is
loaded only when the function runs) but not from a reader, who must still
know both files to change either. grimp, which import-linter is built on,
reads every import statement of every module, so its graph has them all. The
layers contract (``lint-imports``, test_import_contract.py) says which app may
import which; this says that no two modules anywhere lean on each other.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]


def project_packages(root: Path = ROOT) -> list[str]:
    """Every top-level package of the repository: the apps, the kernel, bench, simulate, deploy, tests."""
    return sorted(
        path.parent.name
        for path in root.glob("*/__init__.py")
        if not path.parent.name.startswith(".") and path.parent.name.isidentifier()
    )


def import_cycles(*packages: str) -> list[list[str]]:
    """The import circles among the modules of ``packages``: each a sorted list of the modules
    that import one another (a strongly connected component of more than one module, or a module
    importing itself), found with Tarjan's algorithm over grimp's graph."""
    graph = grimp.build_graph(*packages, include_external_packages=False, cache_dir=None)
    imports = {module: sorted(graph.find_modules_directly_imported_by(module)) for module in sorted(graph.modules)}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a long chain of imports cannot reach Python's recursion limit.
        work = [(start, iter(imports[start]))]
        order[start] = low[start] = len(order)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in order:
                    order[child] = low[child] = len(order)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(imports[child])))
                elif child in on_stack:
                    low[module] = min(low[module], order[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == order[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1 or module in imports[module]:
                    cycles.append(sorted(component))

    for module in imports:
        if module not in order:
            visit(module)
    return sorted(cycles)


def describe(cycles: list[list[str]], *packages: str) -> str:
    """Each circle with the lines that close it, for the failure message."""
    graph = grimp.build_graph(*packages, include_external_packages=False, cache_dir=None)
    lines = []
    for cycle in cycles:
        lines.append("circle: " + " ↔ ".join(cycle))
        for importer in cycle:
            for imported in sorted(graph.find_modules_directly_imported_by(importer) & set(cycle)):
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    lines.append(f"  {importer}:{detail['line_number']}: {detail['line_contents']}")
    return "\n".join(lines)


def test_the_project_has_no_import_circle_even_through_imports_inside_functions():
    packages = project_packages()
    assert {"marketplace", "milestones", "payments", "sandbox", "bench", "simulate", "tests"} <= set(packages)
    for package in packages:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin is not None
        assert Path(spec.origin).resolve().is_relative_to(ROOT), f"{package} is imported from {spec.origin}"
    cycles = import_cycles(*packages)
    assert cycles == [], describe(cycles, *packages)


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """A throwaway package on ``sys.path``: ``planted(name, {module: source})``."""

    def plant(name: str, modules: dict[str, str]) -> str:
        package = tmp_path / name
        package.mkdir()
        (package / "__init__.py").write_text("")
        for module, source in modules.items():
            (package / f"{module}.py").write_text(source)
        importlib.invalidate_caches()
        return name

    monkeypatch.syspath_prepend(str(tmp_path))
    return plant


def test_a_circle_hidden_inside_a_function_is_reported(planted):
    package = planted(
        "planted_circle",
        {
            "outbox": "from planted_circle.services import settle\n\n\ndef run():\n    return settle()\n",
            # The import that closes the circle, inside a function: Python never notices it.
            "services": "def settle():\n    from planted_circle.outbox import run\n\n    return run\n",
            "fees": "from planted_circle import services\n",
        },
    )
    assert import_cycles(package) == [["planted_circle.outbox", "planted_circle.services"]]
    message = describe(import_cycles(package), package)
    assert "planted_circle.services:2: from planted_circle.outbox import run" in message


def test_a_longer_circle_and_a_module_importing_itself_are_reported(planted):
    package = planted(
        "planted_ring",
        {
            "a": "import planted_ring.b\n",
            "b": "from planted_ring import c\n",
            "c": "def f():\n    import planted_ring.a\n",
            "selfish": "def f():\n    from planted_ring import selfish\n",
        },
    )
    assert import_cycles(package) == [
        ["planted_ring.a", "planted_ring.b", "planted_ring.c"],
        ["planted_ring.selfish"],
    ]


def test_imports_in_one_direction_are_no_circle(planted):
    package = planted(
        "planted_tree",
        {
            "models": "",
            "services": "from planted_tree import models\n",
            "views": "def v():\n    import planted_tree.services\n",
        },
    )
    assert import_cycles(package) == []
