"""The clearance sweep clears in batches; the outcome is the same as one by one."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from milestones.models import MilestoneState as S
from notifications.models import Notification
from payments import sweeps
from payments.ledger import account_for
from payments.models import AccountKind, Earning, EarningStatus, Transaction, TransactionKind
from payments.services import earnings_clear_batch
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db


def _approved_for(seller, count):
    for _ in range(count):
        milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="50.00")


def test_a_batched_sweep_clears_every_due_earning_once_across_batches_and_sellers(monkeypatch, audit):
    sellers = [UserFactory(withdrawal_method=WithdrawalMethod.PAYPAL) for _ in range(2)]
    for seller in sellers:
        _approved_for(seller, 3)
    monkeypatch.setattr(sweeps, "CLEARANCE_BATCH", 2)  # 6 earnings: three batches

    later = timezone.now() + timedelta(days=3, seconds=1)
    result = sweeps.sweep_clearance(now=later)

    assert (result.done, result.failed) == (6, 0)
    assert not Earning.objects.filter(status=EarningStatus.PENDING).exists()
    assert Transaction.objects.filter(kind=TransactionKind.CLEAR).count() == 6
    for seller in sellers:
        available = account_for(kind=AccountKind.SELLER_AVAILABLE, currency="USD", user=seller)
        assert available.cached_balance == Money(Decimal("120.00"), "USD")  # 3 × 80% of 50
        assert Notification.objects.filter(recipient=seller, event="money_cleared").count() == 3
    assert sweeps.sweep_clearance(now=later).done == 0, "a second run finds nothing left"
    audit()


def test_a_batch_ignores_earnings_not_yet_due_and_ones_already_cleared(audit):
    seller = UserFactory(withdrawal_method=WithdrawalMethod.BANK_TRANSFER)
    _approved_for(seller, 2)
    first, second = Earning.objects.order_by("pk")
    assert earnings_clear_batch(earning_ids=[first.pk, second.pk], now=timezone.now()) == []
    at = max(first.clears_at, second.clears_at) + timedelta(seconds=1)
    assert earnings_clear_batch(earning_ids=[first.pk], now=at) == [first.pk]
    assert earnings_clear_batch(earning_ids=[first.pk, second.pk], now=at) == [second.pk]
    assert Transaction.objects.filter(kind=TransactionKind.CLEAR).count() == 2
    audit()


def test_a_batch_of_cleared_earnings_is_emailed_by_one_task_per_hundred_notices(
    monkeypatch, django_capture_on_commit_callbacks
):
    """30,000 cleared earnings used to queue 30,000 e-mail tasks ahead of the sweeps."""
    from unittest import mock

    from notifications import services as notices
    from notifications.tasks import send_notification_emails

    seller = UserFactory(withdrawal_method=WithdrawalMethod.PAYPAL)
    _approved_for(seller, 5)
    monkeypatch.setattr(notices, "EMAIL_BATCH", 2)
    ids = list(Earning.objects.values_list("pk", flat=True))
    with mock.patch("marketplace.queue.publish") as publish, django_capture_on_commit_callbacks(execute=True):
        earnings_clear_batch(earning_ids=ids, now=timezone.now() + timedelta(days=4))
    calls = [c for c in publish.call_args_list if c.args[0] == notices.EMAILS_TASK]
    batches = [c.args[1] for c in calls]
    assert [len(b) for b in batches] == [2, 2, 1], "five notices, two per task"
    cleared = Notification.objects.filter(event="money_cleared")
    assert sorted(i for b in batches for i in b) == sorted(cleared.values_list("pk", flat=True))
    from django.core import mail

    assert send_notification_emails(batches[0]) == 2
    assert len(mail.outbox) == 2 and "has cleared" in mail.outbox[0].body
    assert send_notification_emails(batches[0]) == 0, "each e-mail once"
    assert len(mail.outbox) == 2
    assert cleared.filter(emailed_at__isnull=False).count() == 2
