"""When a gig was last written, for the seller's dashboard version: a nullable
column (instant, no rewrite), set by every write from now on; older rows stay
empty until their next save (the version also counts the gigs)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("gigs", "0002_gig_category_pause_search")]

    operations = [
        migrations.AddField(
            model_name="gig",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, null=True),
        ),
    ]
