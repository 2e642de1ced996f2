"""The sweep's index of unanswered webhooks, built without blocking the sandbox's writes
(CREATE INDEX CONCURRENTLY on PostgreSQL, outside a transaction: ``atomic = False``)."""

from django.db import migrations, models

from marketplace.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("sandbox", "0003_webhook_next_attempt")]

    operations = [
        AddIndexConcurrently(
            model_name="sandboxevent",
            index=models.Index(
                condition=models.Q(("delivered_at__isnull", True)), fields=["next_attempt_at"], name="sandbox_event_due"
            ),
        ),
    ]
