"""The seller's rating aggregates: average and number of published reviews."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_refund_to"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="rating_avg",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=3, null=True),
        ),
        migrations.AddField(
            model_name="user",
            name="rating_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("rating_avg__isnull", True), ("rating_count", 0)),
                    models.Q(
                        ("rating_avg__gte", 1),
                        ("rating_avg__isnull", False),
                        ("rating_avg__lte", 5),
                        ("rating_count__gt", 0),
                    ),
                    _connector="OR",
                ),
                name="user_rating_consistent",
            ),
        ),
    ]
