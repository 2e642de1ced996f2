"""The migration linter (``manage.py lint_migrations``, part of ``make lint``).

A migration runs against a live site: a statement that takes an exclusive lock
on a big table (or scans it while holding one) stops every request that
touches it until it ends. This refuses, on any table that already exists
before the migration:

* an index built in the transaction (``AddIndex``, an indexed or unique
  ``AddField``, a ``UniqueConstraint``, ``unique_together``): use
  ``marketplace.migration_ops.AddIndexConcurrently`` in a migration with
  ``atomic = False``;
* a CHECK constraint validated in place (``AddConstraint`` with a
  ``CheckConstraint``, or a new ``Positive*Field``, which carries one): add it
  ``NOT VALID`` and validate it in a later migration;
* an ``AlterField`` that changes the column (type, length, nullability,
  index): it may rewrite the table;
* ``CREATE INDEX`` without ``CONCURRENTLY``, or ``ADD CONSTRAINT`` without
  ``NOT VALID``, in ``RunSQL``.

Tables created by the same migration are empty and exempt. A migration that
was reviewed and must do one of these anyway says why in a
``lock_reviewed = "..."`` class attribute. ``BASELINE`` lists the migrations
written before the linter (applied everywhere already).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import migrations
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from django.db.models import CheckConstraint, UniqueConstraint

from marketplace.migration_ops import AddCheckNotValid, AddIndexConcurrently

# Written before the linter existed; every deployment has applied them.
BASELINE_BEFORE = {
    "accounts": "0005",
    "gigs": "0003",
    "inbox": "0002",
    "marketplace": "0003",
    "milestones": "0011",
    "notifications": "0002",
    "orders": "0008",
    "payments": "0009",
    "reviews": "0002",
    "sandbox": "0002",
}

# What an AlterField may change without touching the column.
_HARMLESS = {"help_text", "verbose_name", "choices", "blank", "validators", "default", "editable", "error_messages"}
_RAW_INDEX = re.compile(r"\bCREATE\s+(UNIQUE\s+)?INDEX\b(?!\s+CONCURRENTLY)", re.IGNORECASE)
_RAW_CONSTRAINT = re.compile(r"\bADD\s+CONSTRAINT\b(?![^;]*\bNOT\s+VALID\b)", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    migration: str
    operation: str
    why: str

    def __str__(self) -> str:
        return f"{self.migration}: {self.operation}: {self.why}"


def _in_baseline(app_label: str, name: str) -> bool:
    before = BASELINE_BEFORE.get(app_label)
    return before is not None and name[:4].isdigit() and name[:4] < before


def _field_problem(field) -> str | None:
    if field.unique or field.primary_key:
        return "a unique column builds its index while holding the table's lock"
    if field.db_index:  # a ForeignKey is indexed by default
        return "an indexed column builds its index while holding the table's lock"
    if field.get_internal_type().startswith("Positive"):
        return "a Positive*Field carries a CHECK, validated over every row under an exclusive lock"
    return None


def _altered(old, new) -> list[str]:
    _, old_path, _, old_kwargs = old.deconstruct()
    _, new_path, _, new_kwargs = new.deconstruct()
    changed = [] if old_path == new_path else ["type"]
    for key in set(old_kwargs) | set(new_kwargs):
        if key not in _HARMLESS and old_kwargs.get(key) != new_kwargs.get(key):
            changed.append(key)
    return sorted(changed)


def lint_operation(operation, app_label: str, state: ProjectState, created: set[str]) -> str | None:
    model = getattr(operation, "model_name", None) or getattr(operation, "name", None)
    if isinstance(operation, migrations.CreateModel):
        created.add(operation.name_lower)
        return None
    if isinstance(operation, migrations.RunSQL):
        sql = " ".join(part if isinstance(part, str) else str(part[0]) for part in _sql_parts(operation.sql))
        if _RAW_INDEX.search(sql):
            return "CREATE INDEX without CONCURRENTLY blocks writes while it builds"
        if _RAW_CONSTRAINT.search(sql):
            return "ADD CONSTRAINT without NOT VALID checks every row under an exclusive lock"
        return None
    if model is None or str(model).lower() in created:
        return None
    if isinstance(operation, AddIndexConcurrently | AddCheckNotValid):
        return None
    if isinstance(operation, migrations.AddIndex):
        return "use marketplace.migration_ops.AddIndexConcurrently (atomic = False)"
    if isinstance(operation, migrations.AddConstraint):
        constraint = getattr(operation, "constraint", None)  # django-stubs leave it out
        if isinstance(constraint, CheckConstraint):
            return "a CHECK is validated over every row under an exclusive lock: add it NOT VALID, validate later"
        if isinstance(constraint, UniqueConstraint):
            return "a unique constraint builds its index under the table's lock: build the index concurrently first"
        return "a new constraint is checked under the table's lock"
    if isinstance(operation, migrations.AlterUniqueTogether | migrations.AlterIndexTogether):
        return "unique_together/index_together build indexes under the table's lock"
    if isinstance(operation, migrations.AddField):
        return _field_problem(operation.field)
    if isinstance(operation, migrations.AlterField):
        old = state.models[app_label, operation.model_name_lower].fields.get(operation.name)
        changed = _altered(old, operation.field) if old is not None else []
        if changed:
            return f"changes the column ({', '.join(changed)}): it may rewrite or lock the table"
    return None


def _sql_parts(sql) -> list:
    if isinstance(sql, str | tuple):
        return [sql]
    return list(sql)


def lint_migration(app_label: str, migration: migrations.Migration, state: ProjectState) -> list[Problem]:
    """The problems of one migration, given the project's state before it (which it advances)."""
    name = f"{app_label}.{migration.name}"
    if getattr(migration, "lock_reviewed", ""):
        return []
    problems = []
    created: set[str] = set()
    for operation in migration.operations:
        why = lint_operation(operation, app_label, state, created)
        if why:
            problems.append(Problem(name, operation.describe(), why))
        operation.state_forwards(app_label, state)
    if migration.atomic and any(isinstance(op, AddIndexConcurrently) for op in migration.operations):
        problems.append(Problem(name, "atomic", "CREATE INDEX CONCURRENTLY needs atomic = False"))
    return problems


def lint(app_labels: set[str]) -> list[Problem]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    problems: list[Problem] = []
    for app_label, name in sorted(loader.disk_migrations):
        if app_label not in app_labels or _in_baseline(app_label, name):
            continue
        state = loader.project_state((app_label, name), at_end=False)
        problems += lint_migration(app_label, loader.disk_migrations[app_label, name], state)
    return problems
