"""The earnings page's pending list, read straight off an index (CREATE INDEX CONCURRENTLY on
PostgreSQL, outside a transaction: ``atomic = False``)."""

from django.db import migrations, models

from marketplace.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("payments", "0008_tamper_evidence")]

    operations = [
        AddIndexConcurrently(
            model_name="earning",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["seller", "net_currency", "clears_at", "id"],
                name="earning_seller_pending",
            ),
        ),
    ]
