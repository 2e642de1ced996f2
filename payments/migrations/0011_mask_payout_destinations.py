"""Payout destinations are never stored whole: every withdrawal's destination and every payout
command's kept so far is masked to its last four characters (from now on a withdrawal keeps
"•••• 4242" and its command the provider's token: ``payments.connect.payout_destination``).

Both are sealed by a MAC and frozen by a trigger (0008). The trigger is switched off for the
update, on PostgreSQL, and on every backend each row whose MAC held is sealed again over its
masked destination; a row whose MAC did not hold (changed behind the ledger's back) keeps its
wrong MAC, so ``ledger_audit`` still names it. ``ALTER TABLE`` holds the two tables' locks until
the migration commits: a few seconds on a site with many withdrawals, every one rewritten once.
"""

from django.db import migrations


def _masked(value: str) -> str:
    """A payout account as it may be kept: ``•••• 4242``. An e-mail (PayPal), a provider's id or
    token, and a value masked already stay as they are. Frozen here: the app's own
    (``accounts.payouts.payout_mask``) may change."""
    value = (value or "").strip()
    if not value or "@" in value or value.startswith(("•", "acct_", "pdt_")):
        return value
    return "•••• " + "".join(char for char in value if char.isalnum())[-4:]


# The sealed fields (``MAC_FIELDS``) as 0008 wrote them.
SEALED = {
    "withdrawal": ("seller_id", "amount", "method", "destination", "idempotency_key"),
    "providercommand": (
        "kind",
        "idempotency_key",
        "amount",
        "user_id",
        "withdrawal_id",
        "checkout_id",
        "milestone_id",
        "method",
        "destination",
        "payment_reference",
    ),
}


def mask_destinations(apps, schema_editor):
    from djmoney.money import Money

    from marketplace.mac import content_mac, macs_equal

    postgres = schema_editor.connection.vendor == "postgresql"
    for name, fields in SEALED.items():
        model = apps.get_model("payments", name)
        table = model._meta.db_table
        rows = model.objects.exclude(destination="")
        if name == "providercommand":
            rows = rows.filter(kind="payout")
        columns = ["id", "mac", "amount_currency", *fields]
        changed = []
        for row in rows.values(*columns).iterator(chunk_size=2000):
            masked = _masked(row["destination"])
            if masked == row["destination"]:
                continue

            def mac(destination, row=row, name=name, fields=fields):
                values = {**row, "destination": destination, "amount": Money(row["amount"], row["amount_currency"])}
                return content_mac(name, [values[field] for field in fields])

            sealed = bool(row["mac"]) and macs_equal(row["mac"], mac(row["destination"]))
            changed.append((row["id"], masked, mac(masked) if sealed else row["mac"]))
        if not changed:
            continue
        if postgres:
            schema_editor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_frozen")
        for pk, masked, new_mac in changed:
            model.objects.filter(pk=pk).update(destination=masked, mac=new_mac)
        if postgres:
            schema_editor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_frozen")


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0010_balance_to_card"),
    ]

    operations = [
        migrations.RunPython(mask_destinations, migrations.RunPython.noop),
    ]
