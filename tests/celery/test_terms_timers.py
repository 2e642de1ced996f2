"""The timers of agreeing on terms and of reputation, run by a real worker
with beat against the private Redis, with the periods shortened to seconds
for both the test (which makes the rows) and the worker (which sweeps them):
an offer expires, an extension and proposed changes lapse, a cancellation
request is reminded of and then accepted, an order completes by itself, and
its review window reminds the silent party and publishes the lone review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from djmoney.money import Money

from milestones.models import Milestone, MilestoneState, Proposal, ProposalState
from milestones.services.changes import changes_request
from milestones.services.proposals import cancellation_request, extension_request
from notifications.models import Notification
from orders.models import Order, OrderStatus
from payments.ledger import escrow_balance
from reviews.models import Review
from reviews.services import review_submit
from tests.celery.conftest import wait_until
from tests.factories import OrderFactory, create_offer, milestone_in

S = MilestoneState
pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

PERIODS = {
    "OFFER_EXPIRY": "3s",
    "EXTENSION_RESPONSE_PERIOD": "3s",
    "CHANGES_RESPONSE_PERIOD": "3s",
    "CANCELLATION_RESPONSE_PERIOD": "8s",
    "CANCELLATION_REMINDERS": "5s",
    "ORDER_AUTO_COMPLETE": "2s",
    "REVIEW_WINDOW": "8s",
    "REVIEW_WINDOW_REMINDERS": "5s",
}


def _state(obj) -> str:
    return type(obj).objects.values_list("state", flat=True).get(pk=obj.pk)


def _noticed(user, event: str) -> bool:
    return Notification.objects.filter(recipient=user, event=event).exists()


def test_a_real_worker_runs_every_timer_of_terms_and_reviews(worker_factory, settings, audit):
    settings.OFFER_EXPIRY = timedelta(seconds=3)
    settings.EXTENSION_RESPONSE_PERIOD = timedelta(seconds=3)
    settings.CHANGES_RESPONSE_PERIOD = timedelta(seconds=3)
    settings.CANCELLATION_RESPONSE_PERIOD = timedelta(seconds=8)
    settings.CANCELLATION_REMINDERS = [timedelta(seconds=5)]
    settings.ORDER_AUTO_COMPLETE = timedelta(seconds=2)
    settings.REVIEW_WINDOW = timedelta(seconds=8)
    settings.REVIEW_WINDOW_REMINDERS = [timedelta(seconds=5)]

    offer = create_offer(OrderFactory())
    working = milestone_in(S.IN_PROGRESS, amount="100.00")
    deadline = working.deadline
    extension = extension_request(
        milestone=working, actor=working.order.seller, new_deadline=deadline + timedelta(days=3), reason="Assets late"
    )
    awaiting = milestone_in(S.AWAITING_ACCEPTANCE, amount="100.00")
    changes = changes_request(
        milestone=awaiting,
        actor=awaiting.order.seller,
        new_deadline=None,
        new_amount=Money("140.00", "USD"),
        new_description="",
    )
    cancelling = milestone_in(S.IN_PROGRESS, amount="100.00")
    keeping = milestone_in(S.IN_PROGRESS, amount="10.00")
    finished = milestone_in(S.APPROVED, amount="100.00")
    order = finished.order

    worker_factory(beat=True, env=PERIODS)
    # Asked once the worker runs: its reminder is due 3 s later, the acceptance 8 s later, however
    # long the worker took to start (asked before, both could be due at its first tick).
    cancellation = cancellation_request(
        milestone=cancelling, actor=cancelling.order.buyer, refund=Money("50.00", "USD"), reason="Plans changed"
    )
    # The seller asks to cancel keeping all of it, and the buyer stays silent: it lapses, the escrow untouched.
    keep_all = cancellation_request(
        milestone=keeping, actor=keeping.order.seller, refund=Money("0.00", "USD"), reason="Keeping it"
    )

    # First the order completing by itself, and the seller's review inside its short window
    # (8 s from completion); the other timers are checked while that window runs.
    wait_until(
        lambda: Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED, timeout=45, what="auto-completion"
    )
    assert Order.objects.get(pk=order.pk).completed_automatically
    review = review_submit(order=order, actor=order.seller, rating=5, text="Clear and quick.")
    assert review.published_at is None  # double-blind: the buyer has not reviewed

    wait_until(lambda: _state(offer) == S.OFFER_EXPIRED, timeout=45, what="the offer to expire")
    assert _noticed(offer.order.buyer, "offer_expired") and _noticed(offer.order.seller, "offer_expired")

    wait_until(lambda: _state(extension) == ProposalState.EXPIRED, timeout=45, what="the extension to lapse")
    assert Milestone.objects.get(pk=working.pk).deadline == deadline
    assert _noticed(working.order.buyer, "extension_expired") and _noticed(working.order.seller, "extension_expired")

    wait_until(lambda: _state(changes) == ProposalState.EXPIRED, timeout=45, what="the changes to lapse")
    assert Milestone.objects.get(pk=awaiting.pk).amount == Money("100.00", "USD")

    wait_until(lambda: _state(cancelling) == S.CANCELLED, timeout=45, what="the cancellation to be accepted")
    assert Proposal.objects.get(pk=cancellation.pk).state == ProposalState.ACCEPTED
    reminder = Notification.objects.get(recipient=cancelling.order.seller, event="cancellation_reminder")
    accepted = Notification.objects.get(recipient=cancelling.order.seller, event="cancellation_accepted")
    assert reminder.created_at < accepted.created_at

    wait_until(lambda: _state(keep_all) == ProposalState.EXPIRED, timeout=45, what="the seller's request to lapse")
    assert _state(keeping) == S.IN_PROGRESS
    assert escrow_balance(keeping) == Money("10.00", "USD")
    assert (
        "lapses as declined"
        in Notification.objects.get(recipient=keeping.order.buyer, event="cancellation_reminder").message
    )
    assert _noticed(keeping.order.seller, "cancellation_expired")

    wait_until(lambda: _noticed(order.buyer, "review_reminder"), timeout=45, what="the review reminder")
    wait_until(
        lambda: Review.objects.get(pk=review.pk).published_at is not None, timeout=45, what="the lone review to publish"
    )
    audit()
