"""Many rows in one statement on PostgreSQL: ``INSERT ... SELECT * FROM unnest(...)``.

The statement Django's ``bulk_create`` sends, without its preparation of every
field of every row in Python, which cost more than the database's work where
a thousand rows go in at once (a clearance batch's ledger transactions, entries
and notices). The callers keep ``bulk_create`` for SQLite, the embedded default.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection


def insert_unnest(
    table: str,
    columns: Sequence[tuple[str, str]],
    values: Sequence[list],
    *,
    suffix: str = "",
    returning: bool = True,
) -> list[int]:
    """Insert one row per position of the ``values`` lists (one list per column, ``columns`` naming
    each with its PostgreSQL type) and return the new ids in order (none if not ``returning``).
    ``suffix`` follows the ``SELECT`` (an ``ON CONFLICT`` clause: rows it skips return no id)."""
    names = ", ".join(name for name, _ in columns)
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in columns)
    sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}){suffix}"  # noqa: S608 - ours
    with connection.cursor() as cursor:
        if not returning:
            cursor.execute(sql, list(values))
            return []
        cursor.execute(sql + " RETURNING id", list(values))
        return [row[0] for row in cursor.fetchall()]
