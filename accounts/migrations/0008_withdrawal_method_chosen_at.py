"""When a user chose how they are paid (``User.withdrawal_method_chosen_at``): until then the
earnings page asks before the first withdrawal. A user who has given a payout account has saved
the profile, which shows every method with its clearance period: that counts as a choice, made
when this runs (one UPDATE). The others are asked."""

from django.db import migrations, models
from django.db.models.functions import Now


def mark_chosen(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    User.objects.exclude(payout_account="").update(withdrawal_method_chosen_at=Now())


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_email_addresses_for_earlier_users"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="withdrawal_method_chosen_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_chosen, migrations.RunPython.noop, elidable=True),
    ]
