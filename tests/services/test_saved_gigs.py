"""Saving gigs: "Save" twice keeps one row, "Saved" twice removes it once, and who may save what."""

from __future__ import annotations

import pytest
from django.utils import timezone

from gigs.models import SavedGig
from gigs.services import gig_save, gig_unsave
from marketplace.errors import InvalidTransition, NotAllowed
from tests.factories import GigFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_saving_twice_keeps_one_save_and_says_the_second_changed_nothing(buyer):
    gig = GigFactory()
    assert gig_save(gig=gig, user=buyer) is True
    assert gig_save(gig=gig, user=buyer) is False
    assert SavedGig.objects.filter(user=buyer, gig=gig).count() == 1


def test_unsaving_twice_removes_the_save_once(buyer):
    gig = GigFactory()
    gig_save(gig=gig, user=buyer)
    assert gig_unsave(gig=gig, user=buyer) is True
    assert gig_unsave(gig=gig, user=buyer) is False
    assert not SavedGig.objects.exists()


def test_a_save_is_per_person(buyer, outsider):
    gig = GigFactory()
    gig_save(gig=gig, user=buyer)
    gig_save(gig=gig, user=outsider)
    gig_unsave(gig=gig, user=outsider)
    assert list(SavedGig.objects.values_list("user", flat=True)) == [buyer.pk]


def test_a_paused_gig_can_be_saved_but_a_retired_one_cannot(buyer):
    paused = GigFactory(is_active=False, paused_at=timezone.now())
    assert gig_save(gig=paused, user=buyer) is True
    retired = GigFactory(is_active=False)
    with pytest.raises(InvalidTransition, match="no longer available"):
        gig_save(gig=retired, user=buyer)
    assert not SavedGig.objects.filter(gig=retired).exists()


def test_a_retired_gig_can_still_be_removed_from_the_saved_list(buyer):
    gig = GigFactory()
    gig_save(gig=gig, user=buyer)
    gig.is_active = False
    gig.save(update_fields=["is_active", "updated_at"])
    assert gig_unsave(gig=gig, user=buyer) is True


def test_a_seller_cannot_save_their_own_gig(seller):
    gig = GigFactory(seller=seller)
    with pytest.raises(NotAllowed):
        gig_save(gig=gig, user=seller)
    assert not SavedGig.objects.exists()


def test_a_closed_account_cannot_save():
    closed = UserFactory(is_active=False)
    with pytest.raises(NotAllowed):
        gig_save(gig=GigFactory(), user=closed)
