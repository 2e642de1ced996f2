"""Races on an ordered package (issue 35), real threads against PostgreSQL: "Continue to next
milestone" twice at once, continue against "Stop the order here", stop against the continue
timer. Each ends in one outcome, and the ledger audit is green."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.conf import settings

from marketplace.errors import DomainError
from milestones.models import Milestone
from milestones.models import MilestoneState as S
from milestones.services.lifecycle import milestone_accept, milestone_approve, milestone_submit
from milestones.services.packages import milestone_continue, order_stop
from milestones.sweeps import sweep_continue
from notifications.models import Notification
from orders.models import Activity, OrderStatus
from payments.audit import ledger_audit
from payments.models import Checkout, Transaction
from tests.concurrency import run_together
from tests.factories import BALANCE, CARD, package_order, packaged_gig
from tests.services.ledger_checks import assert_money_conserved
from tests.services.test_offers import give_balance

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls: Callable[[], object]) -> list[object]:
    results = run_together(*calls)
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
    assert not unexpected, f"a racer crashed instead of being refused: {unexpected!r}"
    return results


def _audit_ok() -> None:
    report = ledger_audit()
    assert report.ok, report.summary()
    assert_money_conserved()


def steps_of(order) -> list[Milestone]:
    return list(Milestone.objects.filter(order=order).order_by("position"))


def first_approved():
    gig, package = packaged_gig()
    order = package_order(gig, package, source=CARD)
    first = milestone_accept(milestone=steps_of(order)[0], actor=order.seller)
    milestone_submit(milestone=first, actor=order.seller, message="Done.")
    approved = milestone_approve(milestone=Milestone.objects.get(pk=first.pk), actor=order.buyer)
    return order, approved


def test_continue_twice_at_once_funds_the_step_once():
    order, _ = first_approved()
    give_balance(order.buyer)
    second = steps_of(order)[1]
    results = race(
        *[
            lambda n=n: milestone_continue(buyer=order.buyer, milestone=second, key=f"tab{n}", source=BALANCE)
            for n in range(4)
        ]
    )
    assert sum(1 for r in results if not isinstance(r, Exception)) == 1
    assert Milestone.objects.get(pk=second.pk).state == S.IN_PROGRESS
    assert Transaction.objects.filter(milestone=second).count() == 1
    _audit_ok()


def test_continue_by_card_twice_at_once_opens_one_checkout():
    order, _ = first_approved()
    second = steps_of(order)[1]
    results = race(
        *[
            lambda n=n: milestone_continue(buyer=order.buyer, milestone=second, key=f"tab{n}", source=CARD)
            for n in range(3)
        ]
    )
    assert len({r.pk for r in results if isinstance(r, Checkout)}) == 1
    assert Checkout.objects.filter(purpose="continue").count() == 1
    _audit_ok()


def test_continue_against_stop_ends_in_one_outcome():
    order, _ = first_approved()
    give_balance(order.buyer)
    second, third = steps_of(order)[1:]
    race(
        lambda: milestone_continue(buyer=order.buyer, milestone=second, key="go", source=BALANCE),
        lambda: order_stop(buyer=order.buyer, order=order),
    )
    states = [m.state for m in steps_of(order)]
    funded = Transaction.objects.filter(milestone=second).count()
    order.refresh_from_db()
    if states[1] == S.IN_PROGRESS:
        # Continued first: the stop then ended the plan after it; the order goes on with the step paid.
        assert funded == 1 and states[2] == S.CANCELLED and order.status == OrderStatus.ACTIVE
    else:
        # Stopped first: nothing was charged for the step, the order is complete.
        assert states[1:] == [S.CANCELLED, S.CANCELLED] and funded == 0
        assert order.status == OrderStatus.COMPLETED
    assert Milestone.objects.get(pk=third.pk).state == S.CANCELLED
    _audit_ok()


def test_stop_against_the_continue_timer_stops_once():
    order, approved = first_approved()
    assert approved.approved_at is not None
    due = approved.approved_at + settings.CONTINUE_PERIOD + timedelta(minutes=1)
    transactions = Transaction.objects.count()
    race(lambda: order_stop(buyer=order.buyer, order=order), lambda: sweep_continue(now=due))
    assert [m.state for m in steps_of(order)] == [S.APPROVED, S.CANCELLED, S.CANCELLED]
    assert Activity.objects.filter(order=order, verb="order_completed").count() == 1
    assert Activity.objects.filter(order=order, verb="stopped").count() == 2
    assert Notification.objects.filter(event="order_stopped", recipient=order.seller).count() == 1
    assert Transaction.objects.count() == transactions
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    _audit_ok()


def test_start_order_sent_twice_at_once_opens_one_order():
    import uuid

    from marketplace.errors import DuplicateRequest
    from milestones.services.packages import package_order_start
    from orders.models import Order
    from tests.factories import UserFactory

    gig, package = packaged_gig()
    buyer = UserFactory()
    give_balance(buyer)
    key = uuid.uuid4().hex
    start = lambda: package_order_start(  # noqa: E731
        buyer=buyer, gig=gig, package=package, extra_ids=[], answers={}, key=key, source=BALANCE
    )
    results = race(start, start, start)
    assert sum(1 for r in results if isinstance(r, Order)) == 1
    assert all(isinstance(r, DuplicateRequest) for r in results if not isinstance(r, Order))
    assert Order.objects.filter(gig=gig).count() == 1
    _audit_ok()
