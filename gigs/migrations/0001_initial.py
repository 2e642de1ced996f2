"""Gigs move from ``marketplace`` to ``gigs``: same table, same rows.

The table was created by ``marketplace.0001_initial``; this migration only
tells Django's state that the model now lives here (no SQL runs). It runs no SQL
at all, so a database from before the move may record it as applied without
running it (``marketplace/management/commands/migrate.py`` does).
"""

import django.db.models.deletion
import djmoney.models.fields
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
                    name="Gig",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("title", models.CharField(max_length=120)),
                        ("description", models.TextField(max_length=5000)),
                        (
                            "starting_price_currency",
                            djmoney.models.fields.CurrencyField(
                                choices=[("GBP", "British Pound"), ("EUR", "Euro"), ("USD", "US Dollar")],
                                default="USD",
                                editable=False,
                                max_length=3,
                            ),
                        ),
                        ("starting_price", djmoney.models.fields.MoneyField(decimal_places=2, max_digits=12)),
                        ("delivery_days", models.PositiveSmallIntegerField()),
                        ("is_active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "seller",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="gigs",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "marketplace_gig",
                        "ordering": ["-created_at"],
                        "indexes": [
                            models.Index(fields=["is_active", "-created_at"], name="marketplace_is_acti_f02233_idx")
                        ],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(("delivery_days__gte", 1)), name="gig_delivery_days_positive"
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("starting_price__gt", 0)), name="gig_price_positive"
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
