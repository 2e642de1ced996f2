"""Seller levels in real Chromium (issue 36): a seller made Top rated by the nightly sweep from a
seeded history has a release that clears in 7 days, where a Level 1 seller's clears in 14; each
sees it on the earnings page, and the profile and the gig card show the level."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.levels import SellerLevel
from accounts.models import User
from milestones.models import MilestoneState
from reviews.sweeps import sweep_seller_levels
from tests.browser.conftest import log_in
from tests.browser.test_lifecycle import click_in, milestone_box
from tests.factories import OrderFactory, UserFactory, milestone_in
from tests.services.test_seller_levels import seed_history

S = MilestoneState
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_top_rated_sellers_release_clears_in_7_days_a_level_1_sellers_in_14(new_page):
    now = timezone.now()
    top, level_1 = UserFactory(username="tara_top"), UserFactory(username="lev_one")
    seed_history(top, orders=100, earned="20000.00", rating="4.90", joined=now - timedelta(days=200))
    seed_history(level_1, orders=12, earned="500.00", rating="4.80", joined=now - timedelta(days=90))
    sweep_seller_levels(now=now)
    assert User.objects.get(pk=top.pk).seller_level == SellerLevel.TOP_RATED
    assert User.objects.get(pk=level_1.pk).seller_level == SellerLevel.LEVEL_1

    buyer = UserFactory(username="bea_buyer")
    buyer_page = new_page()
    log_in(buyer_page, buyer)
    for seller, title in ((top, "Top rated work"), (level_1, "Level 1 work")):
        order = OrderFactory(buyer=buyer, seller=seller, title=f"Order of {seller.username}")
        milestone = milestone_in(S.IN_REVIEW, order=order, title=title, amount="100.00")
        buyer_page.goto(order.get_absolute_url())
        click_in(buyer_page, milestone, "Approve")
        buyer_page.get_by_role("button", name="Confirm").click()
        expect(milestone_box(buyer_page, milestone)).to_have_attribute("data-milestone-state", S.APPROVED)

    top_page, level_1_page = new_page(), new_page()
    log_in(top_page, top)
    top_page.goto("/earnings/")
    top_row = top_page.get_by_role("row").filter(has_text="Top rated work").filter(has_text="Released on")
    expect(top_row).to_contain_text("clears in 7 days: Top rated")
    expect(top_row).to_contain_text("under Bank transfer, 7 days")
    expect(top_page.get_by_text("shortens the wait")).to_be_visible()

    log_in(level_1_page, level_1)
    level_1_page.goto("/earnings/")
    level_1_row = level_1_page.get_by_role("row").filter(has_text="Level 1 work").filter(has_text="Released on")
    expect(level_1_row).to_contain_text("clears in 14 days: Level 1")
    expect(level_1_row).to_contain_text("under Bank transfer, 14 days")

    # The level shows where buyers compare sellers, and the promotion is in the profile's activity.
    buyer_page.goto("/users/tara_top/")
    expect(buyer_page.get_by_role("region", name="Activity")).to_contain_text("became Top rated")
    buyer_page.goto("/")
    card = buyer_page.locator("article.gig-card").filter(has_text="tara_top").first
    expect(card).to_contain_text("Top rated")
