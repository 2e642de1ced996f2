"""Every balance can leave (issue 32, item 1): a buyer's refunds are withdrawn through the same
withdrawal flow and payout methods as a seller's earnings, and a failed payout puts each part
back where it came from; or they go back to the cards that paid ("Refund to card"), through the
outbox, each card up to what it paid. The audit (withdrawals in flight equal the withdrawing
account, refunds to card waiting equal the card-refunds account) holds.

Regression: before the fix a buyer with a refund in their balance could not withdraw it
(``withdrawal_request`` read the seller's available account only: ``InsufficientFunds``), and the
balance then blocked the account's deletion for good.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from marketplace.errors import DuplicateRequest, InsufficientFunds, InvalidInput
from milestones.models import MilestoneState as S
from milestones.services.creation import milestone_create
from payments.models import AccountKind, Checkout, ProviderCommand, Transaction, Withdrawal
from payments.outbox import command_execute
from payments.services import FundingSource, balance_refund_to_card, withdrawal_process, withdrawal_request
from privacy.services import account_deletion_blockers
from sandbox.models import SandboxOperation
from tests.factories import FAILING_PAYOUT, OrderFactory, UserFactory, milestone_in, payout_account_set
from tests.services.ledger_checks import assert_money_conserved, balance, world

pytestmark = pytest.mark.django_db


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def _refunded_buyer(**fields):
    """A buyer whose 100.00 milestone was cancelled: 105.50 USD (amount and service fee) in their balance."""
    buyer = UserFactory(**fields)
    milestone_in(S.CANCELLED, order=OrderFactory(buyer=buyer), amount="100.00")
    assert balance(AccountKind.BUYER_BALANCE, user=buyer) == usd("105.50")
    return buyer


def test_a_buyer_withdraws_the_refund_of_a_cancelled_milestone(audit):
    buyer = _refunded_buyer()
    withdrawal = withdrawal_request(seller=buyer, amount=usd("105.50"), key=uuid.uuid4().hex)
    assert withdrawal.status == "requested" and withdrawal.method == WithdrawalMethod.BANK_TRANSFER
    assert balance(AccountKind.BUYER_BALANCE, user=buyer) == usd("0")
    assert balance(AccountKind.SELLER_WITHDRAWING, user=buyer) == usd("105.50")
    audit()
    assert_money_conserved()

    paid = withdrawal_process(withdrawal_id=withdrawal.pk)
    assert paid is not None and paid.status == "paid"
    assert balance(AccountKind.SELLER_WITHDRAWING, user=buyer) == usd("0")
    assert balance(AccountKind.PAYOUTS) == usd("105.50")
    audit()
    assert_money_conserved()
    assert account_deletion_blockers(buyer) == [], "nothing is left to hold the account"


def test_a_failed_payout_of_a_buyers_balance_returns_to_the_balance(audit):
    buyer = _refunded_buyer()
    payout_account_set(buyer, FAILING_PAYOUT)  # the sandbox's closed bank account
    withdrawal = withdrawal_request(seller=buyer, amount=usd("100.00"), key=uuid.uuid4().hex)
    failed = withdrawal_process(withdrawal_id=withdrawal.pk)
    assert failed is not None and failed.status == "failed"
    assert balance(AccountKind.BUYER_BALANCE, user=buyer) == usd("105.50")
    assert balance(AccountKind.SELLER_AVAILABLE, user=buyer) == usd("0"), "it goes back where it came from"
    assert balance(AccountKind.SELLER_WITHDRAWING, user=buyer) == usd("0")
    audit()
    assert_money_conserved()


def _seller_and_buyer():
    """One user who sold (80.00 USD cleared at once) and bought (105.50 USD refunded)."""
    user = _refunded_buyer(withdrawal_method=WithdrawalMethod.INSTANT)
    milestone_in(S.APPROVED, order=OrderFactory(seller=user), amount="100.00")
    assert balance(AccountKind.SELLER_AVAILABLE, user=user) == usd("80.00")
    payout_account_set(user, FAILING_PAYOUT, method=WithdrawalMethod.BANK_TRANSFER)
    return user


def test_a_withdrawal_takes_cleared_earnings_first_then_the_balance_and_a_failure_puts_each_back(audit):
    user = _seller_and_buyer()
    withdrawal = withdrawal_request(seller=user, amount=usd("100.00"), key=uuid.uuid4().hex)
    assert balance(AccountKind.SELLER_AVAILABLE, user=user) == usd("0")
    assert balance(AccountKind.BUYER_BALANCE, user=user) == usd("85.50"), "20.00 of the balance"
    assert balance(AccountKind.SELLER_WITHDRAWING, user=user) == usd("100.00")
    audit()
    withdrawal_process(withdrawal_id=withdrawal.pk)  # the closed bank account: refused
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "failed"
    assert balance(AccountKind.SELLER_AVAILABLE, user=user) == usd("80.00")
    assert balance(AccountKind.BUYER_BALANCE, user=user) == usd("105.50")
    audit()
    assert_money_conserved()


def test_the_whole_of_both_can_be_withdrawn_and_not_a_cent_more(audit):
    user = _seller_and_buyer()
    before = world()
    with pytest.raises(InsufficientFunds) as refused:
        withdrawal_request(seller=user, amount=usd("185.51"), key=uuid.uuid4().hex)
    assert "185.50" in refused.value.message
    assert world() == before
    withdrawal_request(seller=user, amount=usd("185.50"), key=uuid.uuid4().hex)
    assert balance(AccountKind.SELLER_AVAILABLE, user=user) == usd("0")
    assert balance(AccountKind.BUYER_BALANCE, user=user) == usd("0")
    audit()


def test_a_replayed_withdrawal_of_the_balance_takes_it_once(audit):
    buyer = _refunded_buyer()
    key = uuid.uuid4().hex
    withdrawal_request(seller=buyer, amount=usd("105.50"), key=key)
    before = world()
    with pytest.raises(DuplicateRequest):
        withdrawal_request(seller=buyer, amount=usd("105.50"), key=key)
    assert world() == before
    assert Transaction.objects.filter(kind="withdrawal_request").count() == 1
    audit()


def test_a_balance_withdrawn_can_no_longer_pay_for_a_milestone():
    buyer = _refunded_buyer()
    withdrawal_request(seller=buyer, amount=usd("105.50"), key=uuid.uuid4().hex)
    order = OrderFactory(buyer=buyer)
    with pytest.raises(InsufficientFunds):
        milestone_create(
            order=order,
            actor=buyer,
            title="More",
            description="More work.",
            deadline=timezone.now() + timedelta(days=9),
            amount=usd("10.00"),
            source=FundingSource(method="balance"),
            idempotency_key=uuid.uuid4().hex,
        )


# --- refund to card ------------------------------------------------------------------------------


def test_a_buyers_balance_goes_back_to_the_card_that_paid(audit):
    buyer = _refunded_buyer()
    card = Checkout.objects.get(buyer=buyer, status="paid")
    [command] = balance_refund_to_card(user=buyer, amount=usd("105.50"), key=uuid.uuid4().hex)
    assert (command.amount, command.payment_reference, command.checkout_id) == (
        usd("105.50"),
        card.payment_reference,
        card.pk,
    )
    assert balance(AccountKind.BUYER_BALANCE, user=buyer) == usd("0")
    assert balance(AccountKind.CARD_REFUNDS) == usd("105.50")
    audit()
    assert_money_conserved()
    assert "105.50\u00a0USD to your card is still on its way" in account_deletion_blockers(buyer)[0].message

    assert command_execute(command_id=command.pk).outcome == "succeeded"
    refund = SandboxOperation.objects.get(kind="refund")
    assert (refund.amount, refund.target) == (usd("105.50"), card.payment_reference)
    assert balance(AccountKind.CARD_REFUNDS) == usd("0")
    audit()
    assert_money_conserved()
    assert account_deletion_blockers(buyer) == []


def test_refund_to_card_goes_to_the_newest_payment_first_each_up_to_what_it_paid(audit):
    buyer = UserFactory()
    first = milestone_in(S.CANCELLED, order=OrderFactory(buyer=buyer), amount="100.00")  # 105.50 by card
    second = milestone_in(S.CANCELLED, order=OrderFactory(buyer=buyer), amount="50.00")  # 52.75 by card
    commands = balance_refund_to_card(user=buyer, amount=usd("150.00"), key=uuid.uuid4().hex)
    paid = {c.milestone_id: c for c in Checkout.objects.filter(buyer=buyer)}
    assert [(c.milestone_id, c.amount, c.payment_reference) for c in commands] == [
        (second.pk, usd("52.75"), paid[second.pk].payment_reference),
        (first.pk, usd("97.25"), paid[first.pk].payment_reference),
    ]
    assert balance(AccountKind.BUYER_BALANCE, user=buyer) == usd("8.25")
    audit()
    for command in commands:
        command_execute(command_id=command.pk)
    audit()
    assert_money_conserved()


def test_more_than_the_cards_can_take_back_is_refused_clearly_and_changes_nothing():
    buyer = _refunded_buyer()
    card = Checkout.objects.get(buyer=buyer, status="paid")
    # The card took back 100.00 already (a refund of another kind): 5.50 of it is left to refund.
    ProviderCommand.objects.create(
        kind="refund",
        status="succeeded",
        idempotency_key="refund:elsewhere",
        amount=usd("100.00"),
        user=buyer,
        checkout=card,
        payment_reference=card.payment_reference,
        next_attempt_at=timezone.now(),
    )
    before = world()
    with pytest.raises(InvalidInput) as refused:
        balance_refund_to_card(user=buyer, amount=usd("10.00"), key=uuid.uuid4().hex)
    assert refused.value.field == "amount"
    assert "At most 5.50\u00a0USD can go back to the cards you paid with" in refused.value.message
    assert world() == before
    balance_refund_to_card(user=buyer, amount=usd("5.50"), key=uuid.uuid4().hex)
    assert balance(AccountKind.BUYER_BALANCE, user=buyer) == usd("100.00")


@pytest.mark.parametrize(
    ("amount", "error"),
    [("105.51", InsufficientFunds), ("0.00", InvalidInput), ("-1.00", InvalidInput), ("1.005", InvalidInput)],
    ids=["more-than-the-balance", "zero", "negative", "three-decimals"],
)
def test_a_bad_amount_to_refund_to_card_changes_nothing(amount, error):
    buyer = _refunded_buyer()
    before = world()
    with pytest.raises(error):
        balance_refund_to_card(user=buyer, amount=usd(amount), key=uuid.uuid4().hex)
    assert world() == before


def test_a_replayed_refund_to_card_refunds_once(audit):
    buyer = _refunded_buyer()
    key = uuid.uuid4().hex
    balance_refund_to_card(user=buyer, amount=usd("105.50"), key=key)
    before = world()
    with pytest.raises(DuplicateRequest):
        balance_refund_to_card(user=buyer, amount=usd("105.50"), key=key)
    assert world() == before
    assert ProviderCommand.objects.filter(kind="refund").count() == 1
    audit()
