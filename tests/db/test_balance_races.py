"""A buyer's balance spent twice at the same instant, on PostgreSQL with real threads (issue 32,
item 1): withdrawing the whole balance while a tip, a milestone or a refund to card is paid from
it. The user's accounts are locked in id order before their balances are read, so exactly one
wins, the other is refused for want of money, and the audit stays green.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from djmoney.money import Money

from marketplace.errors import DomainError, InsufficientFunds
from milestones.models import MilestoneState as S
from milestones.services.creation import milestone_create
from milestones.services.tips import tip_leave
from payments.audit import ledger_audit
from payments.models import AccountKind, Tip, Withdrawal
from payments.services import FundingSource, balance_refund_to_card, withdrawal_request
from tests.concurrency import run_together
from tests.factories import OrderFactory, UserFactory, milestone_in
from tests.services.ledger_checks import assert_money_conserved, balance

pytestmark = pytest.mark.django_db(transaction=True)

WHOLE = Money("105.50", "USD")


def _refunded_buyer():
    """105.50 USD in the balance (a cancelled 100.00 milestone), and an approved milestone to tip."""
    buyer = UserFactory()
    milestone_in(S.CANCELLED, order=OrderFactory(buyer=buyer), amount="100.00")
    approved = milestone_in(S.APPROVED, order=OrderFactory(buyer=buyer), amount="40.00")
    assert balance(AccountKind.BUYER_BALANCE, user=buyer) == WHOLE
    return buyer, approved


def _spend(what: str, buyer, approved) -> Callable[[], object]:
    if what == "tip":
        return lambda: tip_leave(milestone=approved, actor=buyer, amount=Money("20.00", "USD"), method="balance")
    if what == "milestone":
        order = approved.order
        return lambda: milestone_create(
            order=order,
            actor=buyer,
            title="Phase two",
            description="More screens.",
            deadline=timezone.now() + timedelta(days=10),
            amount=Money("50.00", "USD"),  # 52.75 with the service fee
            source=FundingSource(method="balance"),
            idempotency_key=uuid.uuid4().hex,
        )
    return lambda: balance_refund_to_card(user=buyer, amount=Money("30.00", "USD"), key=uuid.uuid4().hex)


@pytest.mark.parametrize("what", ["tip", "milestone", "refund_to_card"])
def test_withdrawing_the_whole_balance_against_spending_it_lets_exactly_one_win(what):
    outcomes = []
    for _ in range(3):  # each round a new buyer, so either side gets a chance to be first
        buyer, approved = _refunded_buyer()
        withdraw = lambda buyer=buyer: withdrawal_request(seller=buyer, amount=WHOLE, key=uuid.uuid4().hex)  # noqa: E731
        results = run_together(withdraw, _spend(what, buyer, approved))
        crashed = [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
        assert not crashed, f"a racer crashed instead of being refused: {crashed!r}"
        wins = [not isinstance(r, Exception) for r in results]
        assert wins.count(True) == 1, f"exactly one may spend the balance: {results!r}"
        loser = results[wins.index(False)]
        assert isinstance(loser, InsufficientFunds), loser
        withdrew = wins[0]
        assert Withdrawal.objects.filter(seller=buyer).count() == (1 if withdrew else 0)
        left = balance(AccountKind.BUYER_BALANCE, user=buyer)
        if withdrew:
            assert left == Money("0", "USD")
            assert balance(AccountKind.SELLER_WITHDRAWING, user=buyer) == WHOLE
        else:
            spent = {"tip": "20.00", "milestone": "52.75", "refund_to_card": "30.00"}[what]
            assert left == WHOLE - Money(spent, "USD")
            assert balance(AccountKind.SELLER_WITHDRAWING, user=buyer) == Money("0", "USD")
        if what == "tip":
            assert Tip.objects.filter(milestone=approved).exists() == (not withdrew)
        outcomes.append("withdrawal" if withdrew else what)
        report = ledger_audit()
        assert report.ok, report.summary()
        assert_money_conserved()
    print(f"winners over 3 rounds: {outcomes}")
