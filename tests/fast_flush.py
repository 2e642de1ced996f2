"""Emptying the database after a transactional test with DELETE, not TRUNCATE (installed by tests/conftest.py).

Django empties the database after each ``transaction=True`` test with ``flush``: one ``TRUNCATE``
of every table, which in PostgreSQL makes new files for each of some 80 tables and their
indexes, then the ``post_migrate`` signal, which fills the content types and permissions in
again. Half a second per test, for a hundred tests, most of which wrote a few rows to a few
tables.

Here the tables are emptied with ``DELETE`` in one transaction, with every trigger off
(``session_replication_role = replica``, as ``flush`` bypasses them with ``TRUNCATE``: the
ledger's guards refuse deleting its rows), and the content types and permissions that
migrating made are kept instead of made again. What the next test finds is what ``flush``
left: every table empty but those two. On any error (a role that may not turn triggers off,
a table a test dropped) Django's own flush runs instead; so does it for tests that ask for
``available_apps``, ``reset_sequences`` or ``serialized_rollback``.
"""

from __future__ import annotations

from django.db import DatabaseError, connections, transaction
from django.test import TransactionTestCase

# What post_migrate makes; Django's flush empties them and makes them again.
KEPT = frozenset({"django_content_type", "auth_permission"})

_original_fixture_teardown = TransactionTestCase._fixture_teardown
_tables: dict[str, list[str]] = {}


def _delete_everything(alias: str) -> None:
    connection = connections[alias]
    if alias not in _tables:
        names = connection.introspection.django_table_names(only_existing=True, include_views=False)
        _tables[alias] = sorted(set(names) - KEPT)
    quote = connection.ops.quote_name
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        # Table names from the introspection of the models, quoted.
        cursor.execute("; ".join(f"DELETE FROM {quote(table)}" for table in _tables[alias]))  # noqa: S608


def _fixture_teardown(self: TransactionTestCase) -> None:
    plain = self.available_apps is None and not self.reset_sequences and not self.serialized_rollback
    aliases = list(self._databases_names(include_mirrors=False))
    if plain and all(connections[alias].vendor == "postgresql" for alias in aliases):
        try:
            for alias in aliases:
                _delete_everything(alias)
            return
        except DatabaseError:
            _tables.clear()
    _original_fixture_teardown(self)


def install() -> None:
    TransactionTestCase._fixture_teardown = _fixture_teardown  # type: ignore[method-assign]
