"""Seller levels and response figures on the pages (issue 36, items 2 and 3): gig cards, the gig
page and the profile show the level; the profile its response time and rate and the level's
history; the earnings page says how long an earning clears by level ("clears in 7 days: Top
rated"). Read off the seller's row: no page counts messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.levels import SellerLevel
from accounts.models import SellerLevelChange, User
from milestones.models import MilestoneState
from tests.factories import GigFactory, OrderFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db
L = SellerLevel


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def set_level(user: User, level: str, **fields) -> None:
    User.objects.filter(pk=user.pk).update(seller_level=level, **fields)


def test_cards_and_the_gig_page_show_the_sellers_level(client):
    top = GigFactory(title="Top gig")
    set_level(top.seller, L.TOP_RATED, response_seconds=2 * 3600)
    fresh = GigFactory(title="Fresh gig")
    html = page(client, reverse("home"))
    cards = html.split('<article class="card gig-card">')[1:]
    top_card = next(card for card in cards if "Top gig" in card)
    fresh_card = next(card for card in cards if "Fresh gig" in card)
    assert 'badge-level-top_rated">Top rated</span>' in top_card
    assert 'badge-level-new">New seller</span>' in fresh_card
    gig_page = page(client, reverse("gig_detail", args=[top.pk]))
    assert "<dt>Seller level</dt>" in gig_page and ">Top rated</span>" in gig_page
    assert "<dt>Average response time</dt><dd>about 2 hours</dd>" in gig_page
    assert "<dt>Average response time</dt><dd>—</dd>" in page(client, reverse("gig_detail", args=[fresh.pk]))


def test_the_profile_shows_level_response_time_and_rate_and_the_levels_history(client):
    seller = UserFactory(username="speedy")
    moment = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    set_level(seller, L.LEVEL_2, seller_level_since=moment, response_seconds=40 * 60, response_rate=96)
    SellerLevelChange.objects.create(
        user=seller, from_level=L.NEW, to_level=L.LEVEL_1, created_at=moment.replace(month=9)
    )
    SellerLevelChange.objects.create(user=seller, from_level=L.LEVEL_1, to_level=L.LEVEL_2, created_at=moment)
    html = page(client, reverse("profile_public", args=["speedy"]))
    assert "<dt>Seller level</dt>" in html and ">Level 2</span>" in html and "since 2 Nov 2026" in html
    assert "<dt>Average response time</dt><dd>within an hour</dd>" in html
    assert "<dt>Response rate</dt><dd>96%" in html
    assert 'id="activity-heading">Activity</h2>' in html
    assert html.index("2 Nov 2026: became") < html.index("2 Sep 2026: became")  # newest first
    assert "(was Level 1)" in html and "(was New seller)" in html


def test_a_new_seller_profile_says_so_and_shows_no_figures(client):
    UserFactory(username="newbie")
    html = page(client, reverse("profile_public", args=["newbie"]))
    assert ">New seller</span>" in html
    assert "<dt>Average response time</dt><dd>—</dd>" in html
    assert "No change of seller level yet." in html


def test_the_profile_costs_the_same_queries_with_a_long_history(client):
    seller = UserFactory(username="busy")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            page(client, reverse("profile_public", args=["busy"]))
        return len(queries)

    SellerLevelChange.objects.create(user=seller, from_level=L.NEW, to_level=L.LEVEL_1, created_at=datetime.now(UTC))
    few = count()
    SellerLevelChange.objects.bulk_create(
        SellerLevelChange(user=seller, from_level=L.LEVEL_1, to_level=L.NEW, created_at=datetime.now(UTC))
        for _ in range(50)
    )
    assert count() == few


def released_for(level: str):
    seller = UserFactory()
    set_level(seller, level)
    order = OrderFactory(seller=seller)
    milestone_in(MilestoneState.APPROVED, order=order, amount="100.00")
    return User.objects.get(pk=seller.pk)


def test_the_earnings_page_names_the_level_that_shortened_the_wait(client):
    top = released_for(L.TOP_RATED)
    client.force_login(top)
    html = page(client, reverse("earnings"))
    assert "clears in 7 days: Top rated" in html
    assert "under Bank transfer, 7 days: available" in html
    assert "Your seller level, Top rated, shortens the wait" in html
    level_1 = released_for(L.LEVEL_1)
    client.force_login(level_1)
    html = page(client, reverse("earnings"))
    assert "clears in 14 days: Level 1" in html
    assert "shortens the wait" not in html
