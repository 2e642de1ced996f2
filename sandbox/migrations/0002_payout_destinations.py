"""The sandbox keeps payout accounts as tokens (``SandboxPayoutDestination``), and the
destinations of the payouts it made so far masked to their last four characters."""

from django.db import migrations, models


def _masked(value: str) -> str:
    """A payout account as it may be kept: ``•••• 4242``. An e-mail (PayPal), a provider's id or
    token, and a value masked already stay as they are. Frozen here: the app's own
    (``accounts.payouts.payout_mask``) may change."""
    value = (value or "").strip()
    if not value or "@" in value or value.startswith(("•", "acct_", "pdt_")):
        return value
    return "•••• " + "".join(char for char in value if char.isalnum())[-4:]


def mask_payout_targets(apps, schema_editor):
    SandboxOperation = apps.get_model("sandbox", "SandboxOperation")
    for pk, target in (
        SandboxOperation.objects.filter(kind="payout").values_list("pk", "target").iterator(chunk_size=2000)
    ):
        masked = _masked(target)
        if masked != target:
            SandboxOperation.objects.filter(pk=pk).update(target=masked)


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SandboxPayoutDestination",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("token", models.CharField(max_length=64, unique=True)),
                ("method", models.CharField(max_length=20)),
                ("last4", models.CharField(max_length=4)),
                ("fails", models.BooleanField(default=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.RunPython(mask_payout_targets, migrations.RunPython.noop),
    ]
