"""A repeated form, a replayed key or a forged clock changes nothing twice."""

import pytest

from marketplace.errors import DuplicateRequest
from milestones.models import DisputeStatement
from milestones.models import MilestoneState as S
from milestones.services.disputes import dispute_add_statement
from orders.models import OrderMessage
from orders.services import order_message_send
from tests.concurrency import run_together
from tests.factories import OrderFactory, milestone_in


@pytest.mark.django_db
def test_the_same_message_key_twice_stores_one_message(order):
    order_message_send(order=order, author=order.buyer, body="Hello", idempotency_key="k1")
    with pytest.raises(DuplicateRequest, match="already sent"):
        order_message_send(order=order, author=order.buyer, body="Hello", idempotency_key="k1")
    order_message_send(order=order, author=order.buyer, body="Hello")  # no key: a new message
    assert OrderMessage.objects.filter(order=order).count() == 2


@pytest.mark.django_db
def test_the_same_statement_key_twice_stores_one_statement(order):
    milestone = milestone_in(S.DISPUTED, order=order)
    dispute_add_statement(dispute=milestone.dispute, actor=order.seller, body="My side", idempotency_key="s1")
    with pytest.raises(DuplicateRequest):
        dispute_add_statement(dispute=milestone.dispute, actor=order.seller, body="My side", idempotency_key="s1")
    assert DisputeStatement.objects.filter(dispute=milestone.dispute).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_tabs_sending_the_same_message_form_at_once_store_one():
    order = OrderFactory()

    def send():
        try:
            order_message_send(order=order, author=order.buyer, body="Hi", idempotency_key="race")
        except DuplicateRequest:
            return "duplicate"
        return "sent"

    outcomes = run_together(send, send, send, send)
    assert sorted(outcomes) == ["duplicate", "duplicate", "duplicate", "sent"]
    assert OrderMessage.objects.filter(order=order).count() == 1


@pytest.mark.django_db
def test_a_buyers_approval_cannot_be_backdated_to_clear_early(order):
    from datetime import timedelta

    from django.utils import timezone

    from milestones.services.lifecycle import milestone_approve

    milestone = milestone_in(S.IN_REVIEW, order=order)
    before = timezone.now()
    milestone_approve(milestone=milestone, actor=order.buyer, now=before - timedelta(days=30))
    milestone.refresh_from_db()
    assert milestone.approved_at >= before
    assert milestone.earning.clears_at >= before + order.seller.clearance_period
