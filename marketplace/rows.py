"""Model instances read with hand-written SQL, on the few paths where the ORM's
own work costs more than the database's: the locks every write on a milestone
takes (``milestones.models.lock_milestone``, ``lock_open_milestones``) and the
ledger's accounts (``payments.ledger.accounts_for``). What each saves is in
docs/ARCHITECTURE.md ("When to write SQL"), measured by ``scripts/sql_gains.py``.

``Columns`` names a model's columns (from ``_meta``: a new field is read
without touching the SQL), and its table and any column by field name for the
rest of the statement, and turns a row back into the instance the ORM would
have built: ``Model.from_db`` (which sends ``pre_init``/``post_init`` as the
ORM's reads do), with the backend's and each field's converters applied.

What this relies on from Django beyond its documented API, all of it here:
``_meta.concrete_fields``, a field's ``get_col`` and ``column``, and the
converters the ORM's compiler applies to a column
(``connection.ops.get_db_converters`` and the column's own
``get_db_converters``: SQLite's dates, decimals and booleans, a JSON field).
``tests/db/test_sql_layer.py`` compares every instance built here with the
ORM's, on PostgreSQL and on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Model

M = TypeVar("M", bound=Model)

Converters = list[tuple[int, list[Callable[..., Any]]]]


class Columns(Generic[M]):
    """Every concrete column of ``model`` (or those of ``fields``), read under the table alias ``alias``."""

    def __init__(self, model: type[M], alias: str, fields: Sequence[Any] | None = None) -> None:
        self.model = model
        self.alias = alias
        fields = model._meta.concrete_fields if fields is None else fields
        self.attnames = [field.attname for field in fields]
        self.width = len(fields)
        self.sql = ", ".join(self.ref(field.attname) for field in fields)
        self._cols = [field.get_col(model._meta.db_table) for field in fields]
        self._converters: dict[str, Converters] = {}

    def __str__(self) -> str:
        return self.sql

    @property
    def table(self) -> str:
        """The table under its alias, for a ``FROM`` or a ``JOIN``."""
        return f"{connection.ops.quote_name(self.model._meta.db_table)} {self.alias}".rstrip()

    def ref(self, name: str) -> str:
        """A column by field or attribute name (``pk`` for the primary key), under the alias."""
        meta = self.model._meta
        field: Any = meta.pk if name == "pk" else meta.get_field(name)
        prefix = f"{self.alias}." if self.alias else ""
        return f"{prefix}{connection.ops.quote_name(field.column)}"

    def converters(self) -> Converters:
        """The fields whose values the backend converts (SQLite's dates and decimals; a JSON field),
        by position: found once per backend."""
        found = self._converters.get(connection.vendor)
        if found is None:
            found = []
            for i, col in enumerate(self._cols):
                convert = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
                if convert:
                    found.append((i, convert))
            self._converters[connection.vendor] = found
        return found

    def converted(self, values: Sequence[Any]) -> Sequence[Any]:
        """``values`` (one per column, in order) as the backend's converters leave them."""
        converters = self.converters()
        if not converters:
            return values
        values = list(values)
        for i, convert in converters:
            for converter in convert:
                values[i] = converter(values[i], self._cols[i], connection)
        return values

    def instance(self, row: Sequence[Any], start: int = 0) -> M:
        """The instance in ``row`` from position ``start``, as the ORM builds it."""
        values = self.converted(row[start : start + self.width])
        return self.model.from_db(DEFAULT_DB_ALIAS, self.attnames, values)


def for_update(of: Sequence[Columns[Any]] = ()) -> str:
    """The row-lock clause (``FOR UPDATE``, ``OF`` the tables of ``of`` only), where the database has
    row locks: on SQLite (the embedded default) the transaction itself is the lock."""
    if not connection.features.has_select_for_update:
        return ""
    return " FOR UPDATE" + (f" OF {', '.join(columns.alias for columns in of)}" if of else "")
