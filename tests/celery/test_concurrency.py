"""Each sweep run twice at once (threads, PostgreSQL row locks), and again, and
again: the same result as running it once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from marketplace.errors import InvalidTransition
from marketplace.sweeps import SweepResult
from milestones.models import Milestone, MilestoneReminder, MilestoneState
from milestones.services.lifecycle import milestone_approve
from milestones.sweeps import sweep_auto_approve, sweep_late, sweep_reminders
from notifications.models import Notification
from notifications.sweeps import sweep_emails
from orders.models import Activity
from payments.models import Transaction, TransactionKind, Withdrawal, WithdrawalStatus
from payments.services import withdrawal_request
from payments.sweeps import sweep_clearance, sweep_outbox
from sandbox.models import SandboxOperation
from tests.concurrency import run_together
from tests.factories import NotificationFactory, OrderFactory, UserFactory, milestone_in

S = MilestoneState
pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 3


def race(sweep: Callable[..., SweepResult], now) -> int:
    """Run ``sweep`` twice at once, ROUNDS times; return the rows done in total."""
    done = 0
    for _ in range(ROUNDS):
        results = run_together(lambda: sweep(now=now), lambda: sweep(now=now))
        for result in results:
            assert isinstance(result, SweepResult), result
            assert result.failed == 0, result.errors
            done += result.done
    return done


def test_clearance_twice_at_once_clears_once(settings, audit):
    settings.CLEARANCE_PERIODS = {**settings.CLEARANCE_PERIODS, "bank_transfer": timedelta(days=14)}
    milestone = milestone_in(S.APPROVED)
    now = milestone.earning.clears_at
    assert race(sweep_clearance, now) == 1
    assert Transaction.objects.filter(kind=TransactionKind.CLEAR).count() == 1
    assert Notification.objects.filter(event="money_cleared").count() == 1
    audit()


def test_auto_approval_twice_at_once_approves_once(audit):
    milestone = milestone_in(S.IN_REVIEW)
    assert race(sweep_auto_approve, milestone.auto_approve_at) == 1
    assert Milestone.objects.get(pk=milestone.pk).state == S.APPROVED
    assert Transaction.objects.filter(kind=TransactionKind.RELEASE, milestone=milestone).count() == 1
    assert Activity.objects.filter(milestone=milestone, verb="approved").count() == 1
    audit()


def test_the_buyer_clicking_approve_while_the_sweep_approves_pays_once(audit):
    milestone = milestone_in(S.IN_REVIEW)
    buyer = Milestone.objects.select_related("order__buyer").get(pk=milestone.pk).order.buyer
    late_now = milestone.auto_approve_at + timedelta(seconds=1)
    swept, clicked = run_together(
        lambda: sweep_auto_approve(now=late_now),
        lambda: milestone_approve(milestone=milestone, actor=buyer),
    )
    assert isinstance(swept, SweepResult) and swept.failed == 0
    assert isinstance(clicked, Milestone | InvalidTransition), clicked
    assert (swept.done == 1) != isinstance(clicked, Milestone)
    assert Transaction.objects.filter(kind=TransactionKind.RELEASE, milestone=milestone).count() == 1
    audit()


def test_reminders_twice_at_once_send_one_of_each_kind(settings):
    settings.REVIEW_REMINDERS = [timedelta(days=3), timedelta(days=1)]
    settings.DEADLINE_REMINDER = timedelta(hours=24)
    in_review = milestone_in(S.IN_REVIEW, days=30)
    in_progress = milestone_in(S.IN_PROGRESS, days=30)
    assert race(sweep_reminders, in_review.auto_approve_at - timedelta(days=3)) == 1
    assert race(sweep_reminders, in_review.auto_approve_at - timedelta(days=1)) == 1
    assert race(sweep_reminders, in_progress.deadline - timedelta(hours=1)) == 1
    kinds = list(MilestoneReminder.objects.order_by("kind").values_list("milestone_id", "kind"))
    assert kinds == [(in_progress.pk, "deadline"), (in_review.pk, "review:259200"), (in_review.pk, "review:86400")]
    assert Notification.objects.filter(event="review_reminder").count() == 2
    assert Notification.objects.filter(event="deadline_reminder").count() == 1


def test_late_flag_twice_at_once_flags_once():
    milestone = milestone_in(S.IN_PROGRESS, days=3)
    assert race(sweep_late, milestone.deadline + timedelta(minutes=1)) == 1
    assert Activity.objects.filter(milestone=milestone, verb="flagged_late").count() == 1
    assert Notification.objects.filter(event="milestone_late").count() == 2
    assert MilestoneReminder.objects.filter(milestone=milestone, kind="late").count() == 1


def test_payouts_swept_twice_at_once_pay_out_once(audit):
    seller = UserFactory(withdrawal_method=WithdrawalMethod.INSTANT)
    milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="100.00")
    withdrawal = withdrawal_request(seller=seller, amount=Money(Decimal("50.00"), "USD"), key="w-1")
    assert race(sweep_outbox, timezone.now()) == 1
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.PAID
    assert Withdrawal.objects.count() == 1
    assert Transaction.objects.filter(kind=TransactionKind.WITHDRAWAL_PAID).count() == 1
    assert SandboxOperation.objects.filter(kind="payout").count() == 1
    audit()


def test_email_catch_up_twice_at_once_sends_each_once():
    first, second = NotificationFactory(), NotificationFactory()
    later = timezone.now() + timedelta(minutes=2)
    assert race(sweep_emails, later) == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([first.recipient.email, second.recipient.email])
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
