"""The operations sandbox 0001 copied from the first layout are marked as history.

The first layout's sandbox recorded charges, refunds and payouts with nothing
on the marketplace's side to match (no checkouts, no provider commands yet), so
``payments_reconcile`` listed every one as "not in our records" for 90 days
after an upgrade. Marked ``imported``, they are skipped, counted apart, and a
mismatch made after the upgrade is still found.

Which rows were copied: those dated no later than the moment sandbox 0001 was
recorded as applied. The copy keeps each operation's own date, all earlier than
that moment, and every operation the sandbox made since is dated after it. On a
fresh database nothing was copied and nothing is marked. One ``UPDATE``.
"""

from django.db import migrations, models
from django.db.migrations.recorder import MigrationRecorder


def mark_imported(apps, schema_editor):
    SandboxOperation = apps.get_model("sandbox", "SandboxOperation")
    applied = (
        MigrationRecorder(schema_editor.connection)
        .migration_qs.filter(app="sandbox", name="0001_initial")
        .values_list("applied", flat=True)
        .first()
    )
    if applied is None:
        return
    SandboxOperation.objects.using(schema_editor.connection.alias).filter(created_at__lte=applied).update(imported=True)


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0004_webhook_due_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="sandboxoperation",
            name="imported",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.RunPython(mark_imported, migrations.RunPython.noop),
    ]
