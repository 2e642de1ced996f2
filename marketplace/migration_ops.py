"""Migration operations that keep big tables writable while they change.

``AddIndexConcurrently``: ``CREATE INDEX CONCURRENTLY`` on PostgreSQL, which
builds the index without blocking writes (Django's own operation, in a
migration with ``atomic = False``); a plain index on SQLite, the embedded
default, which has neither the syntax nor other writers to block.
``lint_migrations`` (run by ``make lint``) refuses a plain ``AddIndex`` on a
table that already exists.

``AddCheckNotValid``: a CHECK on a big table. On PostgreSQL it is added
``NOT VALID`` (a short lock: only new writes are checked) and then validated
with ``VALIDATE CONSTRAINT``, which scans the table under a lock that lets
reads and writes go on. Elsewhere Django's ``AddConstraint``.
"""

from __future__ import annotations

from django.contrib.postgres import operations as postgres
from django.db.migrations.operations import AddConstraint, AddIndex, RemoveIndex


class AddIndexConcurrently(postgres.AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class RemoveIndexConcurrently(postgres.RemoveIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            RemoveIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            RemoveIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class AddCheckNotValid(AddConstraint):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        # (django-stubs leave both attributes of AddConstraint out.)
        constraint = self.constraint  # type: ignore[attr-defined]
        model = to_state.apps.get_model(app_label, self.model_name)  # type: ignore[attr-defined]
        table = schema_editor.quote_name(model._meta.db_table)
        name = schema_editor.quote_name(constraint.name)
        check = constraint._get_check_sql(model, schema_editor)
        schema_editor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check}) NOT VALID")
        schema_editor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")
