"""The withdrawal method an earning is released under, and the first choice of one (issue 33,
item 6): an earning keeps the method that fixed its ``clears_at``; a user who never chose is asked
before the first withdrawal, and the choice refuses what it cannot do without changing anything.
The money paths run on both backends (``tests.backends``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from djmoney.money import Money

from accounts.models import SecurityEvent, SecurityEventKind, WithdrawalMethod
from accounts.services import user_choose_withdrawal_method, user_update_profile
from marketplace.errors import InvalidInput
from milestones.models import MilestoneState
from milestones.services.tips import tip_leave
from payments.audit import ledger_audit
from payments.models import AccountKind, Earning, EarningStatus, Withdrawal
from payments.services import withdrawal_request
from tests.backends import BOTH
from tests.factories import OrderFactory, UserFactory, milestone_in
from tests.services.ledger_checks import balance

S = MilestoneState


def usd(amount: str) -> Money:
    return Money(amount, "USD")


@pytest.mark.django_db(databases=BOTH)
def test_a_release_and_a_tip_keep_the_method_they_were_released_under(backend):
    assert connection.vendor == backend
    seller = UserFactory(withdrawal_method=WithdrawalMethod.BANK_TRANSFER)
    order = OrderFactory(seller=seller)
    milestone_in(S.CANCELLED, order=OrderFactory(buyer=order.buyer), amount="50.00")  # the buyer's balance pays the tip
    milestone = milestone_in(S.APPROVED, order=order, amount="100.00")
    seller.withdrawal_method = WithdrawalMethod.INSTANT
    seller.save(update_fields=["withdrawal_method"])
    tip_leave(milestone=milestone, actor=order.buyer, amount=usd("10.00"), method="balance")
    released = Earning.objects.get(milestone=milestone)
    tipped = Earning.objects.get(tip__milestone=milestone)
    # The release waits its 14 days under bank transfer; the tip, given after the switch, is available at once.
    assert (released.method, released.status, released.clearance_period) == (
        WithdrawalMethod.BANK_TRANSFER,
        EarningStatus.PENDING,
        timedelta(days=14),
    )
    assert (tipped.method, tipped.status, tipped.clearance_period) == (
        WithdrawalMethod.INSTANT,
        EarningStatus.CLEARED,
        timedelta(0),
    )
    assert released.mac == released.expected_mac() and tipped.mac == tipped.expected_mac()
    report = ledger_audit()
    assert report.ok, report.summary()


@pytest.mark.django_db(databases=BOTH)
def test_no_withdrawal_before_a_method_is_chosen_then_it_goes(backend):
    """A buyer's refund to withdraw, a payout account, but no method chosen: refused, nothing moves;
    chosen, the same withdrawal goes, by the method chosen."""
    user = UserFactory(withdrawal_method_chosen_at=None)
    milestone_in(S.CANCELLED, order=OrderFactory(buyer=user), amount="100.00")
    held = balance(AccountKind.BUYER_BALANCE, user=user)
    with pytest.raises(InvalidInput) as refused:
        withdrawal_request(seller=user, amount=usd("10.00"), key="first")
    assert refused.value.field == "withdrawal_method"
    assert "Choose how you are paid before your first withdrawal." in refused.value.message
    assert balance(AccountKind.BUYER_BALANCE, user=user) == held
    assert not Withdrawal.objects.filter(seller=user).exists()
    user_choose_withdrawal_method(user=user, withdrawal_method=WithdrawalMethod.BANK_TRANSFER)
    withdrawal = withdrawal_request(seller=user, amount=usd("10.00"), key="first")
    assert withdrawal.method == WithdrawalMethod.BANK_TRANSFER
    assert balance(AccountKind.BUYER_BALANCE, user=user) == held - usd("10.00")
    report = ledger_audit()
    assert report.ok, report.summary()


@pytest.mark.django_db
def test_the_first_choice_is_kept_and_logged():
    user = UserFactory(withdrawal_method_chosen_at=None, payout_account="", payout_token="")
    user_choose_withdrawal_method(user=user, withdrawal_method=WithdrawalMethod.INSTANT, ip="203.0.113.9")
    user.refresh_from_db()
    assert user.withdrawal_method == WithdrawalMethod.INSTANT and user.has_chosen_withdrawal_method
    event = SecurityEvent.objects.get(user=user)
    assert event.kind == SecurityEventKind.PAYOUT_CHANGED
    assert event.detail == "Bank transfer → Instant (debit card) (first choice)"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "method", "message"),
    [
        ({}, "bitcoin", "Choose one of the withdrawal methods listed."),
        ({"chosen": True}, "instant", "You have already chosen how you are paid; change it in your profile."),
        ({"account": "•••• 5555"}, "paypal", "Your payout account was given for another method"),
    ],
)
def test_a_choice_that_cannot_be_made_changes_nothing(setup, method, message):
    user = UserFactory(
        withdrawal_method_chosen_at=None, payout_account=setup.get("account", ""), payout_token="", verified=False
    )
    if setup.get("chosen"):
        user_choose_withdrawal_method(user=user, withdrawal_method=WithdrawalMethod.PAYPAL)
    before = type(user).objects.values_list("withdrawal_method", "withdrawal_method_chosen_at").get(pk=user.pk)
    events = SecurityEvent.objects.filter(user=user).count()
    with pytest.raises(InvalidInput) as refused:
        user_choose_withdrawal_method(user=user, withdrawal_method=method)
    assert refused.value.field == "withdrawal_method" and message in refused.value.message
    after = type(user).objects.values_list("withdrawal_method", "withdrawal_method_chosen_at").get(pk=user.pk)
    assert after == before
    assert SecurityEvent.objects.filter(user=user).count() == events


@pytest.mark.django_db
def test_saving_the_profile_is_a_choice():
    """The profile shows every method with its period: saving it counts as choosing."""
    user = UserFactory(withdrawal_method_chosen_at=None, payout_account="", payout_token="")
    user_update_profile(user=user, bio="Hello", withdrawal_method=WithdrawalMethod.BANK_TRANSFER, payout_account="")
    user.refresh_from_db()
    assert user.has_chosen_withdrawal_method
