"""The buyer's side of reputation: the sellers' reviews of a buyer with their average, and the
buyer's completed orders, on the public profile and in the include sellers are shown."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from milestones.models import MilestoneState as S
from milestones.services.completion import order_complete
from reviews.selectors import buyer_reputation
from reviews.services import review_submit
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db


def _completed(buyer, seller, *, seller_rating: int | None):
    order = OrderFactory(buyer=buyer, seller=seller)
    milestone_in(S.APPROVED, order)
    order_complete(order=order, actor=buyer)
    if seller_rating is not None:
        # Both review, so both are published at once.
        review_submit(order=order, actor=buyer, text="Good work.", communication=5, service=5, recommend=5)
        review_submit(order=order, actor=seller, text=f"Rated {seller_rating}.", rating=seller_rating)
    return order


@pytest.fixture
def quinn():
    """A buyer with three completed orders, two reviewed by their sellers (5 and 4), one order
    still open, and an order of their own as a seller that must not count."""
    quinn = UserFactory(username="quinn")
    _completed(quinn, UserFactory(), seller_rating=5)
    _completed(quinn, UserFactory(), seller_rating=4)
    _completed(quinn, UserFactory(), seller_rating=None)
    milestone_in(S.IN_PROGRESS, OrderFactory(buyer=quinn))
    _completed(UserFactory(), quinn, seller_rating=1)  # quinn as the seller: not theirs as a buyer
    return quinn


def test_the_selector_counts_completed_orders_and_averages_sellers_reviews(quinn):
    with CaptureQueriesContext(connection) as queries:
        reputation = buyer_reputation(quinn)
    assert len(queries) == 2
    assert reputation.completed_orders == 3
    assert (reputation.rating.avg, reputation.rating.count) == (Decimal("4.50"), 2)


def test_the_profile_shows_the_buyer_reputation(client, quinn):
    html = client.get(reverse("profile_public", args=["quinn"])).content.decode()
    block = re.search(r'<dl class="facts buyer-reputation">(.*?)</dl>', html, re.S)
    assert block
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block.group(1))).strip()
    assert words == "Rating as a buyer ★ 4.5 (2 reviews) Completed orders as a buyer 3"
    assert "3 completed orders as a buyer" in html
    assert "Rated 5." in html and "Rated 4." in html


def test_the_include_renders_for_a_buyer_with_no_history():
    newcomer = UserFactory()
    html = render_to_string("partials/buyer_reputation.html", {"reputation": buyer_reputation(newcomer)})
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()
    assert words.endswith("Rating as a buyer No reviews yet Completed orders as a buyer 0")
