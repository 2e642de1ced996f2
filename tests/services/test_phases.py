"""Milestones run one at a time, in the order they were created.

Closing the phase in work (approve, decline, cancel, resolve) starts the next
accepted one in the same transaction, and the order's status follows.
"""

from __future__ import annotations

import pytest

from milestones.models import Milestone
from milestones.models import MilestoneState as S
from milestones.services.disputes import dispute_resolve, milestone_open_dispute
from milestones.services.lifecycle import (
    milestone_accept,
    milestone_approve,
    milestone_cancel,
    milestone_decline,
    milestone_submit,
)
from orders.models import Activity, Order, OrderStatus
from tests.factories import create_milestone

pytestmark = pytest.mark.django_db


def _state(milestone) -> str:
    return Milestone.objects.get(pk=milestone.pk).state


def _status(order) -> str:
    return Order.objects.get(pk=order.pk).status


def test_a_new_order_waits_for_its_first_milestone(order):
    assert order.status == OrderStatus.AWAITING_MILESTONE


def test_accepting_a_later_milestone_while_an_earlier_one_is_open_queues_it(order, audit):
    first = create_milestone(order, title="Phase 1")
    second = create_milestone(order, title="Phase 2")
    assert _status(order) == OrderStatus.ACTIVE
    accepted = milestone_accept(milestone=second, actor=order.seller)
    assert accepted.state == S.ACCEPTED
    assert accepted.started_at is None
    # The earlier one, accepted now, starts at once: it is first in line.
    assert milestone_accept(milestone=first, actor=order.seller).state == S.IN_PROGRESS
    assert _state(second) == S.ACCEPTED
    audit()


def _two_phases(order):
    first = create_milestone(order, title="Phase 1")
    second = create_milestone(order, title="Phase 2")
    milestone_accept(milestone=first, actor=order.seller)
    milestone_accept(milestone=second, actor=order.seller)
    assert _state(first) == S.IN_PROGRESS
    assert _state(second) == S.ACCEPTED
    return first, second


def test_approving_the_phase_in_work_starts_the_next_one(order, audit):
    first, second = _two_phases(order)
    milestone_submit(milestone=first, actor=order.seller, message="Done")
    milestone_approve(milestone=first, actor=order.buyer)
    started = Milestone.objects.get(pk=second.pk)
    assert started.state == S.IN_PROGRESS
    assert started.started_at is not None
    log = Activity.objects.get(milestone=second, verb="started")
    assert log.actor is None
    assert _status(order) == OrderStatus.ACTIVE
    audit()


def test_auto_approval_also_starts_the_next_phase(order, audit):
    first, second = _two_phases(order)
    milestone_submit(milestone=first, actor=order.seller, message="Done")
    first = Milestone.objects.get(pk=first.pk)
    milestone_approve(milestone=first, actor=None, now=first.auto_approve_at)
    assert _state(second) == S.IN_PROGRESS
    audit()


def test_declining_the_first_in_line_starts_the_next_accepted_one(order, audit):
    first = create_milestone(order, title="Phase 1")
    second = create_milestone(order, title="Phase 2")
    milestone_accept(milestone=second, actor=order.seller)
    assert _state(second) == S.ACCEPTED
    milestone_decline(milestone=first, actor=order.seller, reason="Not my field")
    assert _state(second) == S.IN_PROGRESS
    audit()


def test_cancelling_the_first_in_line_starts_the_next_accepted_one(order, audit):
    first = create_milestone(order, title="Phase 1")
    second = create_milestone(order, title="Phase 2")
    milestone_accept(milestone=second, actor=order.seller)
    milestone_cancel(milestone=first, actor=order.buyer)
    assert _state(second) == S.IN_PROGRESS
    audit()


@pytest.mark.parametrize("outcome", ["release", "refund", "split"])
def test_resolving_a_dispute_starts_the_next_phase(order, staff, outcome, audit):
    from djmoney.money import Money

    first, second = _two_phases(order)
    dispute = milestone_open_dispute(milestone=first, actor=order.seller, reason="Buyer vanished")
    assert _state(second) == S.ACCEPTED, "a dispute freezes the phase; the next one still waits"
    dispute_resolve(
        dispute=dispute,
        actor=staff,
        outcome=outcome,
        seller_amount=Money("40.00", "USD") if outcome == "split" else None,
    )
    assert _state(second) == S.IN_PROGRESS
    audit()


def test_the_next_phase_waits_for_the_seller_to_accept_it(order, audit):
    first = create_milestone(order, title="Phase 1")
    second = create_milestone(order, title="Phase 2")
    milestone_accept(milestone=first, actor=order.seller)
    milestone_submit(milestone=first, actor=order.seller, message="Done")
    milestone_approve(milestone=first, actor=order.buyer)
    assert _state(second) == S.AWAITING_ACCEPTANCE, "no one accepted it, so it does not start"
    assert _status(order) == OrderStatus.ACTIVE
    assert milestone_accept(milestone=second, actor=order.seller).state == S.IN_PROGRESS
    audit()


def test_only_the_first_in_line_starts_when_several_are_queued(order, audit):
    first, second = _two_phases(order)
    third = create_milestone(order, title="Phase 3")
    milestone_accept(milestone=third, actor=order.seller)
    milestone_submit(milestone=first, actor=order.seller, message="Done")
    milestone_approve(milestone=first, actor=order.buyer)
    assert _state(second) == S.IN_PROGRESS
    assert _state(third) == S.ACCEPTED
    in_work = Milestone.objects.filter(order=order, state=S.IN_PROGRESS).count()
    assert in_work == 1
    audit()


def test_cancelling_a_queued_phase_leaves_the_one_in_work_alone(order, audit):
    first, second = _two_phases(order)
    milestone_cancel(milestone=second, actor=order.buyer)
    assert _state(first) == S.IN_PROGRESS
    assert _state(second) == S.CANCELLED
    audit()


def test_the_order_waits_again_when_its_last_open_milestone_closes(order, audit):
    only = create_milestone(order)
    assert _status(order) == OrderStatus.ACTIVE
    milestone_accept(milestone=only, actor=order.seller)
    milestone_submit(milestone=only, actor=order.seller, message="Done")
    milestone_approve(milestone=only, actor=order.buyer)
    assert _status(order) == OrderStatus.AWAITING_MILESTONE
    create_milestone(order, title="Phase 2")
    assert _status(order) == OrderStatus.ACTIVE
    audit()


@pytest.mark.parametrize("close", ["decline", "cancel"])
def test_a_refused_first_milestone_returns_the_order_to_waiting(order, close):
    only = create_milestone(order)
    if close == "decline":
        milestone_decline(milestone=only, actor=order.seller, reason="No")
    else:
        milestone_cancel(milestone=only, actor=order.buyer)
    assert _status(order) == OrderStatus.AWAITING_MILESTONE


def test_a_completed_order_stays_completed(order, audit):
    from milestones.services.completion import order_complete

    only = create_milestone(order)
    milestone_cancel(milestone=only, actor=order.buyer)
    order_complete(order=order, actor=order.buyer)
    assert _status(order) == OrderStatus.COMPLETED
    audit()
