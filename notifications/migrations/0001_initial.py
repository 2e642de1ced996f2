"""Notifications move from ``marketplace`` to ``notifications``: same table, same rows.

The table was created by ``marketplace.0001_initial``; this migration only
tells Django's state that the model now lives here (no SQL runs). It runs no SQL
at all, so a database from before the move may record it as applied without
running it (``marketplace/management/commands/migrate.py`` does).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("marketplace", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Notification",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("event", models.CharField(max_length=40)),
                        ("message", models.CharField(max_length=300)),
                        ("url", models.CharField(blank=True, max_length=300)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("read_at", models.DateTimeField(blank=True, null=True)),
                        ("emailed_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "recipient",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notifications",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "marketplace_notification",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [
                            models.Index(fields=["recipient", "read_at"], name="marketplace_recipie_898c6a_idx"),
                            models.Index(
                                condition=models.Q(("emailed_at__isnull", True)),
                                fields=["created_at"],
                                name="notification_unemailed",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
