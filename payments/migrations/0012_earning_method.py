"""The withdrawal method an earning was released under (``Earning.method``), which fixed its
``clears_at``. Earlier earnings did not keep it: each gets the method whose clearance period, as
configured when this runs, is within a minute of its own (``clears_at - created_at``), in one
UPDATE per method; one that matches none (a period changed since) stays empty, and the page shows
its period without a name. ``method`` is not a sealed field, so the frozen-fields trigger (0008)
lets the UPDATE through and the MACs still hold."""

from datetime import timedelta

from django.conf import settings
from django.db import migrations, models
from django.db.models import F

SLACK = timedelta(minutes=1)


def fill_method(apps, schema_editor):
    Earning = apps.get_model("payments", "Earning")
    for method, period in sorted(settings.CLEARANCE_PERIODS.items(), key=lambda item: item[1]):
        Earning.objects.filter(
            method="",
            clears_at__gte=F("created_at") + (period - SLACK),
            clears_at__lte=F("created_at") + (period + SLACK),
        ).update(method=method)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0011_mask_payout_destinations"),
    ]

    operations = [
        migrations.AddField(
            model_name="earning",
            name="method",
            field=models.CharField(
                blank=True,
                choices=[("instant", "Instant (debit card)"), ("paypal", "PayPal"), ("bank_transfer", "Bank transfer")],
                db_default="",
                default="",
                max_length=20,
                verbose_name="Released under",
            ),
        ),
        migrations.RunPython(fill_method, migrations.RunPython.noop, elidable=True),
    ]
