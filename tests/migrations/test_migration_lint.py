"""The migration linter refuses what would lock a big table, and AddIndexConcurrently builds without the lock."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection, migrations, models
from django.db.migrations.loader import MigrationLoader

from marketplace.migration_lint import lint_migration
from marketplace.migration_ops import AddCheckNotValid, AddIndexConcurrently


def _migration(*operations, atomic: bool = True, **attrs) -> migrations.Migration:
    migration = migrations.Migration("0099_planted", "notifications")
    migration.operations = list(operations)
    migration.atomic = atomic
    for key, value in attrs.items():
        setattr(migration, key, value)
    return migration


def _problems(*operations, **kwargs) -> list[str]:
    state = MigrationLoader(None, ignore_no_migrations=True).project_state()
    return [p.why for p in lint_migration("notifications", _migration(*operations, **kwargs), state)]


INDEX = models.Index(fields=["event"], name="notification_event")


@pytest.mark.parametrize(
    ("operation", "why"),
    [
        (migrations.AddIndex("notification", INDEX), "AddIndexConcurrently"),
        (
            migrations.AddField("notification", "batch", models.CharField(max_length=20, default="", db_index=True)),
            "indexed column",
        ),
        (
            migrations.AddField("notification", "code", models.CharField(max_length=20, null=True, unique=True)),
            "unique",
        ),
        (migrations.AddField("notification", "tries", models.PositiveIntegerField(default=0)), "CHECK"),
        (
            migrations.AddConstraint(
                "notification", models.CheckConstraint(condition=models.Q(email_attempts__gte=0), name="tries_ok")
            ),
            "NOT VALID",
        ),
        (
            migrations.AddConstraint("notification", models.UniqueConstraint(fields=["url"], name="one_url")),
            "index",
        ),
        (migrations.AlterField("notification", "message", models.CharField(max_length=500)), "max_length"),
        (migrations.AlterField("notification", "event", models.TextField()), "type"),
        (migrations.RunSQL("CREATE INDEX x ON marketplace_notification (url)"), "CONCURRENTLY"),
        (migrations.RunSQL("ALTER TABLE marketplace_notification ADD CONSTRAINT c CHECK (id > 0)"), "NOT VALID"),
    ],
)
def test_what_would_lock_an_existing_table_is_refused_with_the_way_out(operation, why):
    problems = _problems(operation)
    assert len(problems) == 1 and why in problems[0]


@pytest.mark.parametrize(
    "operation",
    [
        migrations.AddField("notification", "note", models.CharField(max_length=20, blank=True, db_default="")),
        migrations.AddField("notification", "seen_at", models.DateTimeField(null=True)),
        migrations.AlterField(
            "notification", "message", models.CharField(max_length=300, help_text="What the recipient reads.")
        ),
        migrations.RunSQL("CREATE INDEX CONCURRENTLY x ON marketplace_notification (url)"),
        migrations.RunSQL("ALTER TABLE marketplace_notification ADD CONSTRAINT c CHECK (id > 0) NOT VALID"),
        AddCheckNotValid("notification", models.CheckConstraint(condition=models.Q(id__gt=0), name="c")),
    ],
)
def test_what_leaves_the_table_writable_passes(operation):
    assert _problems(operation) == []


def test_a_concurrent_index_needs_a_non_atomic_migration():
    operation = AddIndexConcurrently("notification", INDEX)
    assert _problems(operation, atomic=False) == []
    assert _problems(operation) == ["CREATE INDEX CONCURRENTLY needs atomic = False"]


def test_a_new_table_may_be_built_any_way_and_a_reviewed_migration_says_why():
    create = migrations.CreateModel(
        "Digest",
        [("id", models.BigAutoField(primary_key=True)), ("code", models.CharField(max_length=9, unique=True))],
    )
    assert _problems(create, migrations.AddIndex("digest", models.Index(fields=["code"], name="digest_code"))) == []
    reviewed = {"lock_reviewed": "the table is empty in every deployment (a new feature)"}
    assert _problems(migrations.AddIndex("notification", INDEX), **reviewed) == []


@pytest.mark.django_db
def test_a_check_added_not_valid_ends_validated_and_enforced():
    """``AddCheckNotValid`` (milestones 0016): on PostgreSQL added NOT VALID then validated, so the
    constraint is as trusted as one added in place, and a row breaking it is refused."""
    from django.db import IntegrityError, connection, transaction

    from tests.factories import milestone_in

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT convalidated FROM pg_constraint WHERE conname = 'milestone_revisions_included_range'"
            )
            assert cursor.fetchone() == (True,)
    milestone = milestone_in("in_progress")
    with pytest.raises(IntegrityError), transaction.atomic():
        type(milestone).objects.filter(pk=milestone.pk).update(revisions_included=21)


def test_the_projects_migrations_pass(capsys):
    call_command("lint_migrations")
    assert "nothing locks a table" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_add_index_concurrently_builds_outside_a_transaction_on_postgresql():
    from marketplace.models import Heartbeat

    loader = MigrationLoader(None, ignore_no_migrations=True)
    before = loader.project_state()
    index = models.Index(fields=["at"], name="heartbeat_at_probe")
    operation = AddIndexConcurrently("heartbeat", index)
    after = before.clone()
    operation.state_forwards("marketplace", after)
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record), connection.schema_editor(atomic=False) as editor:
        operation.database_forwards("marketplace", editor, before, after)
    try:
        assert any("CREATE INDEX CONCURRENTLY" in sql for sql in statements), statements
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'heartbeat_at_probe'")
            assert cursor.fetchone()
    finally:
        with connection.schema_editor(atomic=False) as editor:
            operation.database_backwards("marketplace", editor, after, before)
    assert Heartbeat.objects.count() == 0
