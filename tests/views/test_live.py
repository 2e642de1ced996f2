"""The live order page: its poll answers 304 from an ETag on the order's
latest change when nothing is new, in at most two queries; a message or a
state change answers the page with a new ETag; only the parties and staff
get an answer."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from milestones import services
from milestones.models import MilestoneState
from orders.services import order_message_send
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db
S = MilestoneState


def etag_of(page: str) -> str:
    found = re.search(r'data-live-etag="([^"]+)"', page)
    assert found is not None
    return found.group(1).replace("&quot;", '"')


def test_nothing_new_is_a_304_in_two_queries_and_a_change_is_the_page_with_a_new_etag(client):
    order = OrderFactory()
    milestone = milestone_in(S.IN_PROGRESS, order)
    client.force_login(order.buyer)
    page = client.get(order.get_absolute_url()).content.decode()
    etag = etag_of(page)
    url = reverse("order_live", args=[order.pk])
    assert f'data-live-url="{url}"' in page

    client.get(url, HTTP_IF_NONE_MATCH=etag)  # the session's time zone is read once, then kept
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304 and response["ETag"] == etag
    assert len(queries) <= 2, [q["sql"] for q in queries]

    # The seller submits: the buyer's next poll gets the page, with the milestone in review.
    services.milestone_submit(
        milestone=milestone, actor=order.seller, message="Done.", links=["https://example.com/work"]
    )
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert 'data-milestone-state="in_review"' in changed.content.decode()
    # A message changes it again.
    order_message_send(order=order, author=order.seller, body="Have a look!")
    again = client.get(url, HTTP_IF_NONE_MATCH=changed["ETag"])
    assert again.status_code == 200 and "Have a look!" in again.content.decode()
    assert client.get(url, HTTP_IF_NONE_MATCH=again["ETag"]).status_code == 304


def test_only_the_parties_and_staff_are_answered_and_a_changed_password_ends_the_session(client):
    order = OrderFactory()
    url = reverse("order_live", args=[order.pk])
    assert Client().get(url).status_code == 403
    client.force_login(UserFactory(username="eve"))
    assert client.get(url).status_code == 404
    seller = Client()
    seller.force_login(order.seller)
    assert seller.get(url).status_code == 200
    order.seller.set_password("A-new-secret-pass-9")
    order.seller.save()
    assert seller.get(url).status_code == 403, "an old session is refused, as Django refuses it"
