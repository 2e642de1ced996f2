"""A dispute's outcome is sealed by a MAC when it is resolved (``Dispute.resolve``),
and PostgreSQL freezes it from then on: no change to the outcome, the amounts,
who resolved it or when, and no DELETE of a dispute."""

from django.db import migrations, models

CREATE = """
CREATE OR REPLACE FUNCTION milestones_dispute_outcome_frozen() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a dispute cannot be deleted' USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.state = 'resolved' AND ROW(
        NEW.state, NEW.outcome, NEW.seller_amount, NEW.seller_amount_currency, NEW.buyer_amount,
        NEW.buyer_amount_currency, NEW.resolved_by_id, NEW.resolved_at, NEW.outcome_mac, NEW.milestone_id
    ) IS DISTINCT FROM ROW(
        OLD.state, OLD.outcome, OLD.seller_amount, OLD.seller_amount_currency, OLD.buyer_amount,
        OLD.buyer_amount_currency, OLD.resolved_by_id, OLD.resolved_at, OLD.outcome_mac, OLD.milestone_id
    ) THEN
        RAISE EXCEPTION 'a resolved dispute''s outcome is frozen' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER milestones_dispute_outcome_frozen
    BEFORE UPDATE OR DELETE ON milestones_dispute
    FOR EACH ROW EXECUTE FUNCTION milestones_dispute_outcome_frozen();
"""

DROP = """
DROP TRIGGER IF EXISTS milestones_dispute_outcome_frozen ON milestones_dispute;
DROP FUNCTION IF EXISTS milestones_dispute_outcome_frozen();
"""


def seal_resolved(apps, schema_editor):
    # Imported when this step runs, not when Django loads the migration graph, which must not need today's code.
    from djmoney.money import Money

    from marketplace.mac import content_mac

    Dispute = apps.get_model("milestones", "Dispute")
    for d in Dispute.objects.filter(state="resolved", outcome_mac="").iterator(chunk_size=2000):
        amounts = [
            None if amount is None else Money(amount, currency)
            for amount, currency in (
                (d.seller_amount.amount if d.seller_amount is not None else None, d.seller_amount_currency),
                (d.buyer_amount.amount if d.buyer_amount is not None else None, d.buyer_amount_currency),
            )
        ]
        parts = [d.milestone_id, d.outcome, *amounts, d.resolved_by_id, d.resolved_at]
        Dispute.objects.filter(pk=d.pk).update(outcome_mac=content_mac("dispute", parts))


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("milestones", "0009_portfolio_consent")]

    operations = [
        migrations.AddField(
            model_name="dispute",
            name="outcome_mac",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.RunPython(seal_resolved, migrations.RunPython.noop),
        migrations.RunPython(create, drop),
    ]
