"""Model instances read with hand-written SQL, on the few paths where the ORM's
own work costs more than the database's.

A ``QuerySet.get`` spends about 0.4 ms of Python building and compiling its
query before the database sees it; on an approval, which reads and locks an
order, its parties, a milestone and the ledger accounts, that was more than
the database's work for the whole transaction. ``Columns`` names a model's
columns once (from ``_meta``, so a new field is read without touching the
SQL) and turns a row back into the instance the ORM would have built: through
``Model.from_db``, with each field's ``from_db_value`` applied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

M = TypeVar("M", bound=Model)


class Columns(Generic[M]):
    """Every concrete column of ``model`` (or those of ``fields``), read under the table alias ``alias``."""

    def __init__(self, model: type[M], alias: str, fields: Sequence[Any] | None = None) -> None:
        self.model = model
        fields = model._meta.concrete_fields if fields is None else fields
        self.attnames = [field.attname for field in fields]
        self.width = len(fields)
        prefix = f"{alias}." if alias else ""
        self.sql = ", ".join(f'{prefix}"{field.column}"' for field in fields)
        self._cols = [field.get_col(model._meta.db_table) for field in fields]
        self._converters: list[tuple[int, list[Callable[..., Any]]]] | None = None

    def __str__(self) -> str:
        return self.sql

    def converters(self) -> list[tuple[int, list[Callable[..., Any]]]]:
        """The fields whose values the backend converts (SQLite's dates and decimals; a JSON field), by position."""
        if self._converters is None:
            connection = connections[DEFAULT_DB_ALIAS]
            found = []
            for i, col in enumerate(self._cols):
                convert = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
                if convert:
                    found.append((i, convert))
            self._converters = found
        return self._converters

    def converted(self, values: Sequence[Any]) -> Sequence[Any]:
        """``values`` (one per column, in order) as the backend's converters leave them."""
        converters = self.converters()
        if not converters:
            return values
        values = list(values)
        connection = connections[DEFAULT_DB_ALIAS]
        for i, convert in converters:
            for converter in convert:
                values[i] = converter(values[i], self._cols[i], connection)
        return values

    def instance(self, row: Sequence[Any], start: int = 0) -> M:
        """The instance in ``row`` from position ``start``, as the ORM builds it."""
        values = self.converted(row[start : start + self.width])
        return self.model.from_db(DEFAULT_DB_ALIAS, self.attnames, values)
