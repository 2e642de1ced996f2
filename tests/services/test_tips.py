"""Tips: once a milestone is approved its buyer may "Leave a tip" (up to the
milestone's amount, from the balance or by card) within TIP_WINDOW. The
seller gets it less the commission, on the order's timeline and the
earnings page, and it clears like any earning. Every refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from marketplace.errors import InsufficientFunds, InvalidInput, InvalidTransition, NotAllowed
from milestones.models import MilestoneState
from milestones.services.tips import open_tip_checkout, tip_checkout_paid, tip_leave
from milestones.sweeps import sweep_checkouts
from notifications.models import Notification
from orders.models import Activity
from payments.checkout import checkout_open
from payments.models import (
    AccountKind,
    Checkout,
    CheckoutStatus,
    CommandKind,
    Earning,
    EarningStatus,
    ProviderCommand,
    Tip,
    Transaction,
    TransactionKind,
)
from payments.receipts import receipt_for, receipts_for_milestone
from payments.sweeps import sweep_clearance
from tests.factories import SITE, OrderFactory, UserFactory, milestone_in
from tests.services.ledger_checks import assert_money_conserved, balance, world
from tests.services.test_changes import pay_on_sandbox
from tests.services.test_offers import give_balance

S = MilestoneState
pytestmark = pytest.mark.django_db


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def snapshot() -> dict:
    return {
        **world(),
        "tips": list(Tip.objects.values_list("pk", "amount")),
        "checkouts": list(Checkout.objects.order_by("pk").values_list("pk", "status")),
    }


def approved(order=None, amount: str = "100.00"):
    return milestone_in(S.APPROVED, order or OrderFactory(), amount=amount)


def open_tip_page(checkout: Checkout) -> Checkout:
    """What "Send tip" by card does after commit: the provider's page."""
    back = SITE + reverse("tip_checkout_return", args=[int(checkout.idempotency_key.split(":")[2])])
    return checkout_open(
        checkout=checkout, success_url=back + "?session_id={CHECKOUT_SESSION_ID}", cancel_url=back + "?cancelled=1"
    )


def test_a_tip_from_the_balance_reaches_the_seller_less_the_commission_and_clears_like_earnings(audit):
    milestone = approved()
    order = milestone.order
    give_balance(order.buyer, "50.00")
    before_balance = balance(AccountKind.BUYER_BALANCE, user=order.buyer)
    pending_before = balance(AccountKind.SELLER_PENDING, user=order.seller)

    tip = tip_leave(milestone=milestone, actor=order.buyer, amount=usd("20.00"), method="balance")

    assert isinstance(tip, Tip) and tip.amount == usd("20.00") and tip.method == "balance"
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == before_balance - usd("20.00")
    # The commission applies as on a release (20%); no service fee is added for the buyer.
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == pending_before + usd("16.00")
    earning = Earning.objects.get(tip=tip)
    assert earning.milestone is None and earning.for_milestone == milestone
    assert (earning.gross, earning.fee, earning.net) == (usd("20.00"), usd("4.00"), usd("16.00"))
    assert earning.status == EarningStatus.PENDING
    assert abs(earning.clears_at - (timezone.now() + order.seller.clearance_period)) < timedelta(minutes=1)
    txn = Transaction.objects.get(kind=TransactionKind.TIP)
    assert txn.milestone_id == milestone.pk and txn.idempotency_key == f"tip:{milestone.pk}"
    assert Activity.objects.filter(order=order, verb="tipped", note="20.00\u00a0USD tip").exists()
    assert Notification.objects.filter(recipient=order.seller, event="tip_received").exists()
    audit()
    assert_money_conserved()

    # It clears with the seller's other earnings, by the same sweep, when its time comes.
    assert sweep_clearance(now=earning.clears_at - timedelta(seconds=1)).done == 0
    assert Earning.objects.get(pk=earning.pk).status == EarningStatus.PENDING
    # The release of the milestone, approved moments before, clears in the same run.
    assert sweep_clearance(now=earning.clears_at).done == 2
    earning.refresh_from_db()
    assert earning.status == EarningStatus.CLEARED
    notice = Notification.objects.filter(recipient=order.seller, event="money_cleared").latest("pk")
    assert "a tip on" in notice.message and milestone.title in notice.message
    # The clearance's receipt names the milestone tipped, and says it was a tip.
    cleared = Transaction.objects.get(idempotency_key=f"clear:{earning.pk}")
    assert cleared.milestone_id == milestone.pk and cleared.memo == "Tip cleared, available to withdraw"
    audit()
    assert_money_conserved()


