"""The order page's rendered parts are kept per viewer and reused while the
order logs nothing new (``milestones.order_views._page_parts``).

What a user would notice if it went wrong: a change that does not show, a
party shown the other party's buttons, a form refused for its CSRF token, or
a background change that never shows.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from milestones.models import Milestone
from milestones.models import MilestoneState as S
from orders.services import order_message_send
from payments.services import earning_clear
from tests.factories import milestone_in

pytestmark = pytest.mark.django_db


def get(client: Client, order) -> str:
    response = client.get(reverse("order_detail", args=[order.pk]))
    assert response.status_code == 200
    return response.content.decode()


def logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def reads_milestones(queries) -> bool:
    return any('FROM "milestones_milestone"' in q["sql"] for q in queries.captured_queries)


def test_a_second_view_reuses_the_parts_and_a_logged_change_shows_at_once(buyer, seller, order):
    milestone_in(S.IN_REVIEW, order=order, title="Logo")
    client = logged_in(buyer)
    get(client, order)
    with CaptureQueriesContext(connection) as again:
        page = get(client, order)
    assert not reads_milestones(again), "the second view read the milestones again"
    assert "Logo" in page

    order_message_send(order=order, author=seller, body="The files are in the delivery.")
    assert "The files are in the delivery." in get(client, order)

    milestone = Milestone.objects.get(order=order, title="Logo")
    response = client.post(reverse("milestone_approve", args=[milestone.pk]), {})
    assert response.status_code == 302
    page = get(client, order)
    assert 'data-milestone-state="approved"' in page
    assert 'data-milestone-state="in_review"' not in page


def test_each_party_sees_their_own_page(buyer, seller, order):
    milestone_in(S.IN_REVIEW, order=order)
    buyer_page = get(logged_in(buyer), order)
    seller_page = get(logged_in(seller), order)
    assert ">Approve<" in buyer_page
    assert ">Approve<" not in seller_page
    assert "you are the seller" in seller_page
    assert "you are the buyer" in get(logged_in(buyer), order)


def test_a_reused_page_carries_the_browsers_own_csrf_token(buyer, order):
    milestone = milestone_in(S.APPROVED, order=order)
    get(logged_in(buyer, enforce_csrf_checks=True), order)  # one browser renders the parts

    other_browser = logged_in(buyer, enforce_csrf_checks=True)
    with CaptureQueriesContext(connection) as queries:
        page = get(other_browser, order)
    assert not reads_milestones(queries)
    form = re.search(rf'action="/milestones/{milestone.pk}/portfolio/".*?</form>', page, re.S)
    assert form, "no portfolio form on the page"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(0)).group(1)
    assert not token.startswith("csrf-")

    response = other_browser.post(
        reverse("milestone_portfolio", args=[milestone.pk]), {"allowed": "1", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    milestone.refresh_from_db()
    assert milestone.portfolio_allowed_at is not None


def test_a_background_change_shows_once_the_parts_expire(seller, order):
    """Clearing an earning logs nothing on the order: the page says so within PAGE_CACHE_SECONDS."""
    earning = milestone_in(S.APPROVED, order=order).earning
    client = logged_in(seller)
    assert "clears on" in get(client, order)
    earning_clear(earning_id=earning.pk, now=earning.clears_at + timedelta(minutes=1))
    later = timezone.now() + timedelta(seconds=settings.PAGE_CACHE_SECONDS)
    with time_machine.travel(later, tick=False):
        page = get(client, order)
    assert "clears on" not in page
    assert ">available<" in page


def test_with_the_cache_off_every_view_renders(seller, order, settings):
    settings.PAGE_CACHE_SECONDS = 0
    earning = milestone_in(S.APPROVED, order=order).earning
    client = logged_in(seller)
    assert "clears on" in get(client, order)
    earning_clear(earning_id=earning.pk, now=earning.clears_at + timedelta(minutes=1))
    assert ">available<" in get(client, order)


def test_opening_the_order_reads_its_message_notices_and_the_header_counts_without_them(buyer, seller, order):
    order_message_send(order=order, author=seller, body="Hello")
    client = logged_in(buyer)
    page = get(client, order)
    assert not re.search(r">Messages <span class=\"count\">", page), "the header still counts the message just read"
    # Nothing left unread: the next view makes no write.
    with CaptureQueriesContext(connection) as queries:
        get(client, order)
    assert not any(q["sql"].startswith("UPDATE") for q in queries.captured_queries)


def test_parts_too_large_to_keep_are_rendered_every_time(buyer, order, monkeypatch):
    """A process keeps at most MAX_ENTRIES parts of at most LARGEST_KEPT characters: its memory stays bounded."""
    from marketplace import pages

    milestone_in(S.IN_REVIEW, order=order)
    monkeypatch.setattr(pages, "LARGEST_KEPT", 1000)
    client = logged_in(buyer)
    get(client, order)
    with CaptureQueriesContext(connection) as again:
        get(client, order)
    assert reads_milestones(again)
