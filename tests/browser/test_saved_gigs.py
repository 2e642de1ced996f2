"""Saved gigs in Chromium: a buyer saves a gig from its card, finds it under "Saved" in the header,
and removes it there by pressing "Saved"."""

from __future__ import annotations

import re

import pytest

from gigs.models import SavedGig
from tests.browser.conftest import log_in
from tests.factories import GigFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_buyer_saves_a_gig_from_its_card_sees_it_under_saved_and_removes_it(page):
    buyer = UserFactory(username="sage_buyer")
    gig = GigFactory(title="I will write your landing page")
    GigFactory(title="I will edit your podcast")
    log_in(page, buyer)
    page.goto("/")

    card = page.get_by_role("article").filter(has_text="I will write your landing page")
    card.get_by_role("button", name="Save “I will write your landing page”", exact=True).click()
    page.get_by_text("Saved “I will write your landing page”: find it under Saved.").wait_for()
    assert page.url == page.url.split("/gigs/")[0].rstrip("/") + "/"  # back on the list, not the gig
    card.get_by_role(
        "button", name="Saved “I will write your landing page”, press to remove it from your saved gigs", exact=True
    ).wait_for()
    assert SavedGig.objects.filter(user=buyer, gig=gig).count() == 1

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Saved", exact=True).click()
    page.wait_for_url("**/saved/")
    page.get_by_role("heading", level=1, name="Saved").wait_for()
    titles = page.locator("main h2.card-title").all_inner_texts()
    assert titles == ["I will write your landing page"]

    page.get_by_role("button", name=re.compile("^Saved “I will write your landing page”")).click()
    page.get_by_text("Removed “I will write your landing page” from your saved gigs.").wait_for()
    page.get_by_text("Nothing saved yet.").wait_for()
    assert "/saved/" in page.url
    assert not SavedGig.objects.filter(user=buyer).exists()
