"""A dispute the parties settle between themselves (a cancellation by agreement) is withdrawn."""

import django_fsm
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    lock_reviewed = (
        "The CHECK only widens the allowed states, on the disputes table: one row per disputed "
        "milestone, a small fraction of the milestones; its scan under the lock is short."
    )

    dependencies = [
        ("milestones", "0014_proposal_refund_to"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="dispute",
            name="dispute_state_valid",
        ),
        migrations.AlterField(
            model_name="dispute",
            name="state",
            field=django_fsm.FSMField(
                choices=[
                    ("open", "Open"),
                    ("resolved", "Resolved"),
                    ("withdrawn", "Withdrawn: settled by the parties"),
                ],
                default="open",
                max_length=50,
                protected=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="dispute",
            constraint=models.CheckConstraint(
                condition=models.Q(("state__in", ["open", "resolved", "withdrawn"])), name="dispute_state_valid"
            ),
        ),
    ]
