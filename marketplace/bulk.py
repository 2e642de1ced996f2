"""Many rows in one statement: ``INSERT ... SELECT * FROM unnest(...)`` and
``UPDATE ... FROM unnest(...)`` on PostgreSQL, the ORM elsewhere.

What Django's ``bulk_create`` and a ``Case``/``When`` update send, without their
preparation of every field of every row in Python, which cost more than the
database's work where a thousand rows go in at once (a clearance batch's ledger
transactions, entries, balances and notices: ``scripts/sql_gains.py``, and
docs/ARCHITECTURE.md, "When to write SQL").

Every column name and type comes from the model's ``_meta``: a column the caller
does not give is filled as the ORM fills it (its ``default``, ``auto_now``, or
left to its ``db_default``), so a new field behaves here as it does in
``bulk_create``. On SQLite (the embedded default) both functions are the ORM
itself, so the two backends agree by construction.

The rows go in without ``pre_save``/``post_save`` signals and without any
overridden ``save()``, as with ``bulk_create``: a model is written here only if
it is declared with ``written_by_hand``, and the system check
``marketplace.checks.hand_written_models`` refuses to start while one of them
has such a receiver or override.

What this relies on from Django, beyond the documented model API: a field's
``column``, ``attname``, ``db_type``, ``get_internal_type``, ``has_default``,
``has_db_default``, ``pre_save`` and ``get_db_prep_save`` (the methods the
ORM's own compiler calls), and ``_meta.local_concrete_fields``/``auto_field``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Model, Value, When

_HAND_WRITTEN: set[type[Model]] = set()

# Values of these kinds go to psycopg as Python holds them (str, int, Decimal, bool, an aware
# datetime), as the ORM's own preparation leaves them on PostgreSQL; any other kind of field
# (JSON, UUID, a custom one) is prepared by the field, value by value.
_AS_GIVEN = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateTimeField",
        "DecimalField",
        "ForeignKey",
        "IntegerField",
        "OneToOneField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
    }
)


def written_by_hand(*models: type[Model]) -> None:
    """Declare the models a module writes through this one (at import time, beside the code that
    does): ``insert_unnest`` and ``add_to_each`` refuse any other, and the system check covers
    these."""
    _HAND_WRITTEN.update(models)


def hand_written_models() -> frozenset[type[Model]]:
    return frozenset(_HAND_WRITTEN)


def _declared(model: type[Model]) -> None:
    if model not in _HAND_WRITTEN:
        raise TypeError(
            f"{model.__name__} is written by hand: declare it with marketplace.bulk.written_by_hand "
            "so that the system check can see that nothing expects its save() to run"
        )


@dataclass(frozen=True)
class _Plan:
    sql: str
    given: tuple[Any, ...]  # the fields the caller gives, in the statement's order
    filled: tuple[Any, ...]  # the fields filled as the ORM fills them, after those


@functools.cache
def _insertable(model: type[Model]) -> tuple[Any, ...]:
    """The fields an INSERT may name: every concrete one but the generated id and generated columns."""
    meta = model._meta
    return tuple(f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated)


@functools.cache
def _insert_plan(model: type[Model], names: frozenset[str], conflict: tuple[str, ...], returning: bool) -> _Plan:
    """The statement that inserts ``names`` (attribute names) and fills the rest, from ``_meta``."""
    meta = model._meta
    fields = _insertable(model)
    given = tuple(f for f in fields if f.attname in names)
    # A database default is the database's to fill, as the ORM leaves it (DEFAULT).
    filled = tuple(f for f in fields if f.attname not in names and not f.has_db_default())
    quote = connection.ops.quote_name
    columns = [*given, *filled]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) "  # noqa: S608 - _meta
        f"SELECT * FROM unnest({', '.join(f'%s::{f.db_type(connection)}[]' for f in columns)})"
    )
    if conflict:
        targets = ", ".join(quote(_field(model, name).column) for name in conflict)
        sql += f" ON CONFLICT ({targets}) DO NOTHING"
    if returning:
        sql += f" RETURNING {quote(meta.pk.column)}"
    return _Plan(sql=sql, given=given, filled=filled)


def insert_unnest(
    model: type[Model],
    values: Mapping[str, Sequence[Any]],
    *,
    skip_conflicts_on: Sequence[str] = (),
    returning: bool = True,
) -> list[Any]:
    """Insert one row per position of the ``values`` lists (one list per attribute name: a
    foreign key's ``..._id``, a money field's amount and ``..._currency`` apart) and return the
    new primary keys in order (none if not ``returning``). Values go as Python holds them for the
    common kinds (``_AS_GIVEN``: datetimes aware, as the ORM's are), through the field's own
    preparation otherwise. Every other column is filled as the ORM would fill it.
    ``skip_conflicts_on``: the fields of a unique constraint; a row that would break it is
    skipped and returns no key (``ON CONFLICT ... DO NOTHING``)."""
    _declared(model)
    unknown = set(values) - {f.attname for f in _insertable(model)}
    if unknown:
        raise ValueError(f"{model.__name__} has no column {', '.join(sorted(unknown))} to insert")
    lengths = {len(column) for column in values.values()}
    if len(lengths) > 1:
        raise ValueError(f"the columns of {model.__name__} have different lengths: {sorted(lengths)}")
    count = lengths.pop() if lengths else 0
    if count == 0:
        return []
    if connection.vendor != "postgresql":
        return _insert_by_orm(model, values, count, tuple(skip_conflicts_on), returning)
    plan = _insert_plan(model, frozenset(values), tuple(skip_conflicts_on), returning)
    params = [_prepared(field, values[field.attname]) for field in plan.given]
    template = model()  # the defaults, as a new instance gets them
    for field in plan.filled:
        if field.has_default() and callable(field.default):
            params.append([field.get_db_prep_save(field.get_default(), connection) for _ in range(count)])
        else:
            params.append([field.get_db_prep_save(field.pre_save(template, True), connection)] * count)
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, params)
        return [row[0] for row in cursor.fetchall()] if returning else []


def _prepared(field: Any, column: Sequence[Any]) -> list[Any]:
    if field.get_internal_type() in _AS_GIVEN:
        return list(column)
    return [field.get_db_prep_save(value, connection) for value in column]


def _insert_by_orm(
    model: type[Model], values: Mapping[str, Sequence[Any]], count: int, conflict: tuple[str, ...], returning: bool
) -> list[Any]:
    """``insert_unnest`` by the ORM: ``bulk_create``; with ``conflict``, row by row, each in a
    savepoint, skipping a row only when a row with its values of ``conflict`` is there already."""
    rows = [model(**{name: column[i] for name, column in values.items()}) for i in range(count)]
    if not conflict:
        made = model._default_manager.bulk_create(rows)
        return [row.pk for row in made] if returning else []
    keys = []
    for row in rows:
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except IntegrityError:
            taken = {name: getattr(row, _field(model, name).attname) for name in conflict}
            if not model._default_manager.filter(**taken).exists():
                raise
            continue
        keys.append(row.pk)
    return keys if returning else []


def add_to_each(model: type[Model], field_name: str, deltas: Mapping[Any, Any]) -> None:
    """``field += delta`` on each row of ``deltas`` (primary key to delta), in one statement."""
    _declared(model)
    deltas = {pk: delta for pk, delta in deltas.items() if delta != 0}
    if not deltas:
        return
    if connection.vendor != "postgresql":
        model._default_manager.filter(pk__in=deltas).update(
            **{field_name: F(field_name) + Case(*(When(pk=pk, then=Value(delta)) for pk, delta in deltas.items()))}
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(_add_sql(model, field_name), [list(deltas), list(deltas.values())])


@functools.cache
def _add_sql(model: type[Model], field_name: str) -> str:
    quote, field, pk = connection.ops.quote_name, _field(model, field_name), _field(model, "pk")
    column = quote(field.column)
    return (
        f"UPDATE {quote(model._meta.db_table)} AS t SET {column} = t.{column} + d.delta "  # noqa: S608 - from _meta
        f"FROM unnest(%s::{pk.rel_db_type(connection)}[], %s::{field.db_type(connection)}[]) AS d(pk, delta) "
        f"WHERE t.{quote(pk.column)} = d.pk"
    )


def _field(model: type[Model], name: str) -> Any:
    """A concrete field by name (``pk`` for the primary key)."""
    return model._meta.pk if name == "pk" else model._meta.get_field(name)
