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
