"""When a user chose their time zone (``User.time_zone_chosen_at``): until then the profile
preselects the zone the browser reports. A user whose zone is not the default UTC got it from
the browser at sign-up or chose it on the profile: that counts as a choice, made when this runs
(one UPDATE), so the profile does not offer to move them. Those on UTC are offered their
browser's zone."""

from django.db import migrations, models
from django.db.models.functions import Now


def mark_chosen(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    User.objects.exclude(time_zone="UTC").update(time_zone_chosen_at=Now())


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_withdrawal_method_chosen_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="time_zone_chosen_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_chosen, migrations.RunPython.noop, elidable=True),
    ]
