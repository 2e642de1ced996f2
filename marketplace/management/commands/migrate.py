"""``migrate``, plus the one step a database from before the app layout needs.

Users, gigs and notices were created by ``marketplace.0001_initial`` and now
belong to ``accounts``, ``gigs`` and ``notifications``. Their first migrations
only declare the models in Django's state over the existing tables; they run
no SQL. Django's own ``admin.0001_initial`` depends on the user model's first
migration, so on a database migrated before the move Django would refuse to
start ("admin.0001_initial is applied before its dependency
accounts.0001_initial"). On such a database (``marketplace.0001`` applied,
``accounts.0001`` not) this command records those three state-only
migrations as applied first, which is exactly what running them would do,
then migrates as usual. On any other database it is plain ``migrate``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.recorder import MigrationRecorder

# Migrations that only move models in Django's state, over tables that
# ``marketplace.0001_initial`` created. In dependency order.
STATE_ONLY_MOVES = [
    ("accounts", "0001_initial"),
    ("gigs", "0001_initial"),
    ("notifications", "0001_initial"),
]


def record_layout_moves(database: str = DEFAULT_DB_ALIAS) -> list[tuple[str, str]]:
    """Mark the state-only moves applied on a database from before the layout; returns what it marked."""
    recorder = MigrationRecorder(connections[database])
    if not recorder.has_table():
        return []
    applied = recorder.applied_migrations()
    if ("marketplace", "0001_initial") not in applied:
        return []
    marked = [key for key in STATE_ONLY_MOVES if key not in applied]
    for app_label, name in marked:
        recorder.record_applied(app_label, name)
    return marked


class Command(MigrateCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        postgres = connection.vendor == "postgresql"
        if postgres:
            # A backfill over a big table is slow by nature; the lock limit stays, so a migration
            # that cannot get its lock fails fast instead of queueing every request behind it.
            with connection.cursor() as cursor:
                cursor.execute("SET statement_timeout = 0")
        try:
            for app_label, name in record_layout_moves(options["database"]):
                if options["verbosity"] >= 1:
                    self.stdout.write(f"  Recorded {app_label}.{name} (moves a model over its existing table; no SQL)")
            super().handle(*args, **options)
        finally:
            if postgres and connection.connection is not None:
                with connection.cursor() as cursor:
                    cursor.execute("RESET statement_timeout")  # back to the connection's configured limit
