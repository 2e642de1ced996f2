"""The order's parties on each activity, for the dashboards' version: nullable
columns (instant), filled by ``activity_record`` from now on; older rows stay
empty (a version only has to move when something new is logged)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _party():
    return models.ForeignKey(
        blank=True,
        db_constraint=False,
        db_index=False,
        null=True,
        on_delete=django.db.models.deletion.DO_NOTHING,
        related_name="+",
        to=settings.AUTH_USER_MODEL,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0007_support_group"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(model_name="activity", name="buyer", field=_party()),
        migrations.AddField(model_name="activity", name="seller", field=_party()),
    ]
