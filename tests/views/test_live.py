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

from milestones.models import MilestoneState
from milestones.services.lifecycle import milestone_submit
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
    assert f'data-hx-get="{url}"' in page

    client.get(url, HTTP_IF_NONE_MATCH=etag)  # the session's time zone is read once, then kept
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304 and response["ETag"] == etag
    assert len(queries) <= 2, [q["sql"] for q in queries]

    # The seller submits: the buyer's next poll gets the page, with the milestone in review.
    milestone_submit(milestone=milestone, actor=order.seller, message="Done.", links=["https://example.com/work"])
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


def test_a_conversation_and_the_inbox_poll_cheaply_and_answer_when_a_message_arrives(client):
    from inbox.services import inquiry_message_send, inquiry_start
    from tests.factories import GigFactory

    gig = GigFactory()
    buyer = UserFactory(username="asker")
    inquiry = inquiry_start(gig=gig, buyer=buyer, body="Hello, a question first.").inquiry
    client.force_login(gig.seller)
    for page_url, live_url in (
        (inquiry.get_absolute_url(), reverse("inquiry_live", args=[inquiry.pk])),
        (reverse("inbox"), reverse("inbox_live")),
    ):
        etag = etag_of(client.get(page_url).content.decode())
        with CaptureQueriesContext(connection) as queries:
            assert client.get(live_url, HTTP_IF_NONE_MATCH=etag).status_code == 304
        assert len(queries) <= 2, [q["sql"] for q in queries]
    inbox_etag = etag_of(client.get(reverse("inbox")).content.decode())
    thread_etag = etag_of(client.get(inquiry.get_absolute_url()).content.decode())
    inquiry_message_send(inquiry=inquiry, author=buyer, body="Is next week possible?")
    inbox = client.get(reverse("inbox_live"), HTTP_IF_NONE_MATCH=inbox_etag)
    assert inbox.status_code == 200 and "Is next week possible?" in inbox.content.decode()
    thread = client.get(reverse("inquiry_live", args=[inquiry.pk]), HTTP_IF_NONE_MATCH=thread_etag)
    assert thread.status_code == 200 and "Is next week possible?" in thread.content.decode()
    assert Client().get(reverse("inbox_live")).status_code == 403
    outsider = Client()
    outsider.force_login(UserFactory(username="eve"))
    assert outsider.get(reverse("inquiry_live", args=[inquiry.pk])).status_code == 404
