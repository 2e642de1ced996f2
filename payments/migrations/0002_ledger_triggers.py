"""PostgreSQL itself guards the ledger.

* A deferred constraint trigger refuses, at COMMIT, any transaction whose
  entries do not sum to zero per currency.
* A row trigger refuses any UPDATE or DELETE of an entry: corrections are new,
  reversing transactions.

TRUNCATE (used by the test runner's flush) is deliberately not blocked. On
SQLite (the embedded demo) these are skipped; ``ledger_post`` checks the
balance in Python on every backend, and ``ledger_audit`` checks it afterwards.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION payments_entry_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are immutable: post a reversing transaction instead'
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER payments_entry_immutable
    BEFORE UPDATE OR DELETE ON payments_entry
    FOR EACH ROW EXECUTE FUNCTION payments_entry_immutable();

CREATE OR REPLACE FUNCTION payments_transaction_balanced() RETURNS trigger AS $$
DECLARE
    unbalanced RECORD;
BEGIN
    SELECT amount_currency, SUM(amount) AS total INTO unbalanced
      FROM payments_entry
     WHERE transaction_id = NEW.transaction_id
     GROUP BY amount_currency
    HAVING SUM(amount) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced: % entries sum to %',
            NEW.transaction_id, unbalanced.amount_currency, unbalanced.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER payments_entry_balanced
    AFTER INSERT ON payments_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION payments_transaction_balanced();
"""

DROP = """
DROP TRIGGER IF EXISTS payments_entry_balanced ON payments_entry;
DROP FUNCTION IF EXISTS payments_transaction_balanced();
DROP TRIGGER IF EXISTS payments_entry_immutable ON payments_entry;
DROP FUNCTION IF EXISTS payments_entry_immutable();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
