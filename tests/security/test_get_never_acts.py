"""Sensitive actions never happen on GET (nor HEAD, PUT, PATCH, DELETE, OPTIONS): a link, a prefetch, an <img src> or a
crawler cannot approve, pay, decline or withdraw.

Each action URL is fetched with GET by the very user who could perform it,
with the object in the state where the action is available, with the form's
fields in the query string too. The answer is 405 or a page with a POST form
(or a redirect back), and nothing at all changes.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from milestones.services.lifecycle import milestone_accept
from tests.factories import OrderFactory, create_milestone
from tests.security.test_bad_input import MILESTONE_OK

pytestmark = pytest.mark.django_db

QUERY = {
    "reason": "x",
    "feedback": "x",
    "body": "x",
    "message": "x",
    "links": "https://example.com",
    "amount": "1.00",
    "currency": "USD",
    "key": "k",
    "method": "card",
    "card_number": "4242424242424242",
    "old_password": "correct-horse-battery",
    "new_password1": "Another-long-pass-9",
    "new_password2": "Another-long-pass-9",
}


def answered_safely(response, *, has_body: bool = True) -> None:
    assert response.status_code in (200, 302, 405), response.status_code
    if response.status_code == 200 and has_body:
        html = response.content.decode()
        assert re.search(r'<form[^>]*method="post"', html, re.IGNORECASE), "a 200 on GET must be a form to POST"


def test_no_action_on_get(world, unchanged):
    order = world.order
    in_progress = milestone_accept(
        milestone=create_milestone(OrderFactory(buyer=world.buyer, seller=world.seller), title="Copy"),
        actor=world.seller,
    )
    empty_order = OrderFactory(buyer=world.buyer, seller=world.seller)  # could be completed
    buyer, seller = world.client("buyer"), world.client("seller")
    # A funded-milestone draft waiting for payment: GET must show the payment page, not pay.
    draft = buyer.post(reverse("milestone_new", args=[order.pk]), MILESTONE_OK)
    assert draft.status_code == 302
    cases = [
        (buyer, draft["Location"]),
        (buyer, reverse("milestone_approve", args=[world.in_review.pk])),
        (buyer, reverse("milestone_request_revision", args=[world.in_review.pk])),
        (buyer, reverse("milestone_dispute", args=[world.in_review.pk])),
        (seller, reverse("milestone_dispute", args=[world.in_review.pk])),
        (buyer, reverse("milestone_cancel", args=[world.awaiting.pk])),
        (seller, reverse("milestone_accept", args=[world.awaiting.pk])),
        (seller, reverse("milestone_decline", args=[world.awaiting.pk])),
        (seller, reverse("milestone_submit", args=[in_progress.pk])),
        (seller, reverse("dispute_statement", args=[world.disputed.pk])),
        (buyer, reverse("order_complete", args=[empty_order.pk])),
        (buyer, reverse("order_message", args=[order.pk])),
        (buyer, reverse("notifications_read")),
        (seller, reverse("withdraw")),
        (seller, reverse("withdrawal_method_choose")),
        (seller, reverse("profile")),
        (buyer, reverse("password_change")),
        (buyer, reverse("order_start", args=[world.gig.pk])),
        (seller, reverse("gig_create")),
        (buyer, reverse("logout")),
    ]
    with unchanged():
        for client, url in cases:
            answered_safely(client.get(url, QUERY))
            answered_safely(client.head(url, QUERY), has_body=False)
            for method in (client.put, client.patch, client.delete, client.options):
                assert method(url, QUERY).status_code in (200, 302, 405), f"{method.__name__.upper()} {url}"
    # Still signed in: GET /accounts/logout/ did not log out.
    assert buyer.get(reverse("dashboard")).status_code == 200