def test_each_party_has_a_receipt_for_the_tip(audit):
    milestone = approved()
    order = milestone.order
    give_balance(order.buyer, "50.00")
    tip_leave(milestone=milestone, actor=order.buyer, amount=usd("10.00"), method="balance")
    txn = Transaction.objects.get(kind=TransactionKind.TIP)

    buyer_receipt = receipt_for(order.buyer, txn.pk)
    assert buyer_receipt.label == "Tip"
    assert [(line.label, line.amount) for line in buyer_receipt.lines] == [("Tip to the seller", usd("10.00"))]
    seller_receipt = receipt_for(order.seller, txn.pk)
    assert seller_receipt.label == "Tip received"
    assert [(line.label, line.amount) for line in seller_receipt.lines] == [
        ("Tip (gross)", usd("10.00")),
        ("Platform commission", usd("2.00")),
        ("Net earning", usd("8.00")),
    ]
    assert any(link.label == "Tip" for link in receipts_for_milestone(milestone, order.buyer))
    with pytest.raises(Exception, match="No such receipt"):
        receipt_for(UserFactory(), txn.pk)
    audit()


def test_a_tip_by_card_waits_for_the_provider_and_is_posted_once(client, audit):
    milestone = approved()
    order = milestone.order
    transactions = Transaction.objects.count()

    checkout = tip_leave(milestone=milestone, actor=order.buyer, amount=usd("25.00"), method="card")
    assert isinstance(checkout, Checkout)
    assert checkout.purpose == "tip" and checkout.amount == usd("25.00") and checkout.milestone_id is None
    assert Transaction.objects.count() == transactions and not Tip.objects.exists()
    # Asking again with the same amount goes to the same page; another amount replaces it.
    assert tip_leave(milestone=milestone, actor=order.buyer, amount=usd("25.00"), method="card") == checkout
    replacement = tip_leave(milestone=milestone, actor=order.buyer, amount=usd("30.00"), method="card")
    assert replacement != checkout
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.CANCELLED
    assert open_tip_checkout(milestone) == replacement

    pay_on_sandbox(open_tip_page(replacement))
    tip = Tip.objects.get(milestone=milestone)
    assert tip.amount == usd("30.00") and tip.method == "card"
    assert Checkout.objects.get(pk=replacement.pk).status == CheckoutStatus.PAID
    assert balance(AccountKind.SELLER_PENDING, user=order.seller).amount >= 24
    receipt = receipt_for(order.buyer, Transaction.objects.get(kind=TransactionKind.TIP).pk)
    assert ("Paid from", "Card") in [(d.label, d.value) for d in receipt.details]
    audit()
    assert_money_conserved()

    # The provider telling us again changes nothing.
    before = snapshot()
    replacement.refresh_from_db()
    assert tip_checkout_paid(replacement.pk, replacement.payment_reference, usd("30.00")) == "already paid"
    assert snapshot() == before


def test_a_card_payment_after_a_tip_was_given_goes_back_to_the_card(audit):
    milestone = approved()
    order = milestone.order
    checkout = open_tip_page(tip_leave(milestone=milestone, actor=order.buyer, amount=usd("15.00"), method="card"))
    # Meanwhile, in another tab, the buyer tips from the balance.
    give_balance(order.buyer, "50.00")
    tip_leave(milestone=milestone, actor=order.buyer, amount=usd("5.00"), method="balance")
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.OPEN

    pay_on_sandbox(checkout)
    assert Tip.objects.filter(milestone=milestone).count() == 1
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.REFUNDED
    command = ProviderCommand.objects.get(kind=CommandKind.REFUND)
    assert command.amount == usd("15.00")
    audit()
    assert_money_conserved()


def test_an_unpaid_tip_checkout_expires_and_nothing_else_changes(audit):
    milestone = approved()
    checkout = tip_leave(milestone=milestone, actor=milestone.order.buyer, amount=usd("15.00"), method="card")
    before = snapshot()
    sweep_checkouts(now=checkout.expires_at)
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.EXPIRED
    after = snapshot()
    assert after["checkouts"] != before["checkouts"]
    assert {k: v for k, v in after.items() if k != "checkouts"} == {k: v for k, v in before.items() if k != "checkouts"}
    # The buyer may still tip afterwards.
    again = tip_leave(milestone=milestone, actor=milestone.order.buyer, amount=usd("5.00"), method="card")
    assert isinstance(again, Checkout)
    audit()


