"""Gigs get a category (existing gigs: "other"), a pause by their seller, and,
on PostgreSQL, a GIN index for full-text search.

The index is built on the same expression as ``gigs.models.search_document()``
(title weighted A, description weighted B, English stemming), so that a search
filtering on it can use the index. It is created here only, not declared on
the model: SQLite (the embedded demo) has no full-text functions and rebuilds
a table with every declared index; there search falls back to plain matching.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations, models

SEARCH_INDEX = "gig_search_idx"


def search_index() -> GinIndex:
    document = SearchVector("title", config="english", weight="A") + SearchVector(
        "description", config="english", weight="B"
    )
    return GinIndex(document, name=SEARCH_INDEX)


def create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("gigs", "Gig"), search_index())


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {SEARCH_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("gigs", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="gig",
            name="category",
            field=models.CharField(default="other", max_length=20),
        ),
        migrations.AddField(
            model_name="gig",
            name="paused_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="gig",
            index=models.Index(fields=["category", "is_active"], name="gig_category_idx"),
        ),
        migrations.AddConstraint(
            model_name="gig",
            constraint=models.CheckConstraint(
                condition=models.Q(("paused_at__isnull", True), ("is_active", False), _connector="OR"),
                name="gig_paused_unlisted",
            ),
        ),
        migrations.RunPython(create_search_index, drop_search_index),
    ]
