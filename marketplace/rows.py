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

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model
from django.db.models.expressions import DatabaseDefault

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


def insert_row(instance: M) -> M:
    """``instance.save()`` of a new row, as one ``INSERT ... RETURNING`` written from ``_meta``: the
    same values (each field's ``pre_save`` and ``get_db_prep_save``, a database default left to
    the database), the id and the database's defaults set on the instance, a third of the Python.

    Sends no ``pre_save``/``post_save`` signal and calls no overridden ``save``: for rows that have
    neither (an activity, a notice; an earning sealed by its caller). Where the database cannot
    return the new row's columns, it is ``save()``.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    if not connection.features.can_return_columns_from_insert:
        instance.save()
        return instance
    table, fields, returning = _insert_plan(type(instance))
    names: list[str] = []
    placeholders: list[str] = []
    params: list[Any] = []
    for field, column in fields:
        if field is instance._meta.auto_field and instance.pk is None:
            continue
        value = field.pre_save(instance, True)
        names.append(column)
        if isinstance(value, DatabaseDefault):
            placeholders.append("DEFAULT")
        else:
            placeholders.append("%s")
            params.append(field.get_db_prep_save(value, connection))
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(placeholders)}) RETURNING {returning.sql}"  # noqa: S608 - from _meta
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    # The id, and what the database filled in (its defaults), converted as the ORM would.
    for attname, value in zip(returning.attnames, returning.converted(row), strict=True):
        setattr(instance, attname, value)
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS
    return instance


@functools.cache
def _insert_plan(model: type[Model]) -> tuple[str, list[tuple[Any, str]], Columns[Any]]:
    """The table, the columns an INSERT names, and those it returns: from ``_meta``, once per model."""
    connection = connections[DEFAULT_DB_ALIAS]
    fields = [(f, connection.ops.quote_name(f.column)) for f in model._meta.local_concrete_fields if not f.generated]
    returning = Columns(model, "", fields=model._meta.db_returning_fields)
    return connection.ops.quote_name(model._meta.db_table), fields, returning


def update_row(instance: Model, fields: Sequence[str], *, where: Mapping[str, Any] | None = None) -> bool:
    """``instance.save(update_fields=fields)`` as one written-out ``UPDATE ... WHERE id``: each
    field's ``pre_save`` (an ``auto_now`` time is set on the instance too) and ``get_db_prep_save``.
    ``where``: more columns the row must still hold (by attribute name), as a guard. Whether a row
    was updated. No signals, no overridden ``save``, as for ``insert_row``."""
    connection = connections[DEFAULT_DB_ALIAS]
    meta = instance._meta
    sets: list[str] = []
    params: list[Any] = []
    for name in fields:
        field: Any = meta.get_field(name)  # a concrete field: pre_save, column, get_db_prep_save
        value = field.pre_save(instance, False)
        sets.append(f"{connection.ops.quote_name(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    conditions = [f"{connection.ops.quote_name(meta.pk.column)} = %s"]
    params.append(meta.pk.get_db_prep_value(instance.pk, connection))
    for name, value in (where or {}).items():
        field = meta.get_field(name)
        conditions.append(f"{connection.ops.quote_name(field.column)} = %s")
        params.append(field.get_db_prep_value(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {', '.join(sets)} "  # noqa: S608 - from _meta
            f"WHERE {' AND '.join(conditions)}",
            params,
        )
        return cursor.rowcount == 1
