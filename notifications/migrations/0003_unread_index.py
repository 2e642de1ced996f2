"""The unread notices' index, built without blocking writes to a big table (CREATE INDEX CONCURRENTLY
on PostgreSQL, outside a transaction: ``atomic = False``)."""

from django.conf import settings
from django.db import migrations, models

from marketplace.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("notifications", "0002_email_attempts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("read_at__isnull", True)), fields=["recipient", "event"], name="notification_unread"
            ),
        ),
    ]
