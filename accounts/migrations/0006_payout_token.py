"""Payout details are never stored whole (accounts.payouts): a token from the payment provider
beside the account, and every account kept so far masked to its last four characters. A masked
account has no token: its owner types it again before the next withdrawal
(``payments.connect.payout_destination`` says so)."""

from django.db import migrations, models


def _masked(value: str) -> str:
    """A payout account as it may be kept: ``•••• 4242``. An e-mail (PayPal), a provider's id or
    token, and a value masked already stay as they are. Frozen here: the app's own
    (``accounts.payouts.payout_mask``) may change."""
    value = (value or "").strip()
    if not value or "@" in value or value.startswith(("•", "acct_", "pdt_")):
        return value
    return "•••• " + "".join(char for char in value if char.isalnum())[-4:]


def mask_payout_accounts(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    for pk, value in (
        User.objects.exclude(payout_account="").values_list("pk", "payout_account").iterator(chunk_size=2000)
    ):
        masked = _masked(value)
        if masked != value:
            User.objects.filter(pk=pk).update(payout_account=masked)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_security_events"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="payout_token",
            field=models.CharField(blank=True, db_default="", default="", max_length=255),
        ),
        migrations.AlterField(
            model_name="user",
            name="payout_account",
            field=models.CharField(
                blank=True,
                help_text="Where withdrawals go, as shown: the last four digits of a card or bank account, or a PayPal e-mail.",
                max_length=100,
            ),
        ),
        migrations.RunPython(mask_payout_accounts, migrations.RunPython.noop),
    ]
