"""A party's latest activity in one index probe (the dashboards' version),
built concurrently (``atomic = False``): activities go on being logged while
they build."""

from django.db import migrations, models

from marketplace.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("orders", "0008_activity_parties")]

    operations = [
        AddIndexConcurrently(
            model_name="activity",
            index=models.Index(
                condition=models.Q(("buyer__isnull", False)), fields=["buyer", "id"], name="activity_buyer_latest"
            ),
        ),
        AddIndexConcurrently(
            model_name="activity",
            index=models.Index(
                condition=models.Q(("seller__isnull", False)), fields=["seller", "id"], name="activity_seller_latest"
            ),
        ),
    ]
