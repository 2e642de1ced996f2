"""The dashboards' indexes: one partial index per section (a party's milestones
in the section's states, in the section's order), read for the section's page
and for its count. Built concurrently (``atomic = False``): writes to the
milestones go on while they build."""

from django.db import migrations, models

from marketplace.migration_ops import AddIndexConcurrently


def _index(name, fields, states):
    return AddIndexConcurrently(
        model_name="milestone",
        index=models.Index(condition=models.Q(("state__in", states)), fields=fields, name=name),
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("milestones", "0012_milestone_parties_filled")]

    operations = [
        _index("ms_b_review", ["buyer", "auto_approve_at", "id"], ["in_review"]),
        _index("ms_b_work", ["buyer", "deadline", "id"], ["in_progress", "revision_requested", "accepted"]),
        _index("ms_b_accept", ["buyer", "created_at", "id"], ["awaiting_acceptance"]),
        _index("ms_b_dispute", ["buyer", "created_at", "id"], ["disputed"]),
        _index("ms_b_offer", ["buyer", "offer_expires_at", "id"], ["offered"]),
        _index("ms_b_unpaid", ["buyer", "created_at", "id"], ["awaiting_payment"]),
        _index("ms_s_accept", ["seller", "created_at", "id"], ["awaiting_acceptance"]),
        _index("ms_s_work", ["seller", "deadline", "id"], ["in_progress", "accepted"]),
        _index("ms_s_revision", ["seller", "deadline", "id"], ["revision_requested"]),
        _index("ms_s_review", ["seller", "auto_approve_at", "id"], ["in_review"]),
        _index("ms_s_dispute", ["seller", "created_at", "id"], ["disputed"]),
        _index("ms_s_offer", ["seller", "offer_expires_at", "id"], ["offered"]),
    ]
