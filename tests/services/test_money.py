"""Money: fees, refunds, paying from balance, clearance, withdrawals, splits.

Every scenario ends with the audit and the conservation check: what cards paid
in is exactly what sits in escrow, with sellers, with the platform, with
buyers, and what was paid out.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from marketplace.errors import DuplicateRequest, InsufficientFunds, InvalidInput
from marketplace.money import round_money
from milestones.models import MilestoneState as S
from milestones.services.disputes import dispute_resolve
from milestones.services.lifecycle import (
    milestone_accept,
    milestone_approve,
    milestone_cancel,
    milestone_decline,
    milestone_submit,
)
from payments.fees import buyer_service_fee, seller_commission
from payments.models import AccountKind, Earning, EarningStatus, Transaction, Withdrawal
from payments.services import FundingSource, earning_clear, withdrawal_process, withdrawal_request
from sandbox.models import SandboxOperation
from tests.factories import (
    CARD,
    FAILING_PAYOUT,
    OrderFactory,
    UserFactory,
    create_milestone,
    milestone_in,
    payout_account_set,
)
from tests.services.ledger_checks import assert_money_conserved, balance, world

pytestmark = pytest.mark.django_db

BALANCE = FundingSource(method="balance")


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def _approve(milestone, *, now=None):
    order = milestone.order
    milestone_accept(milestone=milestone, actor=order.seller)
    milestone_submit(milestone=milestone, actor=order.seller, message="Done")
    return milestone_approve(milestone=milestone, actor=order.buyer, now=now)


# --- fees -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "buyer_fee", "seller_fee"),
    [
        ("100.00", "5.50", "20.00"),
        ("10.01", "0.55", "2.00"),  # 0.55055 and 2.002: rounding down
        ("7.00", "0.39", "1.40"),  # 0.385: exactly half a cent, rounded half-up (half-even would say 0.38)
        ("5.03", "0.28", "1.01"),  # 0.27665 and 1.006: rounding up
        ("100000.00", "5500.00", "20000.00"),
    ],
)
def test_fees_are_rounded_once_half_up_and_stored(order, amount, buyer_fee, seller_fee, audit):
    milestone = create_milestone(order, amount=amount)
    assert milestone.buyer_fee == usd(buyer_fee)
    charge = SandboxOperation.objects.get(idempotency_key=f"checkout:{milestone.funding_key}:charge")
    assert charge.amount == usd(amount) + usd(buyer_fee), "the card is charged the amount plus the service fee"
    assert balance(AccountKind.ESCROW, milestone=milestone) == usd(amount)

    approved = _approve(milestone)
    assert approved.seller_fee == usd(seller_fee)
    earning = Earning.objects.get(milestone=milestone)
    assert earning.gross == usd(amount)
    assert earning.fee == usd(seller_fee)
    assert earning.net == usd(amount) - usd(seller_fee)
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == earning.net
    assert balance(AccountKind.PLATFORM_FEES) == usd(buyer_fee) + usd(seller_fee)
    audit()
    assert_money_conserved()


def test_the_rounding_helper_rounds_half_up_to_the_cent():
    assert round_money(usd("0.385")) == usd("0.39")
    assert round_money(usd("0.384999")) == usd("0.38")
    assert buyer_service_fee(usd("10.01")) == usd("0.55")
    assert seller_commission(usd("10.01")) == usd("2.00")


# --- refunds and paying from balance ------------------------------------------------------


@pytest.mark.parametrize("close", ["decline", "cancel_waiting", "cancel_queued"])
def test_a_milestone_closed_before_work_returns_amount_and_service_fee_to_the_buyer(order, close, audit):
    if close == "cancel_queued":
        milestone = milestone_in(S.ACCEPTED, order=order, amount="10.01")
        milestone_cancel(milestone=milestone, actor=order.buyer)
    else:
        milestone = create_milestone(order, amount="10.01")
        if close == "decline":
            milestone_decline(milestone=milestone, actor=order.seller, reason="Fully booked")
        else:
            milestone_cancel(milestone=milestone, actor=order.buyer)
    assert balance(AccountKind.ESCROW, milestone=milestone) == usd("0")
    refunded = usd("10.01") + usd("0.55")
    # Only the earlier phase's service fee (queued case) stays with the platform.
    fees_kept = usd("5.50") if close == "cancel_queued" else usd("0")
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == refunded
    assert balance(AccountKind.PLATFORM_FEES) == fees_kept
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == usd("0")
    audit()
    assert_money_conserved()


def test_a_refunded_buyer_can_pay_the_next_milestone_from_their_balance(order, audit):
    first = create_milestone(order, amount="100.00")
    milestone_cancel(milestone=first, actor=order.buyer)
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("105.50")

    charges = SandboxOperation.objects.count()
    second = create_milestone(order, amount="100.00", source=BALANCE)
    assert SandboxOperation.objects.count() == charges, "paying from balance does not touch the card"
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("0.00")
    assert balance(AccountKind.ESCROW, milestone=second) == usd("100.00")
    audit()
    assert_money_conserved()


def test_paying_from_a_balance_that_is_too_small_is_refused_and_creates_nothing(order, audit):
    first = create_milestone(order, amount="50.00")
    milestone_cancel(milestone=first, actor=order.buyer)  # balance 52.75
    penniless = OrderFactory()
    before = world()
    with pytest.raises(InsufficientFunds):
        create_milestone(order, amount="50.01", source=BALANCE)  # needs 52.76
    assert world() == before
    with pytest.raises(InsufficientFunds):
        create_milestone(penniless, amount="5.00", source=BALANCE)  # a buyer with no balance at all
    assert world() == before
    audit()


# --- clearance ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "wait"),
    [
        (WithdrawalMethod.INSTANT, timedelta(0)),
        (WithdrawalMethod.PAYPAL, timedelta(days=3)),
        (WithdrawalMethod.BANK_TRANSFER, timedelta(days=14)),
    ],
)
def test_earnings_clear_after_the_period_of_the_sellers_withdrawal_method(method, wait, audit):
    seller = UserFactory(withdrawal_method=method)
    order = OrderFactory(seller=seller)
    milestone = _approve(create_milestone(order, amount="100.00"))
    milestone.refresh_from_db()
    earning = Earning.objects.get(milestone=milestone)
    assert earning.clears_at == milestone.approved_at + wait
    if wait:
        assert earning.status == EarningStatus.PENDING
        assert balance(AccountKind.SELLER_PENDING, user=seller) == usd("80.00")
        assert balance(AccountKind.SELLER_AVAILABLE, user=seller) == usd("0")
        assert earning_clear(earning_id=earning.pk, now=earning.clears_at - timedelta(seconds=1)) is False
        assert balance(AccountKind.SELLER_AVAILABLE, user=seller) == usd("0"), "not before clears_at"
        assert earning_clear(earning_id=earning.pk, now=earning.clears_at) is True
    else:
        assert earning.status == EarningStatus.CLEARED, "instant payouts clear at once"
    earning.refresh_from_db()
    assert earning.status == EarningStatus.CLEARED
    assert balance(AccountKind.SELLER_PENDING, user=seller) == usd("0")
    assert balance(AccountKind.SELLER_AVAILABLE, user=seller) == usd("80.00")
    audit()
    assert_money_conserved()


def test_clearing_an_earning_twice_moves_the_money_once(order, audit):
    milestone = milestone_in(S.APPROVED, order=order)
    earning = Earning.objects.get(milestone=milestone)
    later = earning.clears_at + timedelta(days=1)
    assert earning_clear(earning_id=earning.pk, now=later) is True
    before = world()
    assert earning_clear(earning_id=earning.pk, now=later) is False
    assert world() == before
    assert Transaction.objects.filter(kind="clear").count() == 1
    assert balance(AccountKind.SELLER_AVAILABLE, user=order.seller) == usd("80.00")
    audit()


# --- withdrawals -------------------------------------------------------------------------------


def _seller_with_available(amount="100.00", **seller_fields):
    seller = UserFactory(withdrawal_method=WithdrawalMethod.INSTANT, **seller_fields)
    _approve(create_milestone(OrderFactory(seller=seller), amount=amount))
    return seller


def test_a_withdrawal_is_set_aside_then_paid_out(audit):
    seller = _seller_with_available("100.00")  # 80.00 available
    withdrawal = withdrawal_request(seller=seller, amount=usd("30.00"), key=uuid.uuid4().hex)
    assert withdrawal.status == "requested"
    assert balance(AccountKind.SELLER_AVAILABLE, user=seller) == usd("50.00")
    assert balance(AccountKind.SELLER_WITHDRAWING, user=seller) == usd("30.00")
    audit()
    assert_money_conserved()

    paid = withdrawal_process(withdrawal_id=withdrawal.pk)
    assert paid.status == "paid"
    assert paid.gateway_reference.startswith("po_sandbox_")
    assert balance(AccountKind.SELLER_WITHDRAWING, user=seller) == usd("0")
    assert balance(AccountKind.PAYOUTS) == usd("30.00")
    assert withdrawal_process(withdrawal_id=withdrawal.pk) is None, "a repeated task pays nothing more"
    assert balance(AccountKind.PAYOUTS) == usd("30.00")
    audit()
    assert_money_conserved()


def test_a_failed_payout_returns_the_money_to_available(audit):
    seller = _seller_with_available("100.00")
    payout_account_set(seller, FAILING_PAYOUT, method=WithdrawalMethod.BANK_TRANSFER)
    withdrawal = withdrawal_request(seller=seller, amount=usd("80.00"), key=uuid.uuid4().hex)
    assert balance(AccountKind.SELLER_AVAILABLE, user=seller) == usd("0")
    failed = withdrawal_process(withdrawal_id=withdrawal.pk)
    assert failed.status == "failed"
    assert "closed" in failed.failure_reason
    assert balance(AccountKind.SELLER_AVAILABLE, user=seller) == usd("80.00")
    assert balance(AccountKind.SELLER_WITHDRAWING, user=seller) == usd("0")
    assert balance(AccountKind.PAYOUTS) == usd("0")
    audit()
    assert_money_conserved()


def test_withdrawing_more_than_is_available_is_refused(audit):
    seller = _seller_with_available("100.00")
    before = world()
    with pytest.raises(InsufficientFunds):
        withdrawal_request(seller=seller, amount=usd("80.01"), key=uuid.uuid4().hex)
    assert world() == before
    withdrawal_request(seller=seller, amount=usd("80.00"), key=uuid.uuid4().hex)
    audit()


def test_pending_money_cannot_be_withdrawn(order):
    milestone_in(S.APPROVED, order=order)  # bank transfer: 80.00 pending for 14 days
    before = world()
    with pytest.raises(InsufficientFunds):
        withdrawal_request(seller=order.seller, amount=usd("1.00"), key=uuid.uuid4().hex)
    assert world() == before


def test_the_same_withdrawal_form_posted_twice_withdraws_once(audit):
    seller = _seller_with_available("100.00")
    key = uuid.uuid4().hex
    withdrawal_request(seller=seller, amount=usd("10.00"), key=key)
    before = world()
    with pytest.raises(DuplicateRequest):
        withdrawal_request(seller=seller, amount=usd("10.00"), key=key)
    assert world() == before
    assert Withdrawal.objects.filter(seller=seller).count() == 1
    audit()


@pytest.mark.parametrize(
    ("amount", "field"), [("0.00", "amount"), ("-5.00", "amount"), ("1.001", "amount")], ids=["zero", "neg", "3dp"]
)
def test_a_withdrawal_of_a_bad_amount_is_refused(amount, field):
    seller = _seller_with_available("100.00")
    before = world()
    with pytest.raises(InvalidInput) as refused:
        withdrawal_request(seller=seller, amount=usd(amount), key=uuid.uuid4().hex)
    assert refused.value.field == field
    assert world() == before


def test_a_withdrawal_needs_a_payout_account():
    seller = _seller_with_available("100.00", payout_account="")
    with pytest.raises(InvalidInput) as refused:
        withdrawal_request(seller=seller, amount=usd("10.00"), key=uuid.uuid4().hex)
    assert refused.value.field == "payout_account"


# --- disputes ---------------------------------------------------------------------------------


def test_a_split_pays_exactly_the_amounts_with_the_fee_on_the_sellers_part_only(order, staff, audit):
    milestone = milestone_in(S.DISPUTED, order=order, amount="100.00")
    dispute = dispute_resolve(dispute=milestone.dispute, actor=staff, outcome="split", seller_amount=usd("40.01"))
    assert dispute.seller_amount == usd("40.01")
    assert dispute.buyer_amount == usd("59.99")
    earning = Earning.objects.get(milestone=milestone)
    assert earning.gross == usd("40.01")
    assert earning.fee == usd("8.00")  # 20% of 40.01 = 8.002
    assert earning.net == usd("32.01")
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == usd("32.01")
    # The service fee comes back in proportion: 59.99% of 5.50 = 3.29945, rounded half up to 3.30.
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("59.99") + usd("3.30")
    assert balance(AccountKind.PLATFORM_FEES) == usd("5.50") - usd("3.30") + usd("8.00")
    assert balance(AccountKind.ESCROW, milestone=milestone) == usd("0")
    audit()
    assert_money_conserved()


def test_a_dispute_released_to_the_seller_pays_like_an_approval(order, staff, audit):
    milestone = milestone_in(S.DISPUTED, order=order, amount="100.00")
    dispute_resolve(dispute=milestone.dispute, actor=staff, outcome="release")
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == usd("80.00")
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("0")
    audit()
    assert_money_conserved()


def test_a_dispute_refunded_to_the_buyer_returns_the_amount_and_the_service_fee(order, staff, audit):
    milestone = milestone_in(S.DISPUTED, order=order, amount="100.00")
    dispute_resolve(dispute=milestone.dispute, actor=staff, outcome="refund")
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("105.50")
    assert balance(AccountKind.PLATFORM_FEES) == usd("0")
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == usd("0")
    assert not Earning.objects.filter(milestone=milestone).exists()
    audit()
    assert_money_conserved()


def test_money_is_conserved_across_a_busy_marketplace(staff, audit):
    """Several orders, every way money moves, then one conservation check."""
    sellers = [UserFactory(withdrawal_method=m) for m in WithdrawalMethod.values]
    for index, seller in enumerate(sellers):
        order = OrderFactory(seller=seller)
        approved = milestone_in(S.APPROVED, order=order, amount=f"{10 + index}.01")
        milestone_in(S.CANCELLED, order=order, amount="33.33")
        milestone_decline(milestone=create_milestone(order, amount="12.34", source=BALANCE), actor=seller, reason="No")
        disputed = milestone_in(S.DISPUTED, order=order, amount="99.99")
        dispute_resolve(dispute=disputed.dispute, actor=staff, outcome="split", seller_amount=usd("33.33"))
        earning = Earning.objects.get(milestone=approved)
        earning_clear(earning_id=earning.pk, now=earning.clears_at)
        available = balance(AccountKind.SELLER_AVAILABLE, user=seller)
        withdrawal = withdrawal_request(seller=seller, amount=available, key=uuid.uuid4().hex)
        withdrawal_process(withdrawal_id=withdrawal.pk)
        milestone_in(S.IN_REVIEW, order=order, amount="5.00", source=CARD)
    audit()
    assert_money_conserved()
