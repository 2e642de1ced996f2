"""Planting data in SQL the way a hand edit with the owner role would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def triggers_off() -> Iterator:
    """A cursor with every trigger off (``session_replication_role = replica``,
    which only a superuser may set): the edits the triggers would refuse go in,
    as they would for someone who owns the tables. Switched back on after."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            yield cursor
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")
