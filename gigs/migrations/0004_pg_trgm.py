"""Enables pg_trgm on PostgreSQL, for the search's "Did you mean" and its
fallback for a query that matches nothing (``gigs.selectors.search_suggestion``
and ``gigs_matching_similar``). ``TrigramExtension`` does nothing on other
databases: the embedded SQLite suggests with difflib instead.

pg_trgm is a trusted extension (PostgreSQL 13 and later): the database's owner
may create it without being a superuser. No trigram index: the fallback runs
only after a search found nothing and compares ``word_similarity`` itself,
which an index does not serve (see ``gigs_matching_similar``).
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("gigs", "0003_gig_updated_at"),
    ]

    operations = [TrigramExtension()]
