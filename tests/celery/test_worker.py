"""A real Celery worker against (private) Redis: the timed work happens by itself,
and a worker killed mid-sweep loses nothing and pays nothing twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import F
from djmoney.money import Money

from marketplace.celery import app
from milestones.models import Milestone, MilestoneState
from notifications.models import Notification
from orders.models import Activity
from payments.ledger import account_for
from payments.models import AccountKind, Earning, EarningStatus, Transaction, TransactionKind
from tests.celery.conftest import wait_until
from tests.factories import OrderFactory, UserFactory, milestone_in

S = MilestoneState
pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def _state(milestone: Milestone) -> str:
    return Milestone.objects.values_list("state", flat=True).get(pk=milestone.pk)


def _earning_status(milestone: Milestone) -> str | None:
    return Earning.objects.filter(milestone=milestone).values_list("status", flat=True).first()


def test_beat_and_worker_clear_earnings_and_approve_a_silent_buyers_milestone(worker_factory, settings, audit):
    settings.AUTO_APPROVE_PERIOD = timedelta(seconds=2)
    settings.CLEARANCE_PERIODS = {**settings.CLEARANCE_PERIODS, "bank_transfer": timedelta(seconds=2)}
    approved = milestone_in(S.APPROVED)
    silent = milestone_in(S.IN_REVIEW)
    assert _earning_status(approved) == EarningStatus.PENDING

    # Beat embedded in the worker, every second, and nothing else: no manual step.
    worker_factory(beat=True, env={"CLEARANCE_BANK_TRANSFER": "2s", "AUTO_APPROVE_PERIOD": "2s"})

    wait_until(lambda: _earning_status(approved) == EarningStatus.CLEARED, timeout=45, what="the earning to clear")
    wait_until(lambda: _state(silent) == S.APPROVED, timeout=45, what="the auto-approval")
    # The worker's own approval released money with its clearance period; that clears too.
    wait_until(lambda: _earning_status(silent) == EarningStatus.CLEARED, timeout=45, what="the second clearance")

    activity = Activity.objects.get(milestone=silent, verb="approved")
    assert activity.actor is None
    assert "Approved automatically" in activity.note
    seller = approved.order.seller
    assert account_for(kind=AccountKind.SELLER_AVAILABLE, currency="USD", user=seller).cached_balance == Money(
        Decimal("80.00"), "USD"
    )
    # The worker also e-mailed the notifications the services queued on commit.
    wait_until(
        lambda: not Notification.objects.filter(emailed_at__isnull=True).exists(),
        timeout=45,
        what="every notification to be e-mailed",
    )
    audit()


def test_a_worker_killed_mid_sweep_loses_nothing_and_pays_nothing_twice(worker_factory, settings, audit):
    settings.CLEARANCE_PERIODS = {**settings.CLEARANCE_PERIODS, "bank_transfer": timedelta(seconds=0.5)}
    seller = UserFactory()
    milestones = [milestone_in(S.APPROVED, order=OrderFactory(seller=seller)) for _ in range(10)]
    wait_until(
        lambda: Earning.objects.filter(status=EarningStatus.PENDING, clears_at__lte=_now()).count() == 10,
        timeout=10,
        what="the earnings to fall due",
    )

    def cleared() -> int:
        return Earning.objects.filter(status=EarningStatus.CLEARED).count()

    # Each clearance lingers 0.5 s inside its transaction: the kill lands with
    # some rows committed, one uncommitted, the rest untouched.
    # No beat here: the test sends each tick itself, and a long interval gives
    # the slowed sweep the time budget to run through all ten.
    slow = worker_factory(slow_clear=0.5, env={"SWEEP_INTERVAL_SECONDS": "60"})
    app.send_task("payments.sweeps.sweep_clearance")
    wait_until(lambda: cleared() >= 3, timeout=30, interval=0.02, what="the first clearances")
    slow.kill()
    after_kill = cleared()
    assert 3 <= after_kill < 10, "the kill must land in the middle of the sweep"

    # A new worker, and the next beat tick: the sweep does the rest.
    worker_factory(env={"SWEEP_INTERVAL_SECONDS": "60"})
    app.send_task("payments.sweeps.sweep_clearance")
    wait_until(lambda: cleared() == 10, timeout=30, what="every earning to clear")
    # And a tick more changes nothing.
    app.send_task("payments.sweeps.sweep_clearance")
    # An e-mail task the killed worker had taken is not redelivered for a while; the
    # e-mail sweep sends what is a minute old. Let that minute pass, and tick it.
    Notification.objects.filter(emailed_at__isnull=True).update(created_at=F("created_at") - timedelta(minutes=2))
    app.send_task("notifications.sweeps.sweep_emails")
    wait_until(lambda: not Notification.objects.filter(emailed_at__isnull=True).exists(), timeout=30)

    assert Transaction.objects.filter(kind=TransactionKind.CLEAR).count() == 10
    assert Notification.objects.filter(recipient=seller, event="money_cleared").count() == 10
    available = account_for(kind=AccountKind.SELLER_AVAILABLE, currency="USD", user=seller)
    assert available.cached_balance == Money(Decimal("800.00"), "USD")
    assert {m.pk for m in milestones} == set(Earning.objects.values_list("milestone_id", flat=True))
    audit()


def _now():
    from django.utils import timezone

    return timezone.now()