def test_a_seller_paid_instantly_has_the_tip_available_at_once(audit):
    seller = UserFactory(withdrawal_method="instant")
    milestone = approved(OrderFactory(seller=seller))
    give_balance(milestone.order.buyer, "50.00")
    available = balance(AccountKind.SELLER_AVAILABLE, user=seller)
    tip = tip_leave(milestone=milestone, actor=milestone.order.buyer, amount=usd("10.00"), method="balance")
    assert Earning.objects.get(tip=tip).status == EarningStatus.CLEARED
    assert balance(AccountKind.SELLER_AVAILABLE, user=seller) == available + usd("8.00")
    audit()
    assert_money_conserved()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (usd("100.01"), "between 1.00.USD and 100.00.USD"),
        (usd("0.99"), "between 1.00.USD and 100.00.USD"),
        (usd("0"), "between 1.00.USD and 100.00.USD"),
        (usd("-5.00"), "between 1.00.USD and 100.00.USD"),
        (usd("5.005"), "two decimal places"),
        (Money("5.00", "EUR"), "in USD"),
    ],
)
def test_a_tip_outside_its_limits_is_refused_next_to_the_amount_and_changes_nothing(amount, message, audit):
    milestone = approved()
    give_balance(milestone.order.buyer, "500.00")
    before = snapshot()
    with pytest.raises(InvalidInput, match=message) as refused:
        tip_leave(milestone=milestone, actor=milestone.order.buyer, amount=amount, method="balance")
    assert refused.value.field == "amount"
    assert snapshot() == before
    audit()


def test_the_whole_amount_is_the_most_a_tip_can_be(audit):
    milestone = approved(amount="40.00")
    give_balance(milestone.order.buyer, "100.00")
    tip = tip_leave(milestone=milestone, actor=milestone.order.buyer, amount=usd("40.00"), method="balance")
    assert tip.amount == usd("40.00")
    audit()


@pytest.mark.parametrize("who", ["seller", "outsider", "staff"])
def test_only_the_buyer_tips(who, staff, audit):
    milestone = approved()
    actor = {"seller": milestone.order.seller, "outsider": UserFactory(), "staff": staff}[who]
    before = snapshot()
    with pytest.raises(NotAllowed, match="Only the buyer"):
        tip_leave(milestone=milestone, actor=actor, amount=usd("5.00"), method="card")
    assert snapshot() == before


@pytest.mark.parametrize("state", [S.IN_PROGRESS, S.IN_REVIEW, S.CANCELLED, S.DISPUTED, S.RESOLVED, S.OFFERED])
def test_only_an_approved_milestone_can_be_tipped(state, audit):
    milestone = milestone_in(state, OrderFactory())
    before = snapshot()
    with pytest.raises(InvalidTransition, match=r"once .* is approved"):
        tip_leave(milestone=milestone, actor=milestone.order.buyer, amount=usd("5.00"), method="card")
    assert snapshot() == before


def test_one_tip_per_milestone(audit):
    milestone = approved()
    give_balance(milestone.order.buyer, "100.00")
    tip_leave(milestone=milestone, actor=milestone.order.buyer, amount=usd("5.00"), method="balance")
    before = snapshot()
    for method in ("balance", "card"):
        with pytest.raises(InvalidTransition, match="already tipped"):
            tip_leave(milestone=milestone, actor=milestone.order.buyer, amount=usd("5.00"), method=method)
    assert snapshot() == before
    audit()


def test_tips_close_when_the_window_after_approval_ends(audit):
    milestone = approved()
    give_balance(milestone.order.buyer, "100.00")
    assert milestone.approved_at is not None
    closes = milestone.approved_at + settings.TIP_WINDOW
    before = snapshot()
    with time_machine.travel(closes, tick=False), pytest.raises(InvalidTransition, match=r"Tips for .* closed"):
        tip_leave(milestone=milestone, actor=milestone.order.buyer, amount=usd("5.00"), method="balance")
    assert snapshot() == before
    with time_machine.travel(closes - timedelta(minutes=1), tick=False):
        tip_leave(milestone=milestone, actor=milestone.order.buyer, amount=usd("5.00"), method="balance")
    audit()


def test_a_balance_that_does_not_cover_the_tip_refuses_it_and_changes_nothing(audit):
    milestone = approved()
    give_balance(milestone.order.buyer, "10.00")
    before = snapshot()
    with pytest.raises(InsufficientFunds):
        tip_leave(milestone=milestone, actor=milestone.order.buyer, amount=usd("50.00"), method="balance")
    assert snapshot() == before
    audit()


def test_an_unknown_payment_method_is_refused(audit):
    milestone = approved()
    with pytest.raises(InvalidInput, match="how to pay") as refused:
        tip_leave(milestone=milestone, actor=milestone.order.buyer, amount=usd("5.00"), method="cash")
    assert refused.value.field == "method"
