"""Saving one gig from two requests at the same instant, on PostgreSQL: the unique constraint
decides, and both requests answer as if saved, with one row."""

from __future__ import annotations

import pytest

from gigs.models import SavedGig
from gigs.services import gig_save, gig_unsave
from tests.concurrency import run_together
from tests.factories import GigFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_saves_at_the_same_instant_leave_one_row_and_neither_fails():
    buyer, gig = UserFactory(), GigFactory()
    results = run_together(*[lambda: gig_save(gig=gig, user=buyer)] * 8)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(results) == [False] * 7 + [True]  # one of them made it, the others found it
    assert SavedGig.objects.filter(user=buyer, gig=gig).count() == 1


def test_two_unsaves_at_the_same_instant_remove_the_save_once():
    buyer, gig = UserFactory(), GigFactory()
    gig_save(gig=gig, user=buyer)
    results = run_together(*[lambda: gig_unsave(gig=gig, user=buyer)] * 4)
    assert sorted(results) == [False] * 3 + [True]
    assert not SavedGig.objects.exists()
