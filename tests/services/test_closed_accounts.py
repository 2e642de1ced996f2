"""A closed account: nothing new starts with it. Regression: after a seller deleted their
account a buyer could still tip them (16.00 stranded in ``deleted-<id>``'s balance, which
nobody can withdraw) and fund a new milestone on the order that nobody could ever accept."""

from __future__ import annotations

import pytest
from django.urls import reverse
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from marketplace.errors import NotAllowed
from milestones.models import Milestone, MilestoneState
from milestones.services.creation import milestone_create
from milestones.services.offers import offer_create
from milestones.services.tips import tip_checkout_paid, tip_leave
from orders.models import Activity
from payments.models import AccountKind, Checkout, CheckoutStatus, ProviderCommand, Tip, Transaction
from payments.outbox import command_execute
from payments.services import withdrawal_request
from privacy.services import account_delete
from tests.factories import CARD, OrderFactory, UserFactory, milestone_in
from tests.services.ledger_checks import balance
from tests.services.test_offers import give_balance

S = MilestoneState
PASSWORD = "correct-horse-battery"
pytestmark = pytest.mark.django_db


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def _approved() -> Milestone:
    """An approved 100.00 milestone whose seller clears at once and has a payout account."""
    seller = UserFactory(withdrawal_method=WithdrawalMethod.INSTANT, payout_account="GB33BUKB20201555555555")
    return milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="100.00")


def _seller_leaves(milestone: Milestone):
    """The seller takes their 80.00 out (paid by the provider), then deletes the account."""
    seller = milestone.order.seller
    withdrawal = withdrawal_request(seller=seller, amount=usd("80.00"), key="all-out")
    command_execute(command_id=ProviderCommand.objects.get(withdrawal=withdrawal).pk)
    account_delete(user=seller, password=PASSWORD)
    milestone.order.refresh_from_db()
    milestone.order.seller.refresh_from_db()
    return milestone.order


def test_no_tip_and_no_new_milestone_for_a_seller_who_closed_their_account(audit):
    milestone = _approved()
    order = _seller_leaves(milestone)
    give_balance(order.buyer, "50.00")
    before = Transaction.objects.count()
    with pytest.raises(NotAllowed, match="seller of this order closed their account"):
        tip_leave(milestone=milestone, actor=order.buyer, amount=usd("16.00"), method="balance")
    with pytest.raises(NotAllowed, match="closed their account"):
        milestone_create(
            order=order,
            actor=order.buyer,
            title="More",
            description="More work.",
            deadline=milestone.deadline,
            amount=usd("20.00"),
            source=CARD,
            idempotency_key="after-close",
        )
    assert Transaction.objects.count() == before and not Tip.objects.exists()
    assert Milestone.objects.filter(order=order).count() == 1
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == usd("0")
    assert Activity.objects.filter(order=order, verb="account_closed", note="The seller closed their account.").exists()
    audit()


def test_no_offer_to_a_buyer_who_closed_their_account():
    milestone = milestone_in(S.APPROVED)
    order = milestone.order
    account_delete(user=order.buyer, password=PASSWORD)
    order.refresh_from_db()
    with pytest.raises(NotAllowed, match="buyer of this order closed their account"):
        offer_create(
            order=order,
            actor=order.seller,
            title="Maintenance",
            description="Fixes.",
            deadline=milestone.deadline,
            amount=usd("30.00"),
            idempotency_key="offer-after-close",
        )


def test_an_open_tip_checkout_closes_with_the_account_and_a_late_payment_goes_back(audit):
    milestone = _approved()
    buyer = milestone.order.buyer
    checkout = tip_leave(milestone=milestone, actor=buyer, amount=usd("16.00"), method="card")
    assert isinstance(checkout, Checkout)
    _seller_leaves(milestone)
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.CANCELLED
    outcome = tip_checkout_paid(checkout.pk, "pi_late_tip", usd("16.00"))
    assert outcome.startswith("refunded") and not Tip.objects.exists()
    assert balance(AccountKind.CARD_REFUNDS) == usd("16.00")
    audit()


def test_the_order_page_says_the_account_was_closed_and_offers_nothing_new(client):
    milestone = _approved()
    order = _seller_leaves(milestone)
    client.force_login(order.buyer, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(order.get_absolute_url()).content.decode()
    assert "This account was closed" in page
    assert "Create milestone" not in page and "Leave a tip" not in page
    assert reverse("order_complete", args=[order.pk]) in page  # what still ends the order
