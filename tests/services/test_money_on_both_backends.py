"""The money paths on both backends: `make run` is SQLite, production PostgreSQL, and every
money rule must hold on each (``tests.backends``: each test runs twice, the second time with
the default connection swapped for SQLite's). The ledger audit closes every walk."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from djmoney.money import Money

from milestones.models import MilestoneState, ProposalState
from milestones.services.lifecycle import milestone_accept, milestone_approve, milestone_submit
from milestones.services.proposals import cancellation_request, proposal_accept
from milestones.services.tips import tip_leave
from milestones.sweeps import sweep_proposals
from payments.audit import ledger_audit
from payments.checkout import checkout_paid
from payments.models import AccountKind, Checkout, CheckoutStatus
from payments.services import withdrawal_request
from tests.backends import BOTH
from tests.factories import OrderFactory, create_milestone, milestone_in, open_checkout
from tests.services.ledger_checks import balance
from tests.services.test_changes import pay_on_sandbox
from tests.services.test_tips import open_tip_page

S = MilestoneState
pytestmark = pytest.mark.django_db(databases=BOTH)


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def audited() -> None:
    report = ledger_audit()
    assert report.ok, report.summary()


def test_a_card_milestone_and_a_card_tip_audit_clean(backend):
    """Regression (SQLite): a 22.00 card funding and a 6.00 tip left transactions that summed
    to -8.88E-16 in SQLite's floating point, and ledger_audit exited 1 after ordinary use."""
    assert connection.vendor == backend
    order = OrderFactory()
    milestone = create_milestone(order, amount="22.00")
    assert milestone.state == S.AWAITING_ACCEPTANCE
    milestone_accept(milestone=milestone, actor=order.seller)
    milestone_submit(milestone=milestone, actor=order.seller, message="Every screen.")
    milestone_approve(milestone=milestone, actor=order.buyer)
    checkout = tip_leave(milestone=milestone, actor=order.buyer, amount=usd("6.00"), method="card")
    assert isinstance(checkout, Checkout)
    pay_on_sandbox(open_tip_page(checkout))
    # 22.00 less 20% and 6.00 less 20%: 17.60 + 4.80.
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) + balance(
        AccountKind.SELLER_AVAILABLE, user=order.seller
    ) == usd("22.40")
    audited()


def test_a_half_refund_by_agreement_pays_each_side_its_share(backend):
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    proposal = cancellation_request(milestone=milestone, actor=order.buyer, refund=usd("50.00"), reason="Shelved.")
    proposal_accept(proposal=proposal, actor=order.seller)
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("52.75")
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == usd("40.00")
    audited()


def test_a_sellers_request_to_keep_the_money_lapses_unanswered(backend, settings):
    settings.CANCELLATION_RESPONSE_PERIOD = timedelta(hours=48)
    milestone = milestone_in(S.IN_PROGRESS, amount="10.00")
    proposal = cancellation_request(
        milestone=milestone, actor=milestone.order.seller, refund=usd("0.00"), reason="Keeping it."
    )
    sweep_proposals(now=proposal.respond_by)
    proposal.refresh_from_db()
    milestone.refresh_from_db()
    assert proposal.state == ProposalState.EXPIRED and milestone.state == S.IN_PROGRESS
    assert balance(AccountKind.ESCROW, milestone=milestone) == usd("10.00")
    audited()


def test_a_buyers_refund_can_be_withdrawn(backend):
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    proposal = cancellation_request(milestone=milestone, actor=order.buyer, refund=None, reason="Shelved.")
    proposal_accept(proposal=proposal, actor=order.seller)
    buyer = order.buyer
    buyer.payout_account = "GB33BUKB20201555555555"
    buyer.save(update_fields=["payout_account"])
    withdrawal_request(seller=buyer, amount=usd("105.50"), key="all-of-it")
    assert balance(AccountKind.BUYER_BALANCE, user=buyer) == usd("0.00")
    audited()


def test_a_payment_of_the_wrong_amount_leaves_the_checkout_payable(backend):
    milestone = create_milestone(OrderFactory(), pay=False)
    checkout = open_checkout(milestone)
    checkout_paid(checkout_id=checkout.pk, payment_reference="pi_wrong", amount=usd("1.00"))
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.OPEN
    assert checkout_paid(checkout_id=checkout.pk, payment_reference="pi_right", amount=checkout.amount) == "funded"
    audited()


def test_an_ordered_package_continued_by_card_then_stopped_audits_clean(backend):
    """Issue 35: the first step paid by card, the second continued by card, the third stopped with
    no money moved; the odd amounts are those that summed to dust in SQLite's floating point."""
    from milestones.models import Milestone
    from milestones.services.packages import milestone_continue, order_stop
    from orders.models import OrderStatus
    from payments.checkout import checkout_open
    from tests.factories import CARD, package_order, packaged_gig

    assert connection.vendor == backend
    gig, package = packaged_gig(steps=(("Design", "22.00", 3, 1), ("Build", "6.00", 2, 1), ("Test", "13.37", 1, 0)))
    order = package_order(gig, package, source=CARD)
    first, second, third = Milestone.objects.filter(order=order).order_by("position")
    milestone_accept(milestone=first, actor=order.seller)
    milestone_submit(milestone=first, actor=order.seller, message="Every screen.")
    milestone_approve(milestone=Milestone.objects.get(pk=first.pk), actor=order.buyer)
    checkout = milestone_continue(buyer=order.buyer, milestone=second, key="go", source=CARD)
    assert checkout is not None
    checkout_open(checkout=checkout, success_url="http://testserver/ok", cancel_url="http://testserver/no")
    pay_on_sandbox(Checkout.objects.get(pk=checkout.pk))
    assert Milestone.objects.get(pk=second.pk).state == S.IN_PROGRESS
    assert balance(AccountKind.ESCROW, milestone=second) == usd("6.00")
    audited()
    order_stop(buyer=order.buyer, order=order)
    assert Milestone.objects.get(pk=third.pk).state == S.CANCELLED
    order.refresh_from_db()
    assert order.status == OrderStatus.ACTIVE  # the second step is still in work
    audited()
