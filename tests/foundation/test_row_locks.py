"""A row lock taken on a query that joins other rows (``select_related``) names
the rows it locks: ``select_for_update(of=("self",))``. Without ``of=``,
PostgreSQL locks every joined row too (an inquiry's gig and both users), and
every write by those users queues behind it (docs/ARCHITECTURE.md, "Lock order")."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".venv", ".git", "node_modules", "migrations", ".data", "static", "templates"}


def _chain(node: ast.expr) -> list[ast.Call]:
    """The method calls of a chain such as ``X.objects.a(...).b(...).c(...)``, outermost first."""
    calls = []
    while True:
        if isinstance(node, ast.Call):
            calls.append(node)
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            return calls


def _name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else ""


def unnamed_joined_locks(source: str, filename: str = "<source>") -> list[str]:
    """Where ``source`` calls ``select_for_update()`` without ``of=`` in a chain that also calls
    ``select_related``: ``file:line`` each."""
    tree = ast.parse(source, filename)
    inner = {id(call) for node in ast.walk(tree) if isinstance(node, ast.Call) for call in _chain(node)[1:]}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or id(node) in inner:
            continue  # only whole chains, each once
        calls = _chain(node)
        names = {_name(call) for call in calls}
        for call in calls:
            named = any(keyword.arg == "of" for keyword in call.keywords)
            if _name(call) == "select_for_update" and "select_related" in names and not named:
                found.append(f"{filename}:{call.func.end_lineno}")  # the line that says select_for_update
    return found


def _sources() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if not SKIP.intersection(path.relative_to(ROOT).parts[:-1]) and "tests" not in path.relative_to(ROOT).parts[:1]
    ]


def test_every_lock_on_a_joined_query_names_the_rows_it_locks():
    sources = _sources()
    assert len(sources) > 100 and any(path.name == "services.py" for path in sources)
    found = [hit for path in sources for hit in unnamed_joined_locks(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == [], f"select_for_update() with select_related and no of=: {found}"


def test_the_scan_catches_a_planted_lock_without_of():
    planted = """
def inquiry_lock(pk):
    return Inquiry.objects.select_for_update().select_related("gig", "buyer").get(pk=pk)

def order_lock(pk):
    return (
        Order.objects.select_related("buyer")
        .filter(pk=pk)
        .select_for_update(skip_locked=True)
        .first()
    )

def fine(pk):
    a = Inquiry.objects.select_for_update(of=("self",)).select_related("gig").get(pk=pk)
    b = Gig.objects.select_for_update().get(pk=pk)  # nothing joined: only the gig's row
    c = Inquiry.objects.select_related("gig").get(pk=pk)  # no lock
    return a, b, c
"""
    assert unnamed_joined_locks(planted, "planted.py") == ["planted.py:3", "planted.py:9"]
