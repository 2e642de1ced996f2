"""A repeated form, a replayed key or a forged clock changes nothing twice."""

import threading

import pytest
from django.db import connection

from marketplace.errors import DuplicateRequest
from milestones.models import DisputeStatement
from milestones.models import MilestoneState as S
from milestones.services import dispute_add_statement
from orders.models import OrderMessage
from orders.services import order_message_send
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
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def send():
        try:
            barrier.wait()
            order_message_send(order=order, author=order.buyer, body="Hi", idempotency_key="race")
            outcomes.append("sent")
        except DuplicateRequest:
            outcomes.append("duplicate")
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["duplicate", "duplicate", "duplicate", "sent"]
    assert OrderMessage.objects.filter(order=order).count() == 1


@pytest.mark.django_db
def test_a_buyers_approval_cannot_be_backdated_to_clear_early(order):
    from datetime import timedelta

    from django.utils import timezone

    from milestones.services import milestone_approve

    milestone = milestone_in(S.IN_REVIEW, order=order)
    before = timezone.now()
    milestone_approve(milestone=milestone, actor=order.buyer, now=before - timedelta(days=30))
    milestone.refresh_from_db()
    assert milestone.approved_at >= before
    assert milestone.earning.clears_at >= before + order.seller.clearance_period
