"""A tamper-evident ledger (docs/ARCHITECTURE.md): MACs on transactions and
money records, the seals, and PostgreSQL triggers that make transactions and
seals append-only and freeze the money and time fields of earnings,
withdrawals, payment commands and checkouts (their status moves forward only).
"""

import django.utils.timezone
from django.db import migrations, models

# The money records' sealed fields (``MAC_FIELDS`` of the models, as of this migration).
SEALED = {
    "earning": ("seller_id", "milestone_id", "tip_id", "gross", "fee", "net", "clears_at"),
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
MONEY = {"gross", "fee", "net", "amount"}


def seal_existing(apps, schema_editor):
    """MACs for the rows written before this migration (a new database has none)."""
    # Imported when this step runs, not when Django loads the migration graph, which must not need today's code.
    from djmoney.money import Money

    from marketplace.mac import content_mac
    from payments.integrity import TRANSACTION_HEAD, head_mac

    Transaction = apps.get_model("payments", "Transaction")
    Entry = apps.get_model("payments", "Entry")
    for txn in Transaction.objects.filter(mac="").values("id", *TRANSACTION_HEAD).iterator(chunk_size=2000):
        entries = Entry.objects.filter(transaction_id=txn["id"]).values_list("account_id", "amount", "amount_currency")
        mac = head_mac([txn[name] for name in TRANSACTION_HEAD], entries)
        # Rows from before the seals count as written at the start of time (xid 0).
        Transaction.objects.filter(pk=txn["id"]).update(mac=mac, xid=0)
    for name, fields in SEALED.items():
        model = apps.get_model("payments", name)
        columns = [f for f in fields if f not in MONEY] + [
            c for f in fields if f in MONEY for c in (f, f + "_currency")
        ]
        for row in model.objects.filter(mac="").values("id", *columns).iterator(chunk_size=2000):
            values = [Money(row[f], row[f + "_currency"]) if f in MONEY else row[f] for f in fields]
            model.objects.filter(pk=row["id"]).update(mac=content_mac(name, values))


def _frozen(table: str, what: str, frozen: list[str], moves: list[tuple[str, str]], once: list[str]) -> str:
    """A row trigger: no DELETE; the ``frozen`` columns never change; ``status``
    moves only along ``moves``; the ``once`` columns, once set, stay."""
    steps = " OR ".join(f"(OLD.status = '{a}' AND NEW.status = '{b}')" for a, b in moves) or "FALSE"
    set_once = "".join(
        f"""
    IF OLD.{c} IS NOT NULL AND NEW.{c} IS DISTINCT FROM OLD.{c} THEN
        RAISE EXCEPTION '{what}: {c} is set once' USING ERRCODE = 'restrict_violation';
    END IF;"""
        for c in once
    )
    old = ", ".join(f"OLD.{c}" for c in frozen)
    new = ", ".join(f"NEW.{c}" for c in frozen)
    return f"""
CREATE OR REPLACE FUNCTION {table}_frozen() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '{what} cannot be deleted' USING ERRCODE = 'restrict_violation';
    END IF;
    IF ROW({new}) IS DISTINCT FROM ROW({old}) THEN
        RAISE EXCEPTION '{what}: its money and time fields are frozen' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT ({steps}) THEN
        RAISE EXCEPTION '{what}: status cannot move from % to %', OLD.status, NEW.status
            USING ERRCODE = 'restrict_violation';
    END IF;{set_once}
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER {table}_frozen
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {table}_frozen();
"""


CREATE = (
    """
CREATE OR REPLACE FUNCTION payments_transaction_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- The database transaction writing the row: the seals cover ranges of it.
        NEW.xid := txid_current();
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ledger transactions are append-only: post a reversing transaction instead'
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER payments_transaction_append_only
    BEFORE INSERT OR UPDATE OR DELETE ON payments_transaction
    FOR EACH ROW EXECUTE FUNCTION payments_transaction_append_only();

CREATE OR REPLACE FUNCTION payments_ledgerseal_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger seals are append-only' USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER payments_ledgerseal_append_only
    BEFORE UPDATE OR DELETE ON payments_ledgerseal
    FOR EACH ROW EXECUTE FUNCTION payments_ledgerseal_append_only();
"""
    + _frozen(
        "payments_earning",
        "an earning",
        [
            "seller_id",
            "milestone_id",
            "tip_id",
            "gross",
            "gross_currency",
            "fee",
            "fee_currency",
            "net",
            "net_currency",
            "clears_at",
            "created_at",
            "mac",
        ],
        [("pending", "cleared")],
        ["cleared_at"],
    )
    + _frozen(
        "payments_withdrawal",
        "a withdrawal",
        ["seller_id", "amount", "amount_currency", "method", "destination", "idempotency_key", "created_at", "mac"],
        [("requested", "paid"), ("requested", "failed")],
        ["processed_at"],
    )
    + _frozen(
        "payments_providercommand",
        "a payment command",
        [
            "kind",
            "idempotency_key",
            "amount",
            "amount_currency",
            "user_id",
            "withdrawal_id",
            "checkout_id",
            "milestone_id",
            "method",
            "destination",
            "payment_reference",
            "created_at",
            "mac",
        ],
        [
            ("pending", "succeeded"),
            ("pending", "failed"),
            ("pending", "stuck"),
            ("stuck", "pending"),
            ("stuck", "succeeded"),
            ("stuck", "failed"),
        ],
        ["finished_at"],
    )
    + _frozen(
        "payments_checkout",
        "a checkout",
        ["buyer_id", "amount", "amount_currency", "idempotency_key", "provider", "purpose", "created_at"],
        [
            ("open", "paid"),
            ("open", "expired"),
            ("open", "cancelled"),
            ("open", "refunded"),
            ("expired", "refunded"),
            ("cancelled", "refunded"),
        ],
        ["paid_at"],
    )
)

TABLES = ["payments_earning", "payments_withdrawal", "payments_providercommand", "payments_checkout"]
DROP = """
DROP TRIGGER IF EXISTS payments_transaction_append_only ON payments_transaction;
DROP FUNCTION IF EXISTS payments_transaction_append_only();
DROP TRIGGER IF EXISTS payments_ledgerseal_append_only ON payments_ledgerseal;
DROP FUNCTION IF EXISTS payments_ledgerseal_append_only();
""" + "".join(f"DROP TRIGGER IF EXISTS {t}_frozen ON {t};\nDROP FUNCTION IF EXISTS {t}_frozen();\n" for t in TABLES)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0007_tips"),
    ]

    operations = [
        migrations.AddField(
            model_name="earning",
            name="mac",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="providercommand",
            name="mac",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="transaction",
            name="mac",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="transaction",
            name="xid",
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="withdrawal",
            name="mac",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="transaction",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
        migrations.CreateModel(
            name="LedgerSeal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("lower", models.BigIntegerField()),
                ("upper", models.BigIntegerField()),
                ("count", models.PositiveIntegerField()),
                ("totals", models.TextField(blank=True)),
                ("digest", models.CharField(max_length=64)),
                ("previous_mac", models.CharField(blank=True, max_length=64)),
                ("mac", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
            ],
            options={
                "ordering": ["id"],
                "constraints": [
                    models.UniqueConstraint(fields=("lower",), name="ledger_seal_lower_unique"),
                    models.CheckConstraint(
                        condition=models.Q(("upper__gt", models.F("lower"))), name="ledger_seal_range"
                    ),
                ],
            },
        ),
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
        migrations.RunPython(create, drop),
    ]
