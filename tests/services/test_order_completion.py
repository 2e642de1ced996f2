"""An order completes when the buyer marks it complete, or by itself
ORDER_AUTO_COMPLETE after its last milestone closed with one approved and
nothing open, offered or unpaid; the order page says which, and when."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse

from marketplace.errors import InvalidTransition
from milestones.models import MilestoneState
from milestones.services.completion import order_complete
from milestones.services.lifecycle import milestone_approve, portfolio_consent
from milestones.services.offers import offer_decline
from milestones.sweeps import sweep_orders
from notifications.models import Notification
from orders.models import Activity, Order, OrderStatus
from tests.factories import create_milestone, create_offer, milestone_in

S = MilestoneState
pytestmark = pytest.mark.django_db


def closed_at(milestone):
    milestone.refresh_from_db()
    assert milestone.closed_at is not None
    return milestone.closed_at


def test_an_order_completes_by_itself_after_its_last_milestone_closed(order, buyer, seller):
    approved = milestone_in(S.APPROVED, order=order)
    due = closed_at(approved) + settings.ORDER_AUTO_COMPLETE

    assert sweep_orders(now=due - timedelta(minutes=1)).done == 0
    assert Order.objects.get(pk=order.pk).status != OrderStatus.COMPLETED

    assert sweep_orders(now=due).done == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED and order.completed_automatically
    assert order.completed_at == due
    assert Activity.objects.filter(order=order, verb="order_auto_completed", actor=None).exists()
    for party in (buyer, seller):
        assert Notification.objects.filter(recipient=party, event="order_completed").exists()
    # Once: a second tick finds nothing to do.
    assert sweep_orders(now=due + timedelta(days=1)).done == 0


@pytest.mark.parametrize(
    "blocker",
    ["open milestone", "offer", "unpaid", "nothing approved"],
)
def test_an_order_waits_while_something_is_open_offered_unpaid_or_nothing_was_approved(order, blocker):
    if blocker == "nothing approved":
        milestone = milestone_in(S.CANCELLED, order=order)
    else:
        milestone = milestone_in(S.APPROVED, order=order)
        if blocker == "open milestone":
            create_milestone(order, title="Next phase")
        elif blocker == "offer":
            create_offer(order)
        else:
            create_milestone(order, title="Unpaid", pay=False)
    later = closed_at(milestone) + settings.ORDER_AUTO_COMPLETE + timedelta(days=30)
    assert sweep_orders(now=later).done == 0
    assert Order.objects.get(pk=order.pk).status != OrderStatus.COMPLETED


def test_the_buyer_cannot_complete_while_an_offer_waits_for_an_answer(order, buyer):
    milestone_in(S.APPROVED, order=order)
    offer = create_offer(order)
    with pytest.raises(InvalidTransition, match="offer is waiting for your answer"):
        order_complete(order=order, actor=buyer)
    assert Order.objects.get(pk=order.pk).status != OrderStatus.COMPLETED
    offer_decline(milestone=offer, actor=buyer)
    order_complete(order=order, actor=buyer)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED and not order.completed_automatically


def test_the_order_page_says_how_and_when_it_completes(client, order, buyer):
    approved = milestone_in(S.APPROVED, order=order)
    client.force_login(buyer)
    url = reverse("order_detail", args=[order.pk])
    html = client.get(url).content.decode()
    assert "this order completes by itself on" in html

    sweep_orders(now=closed_at(approved) + settings.ORDER_AUTO_COMPLETE)
    html = client.get(url).content.decode()
    assert "Completed automatically on" in html and "after its last milestone closed" in html

    other = milestone_in(
        S.APPROVED, order=type(order).objects.create(buyer=buyer, seller=order.seller, title="B", currency="USD")
    )
    order_complete(order=other.order, actor=buyer)
    html = client.get(reverse("order_detail", args=[other.order_id])).content.decode()
    assert f"Marked complete by {buyer.username} on" in html


def test_the_portfolio_shows_approved_work_only_with_the_buyers_consent(order, buyer, seller):
    milestone = milestone_in(S.IN_REVIEW, order=order)
    milestone_approve(milestone=milestone, actor=buyer)
    milestone.refresh_from_db()
    assert milestone.portfolio_allowed_at is None  # off by default

    portfolio_consent(milestone=milestone, actor=buyer, allowed=True)
    milestone.refresh_from_db()
    assert milestone.portfolio_allowed_at is not None
    with pytest.raises(Exception, match="Only the buyer"):
        portfolio_consent(milestone=milestone, actor=seller, allowed=False)
    portfolio_consent(milestone=milestone, actor=buyer, allowed=False)
    milestone.refresh_from_db()
    assert milestone.portfolio_allowed_at is None
    assert Activity.objects.filter(milestone=milestone, verb="portfolio_withdrawn").exists()


def test_approving_with_the_box_ticked_allows_the_portfolio(client, order, buyer):
    milestone = milestone_in(S.IN_REVIEW, order=order)
    client.force_login(buyer)
    page = client.get(reverse("milestone_approve", args=[milestone.pk])).content.decode()
    assert "Show this work in the seller&#x27;s portfolio" in page or "Show this work in the seller's portfolio" in page
    client.post(reverse("milestone_approve", args=[milestone.pk]), {"portfolio": "on"})
    milestone.refresh_from_db()
    assert milestone.state == S.APPROVED and milestone.portfolio_allowed_at is not None


def test_a_milestone_not_approved_cannot_enter_the_portfolio(order, buyer):
    milestone = milestone_in(S.IN_REVIEW, order=order)
    with pytest.raises(InvalidTransition):
        portfolio_consent(milestone=milestone, actor=buyer, allowed=True)
    milestone.refresh_from_db()
    assert milestone.portfolio_allowed_at is None


def test_mark_order_complete_refuses_an_order_with_no_milestone_and_changes_nothing(order, buyer):
    """Issue 34: "Mark order complete" completed an order with no milestone at all."""
    before = Order.objects.get(pk=order.pk)
    with pytest.raises(InvalidTransition, match="Add a milestone before completing the order"):
        order_complete(order=order, actor=buyer)
    after = Order.objects.get(pk=order.pk)
    assert (after.status, after.completed_at, after.updated_at) == (before.status, None, before.updated_at)
    assert not Activity.objects.filter(order=order).exclude(verb="order_opened").exists()
    assert not Notification.objects.filter(event="order_completed").exists()
