"""The completion rate on the public profile counts what the seller answers for,
as Fiverr counts it: a cancellation the seller asked for, or agreed to after
missing the deadline, counts against them; a buyer's change of plan does not."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from milestones.models import MilestoneState, Proposal
from milestones.services.lifecycle import milestone_cancel
from milestones.services.proposals import cancellation_request, proposal_accept
from orders.models import Order
from reviews.selectors import seller_figures
from tests.factories import OrderFactory, milestone_in

S = MilestoneState
pytestmark = pytest.mark.django_db


def cancelled_by_agreement(order: Order, *, asker: str, late: bool = False) -> None:
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    asking = order.buyer if asker == "buyer" else order.seller
    answering = order.seller if asker == "buyer" else order.buyer
    when = milestone.deadline + timedelta(hours=1) if late else timezone.now()
    with time_machine.travel(when, tick=False):
        cancellation_request(milestone=milestone, actor=asking, refund=None, reason="Stopping here.")
        proposal_accept(proposal=Proposal.objects.get(milestone=milestone), actor=answering)
    milestone.refresh_from_db()
    assert milestone.state == S.CANCELLED


def test_a_buyers_change_of_plan_does_not_count_against_the_sellers_completion_rate(client):
    """Issue 34: one order, one milestone approved and one the buyer cancelled on a change of
    plan, and the profile said "Completion rate 50%"."""
    order = OrderFactory()
    milestone_in(S.APPROVED, order=order)
    cancelled_by_agreement(order, asker="buyer")
    queued = milestone_in(S.ACCEPTED, order=order)  # accepted, queued, withdrawn before work
    milestone_cancel(milestone=queued, actor=order.buyer)
    figures = seller_figures(order.seller)
    assert (figures.completion_rate, figures.completion_count) == (100, 1)
    body = client.get(reverse("profile_public", args=[order.seller.username])).content.decode()
    assert '100% <span class="muted small">of 1 milestone</span>' in body
    assert "a buyer's change of plan does not" in body, "the definition is said under the figure"


def test_cancellations_the_seller_asked_for_or_agreed_after_a_missed_deadline_count_against_them():
    order = OrderFactory()
    milestone_in(S.APPROVED, order=order)
    cancelled_by_agreement(order, asker="seller")
    assert (seller_figures(order.seller).completion_rate, seller_figures(order.seller).completion_count) == (50, 2)
    cancelled_by_agreement(order, asker="buyer", late=True)
    figures = seller_figures(order.seller)
    assert (figures.completion_rate, figures.completion_count) == (33, 3)
