"""Agreeing on terms under real concurrency (threads on PostgreSQL): accepting
a cancellation, an offer or changes against the other clicks that could land
at the same moment. Each race ends in one outcome, and the ledger stays true."""

from __future__ import annotations

from decimal import Decimal

import pytest
from djmoney.money import Money

from milestones.models import Milestone, Proposal, ProposalState
from milestones.models import MilestoneState as S
from milestones.services.changes import changes_accept, changes_request
from milestones.services.disputes import milestone_open_dispute
from milestones.services.lifecycle import milestone_accept, milestone_approve
from milestones.services.offers import offer_accept, offer_decline, offer_withdraw
from milestones.services.proposals import cancellation_request, proposal_accept, proposal_withdraw
from payments.models import AccountKind, Earning, Transaction
from payments.services import FundingSource
from tests.db.test_races import _audit_ok, _wins, race
from tests.factories import OrderFactory, create_offer, milestone_in
from tests.services.ledger_checks import balance

pytestmark = pytest.mark.django_db(transaction=True)
BALANCE = FundingSource(method="balance")


def _fund_balance(user, amount: str) -> None:
    """Money on the buyer's balance, as a refund would leave it: a cancelled milestone."""
    order = OrderFactory(buyer=user)
    milestone_in(S.CANCELLED, order=order, amount=amount)


@pytest.mark.parametrize(
    ("state", "other"),
    [
        (S.IN_REVIEW, "approve"),
        *[
            (state, other)
            for state in (S.IN_REVIEW, S.IN_PROGRESS)
            for other in ("dispute", "withdraw", "second_accept")
        ],
    ],
)
def test_accepting_a_cancellation_against_another_click_ends_in_one_outcome(state, other):
    milestone = milestone_in(state, amount="100.00")
    order = milestone.order
    proposal = cancellation_request(
        milestone=milestone, actor=order.buyer, refund=Money("50.00", "USD"), reason="Plans changed"
    )
    accept = lambda: proposal_accept(proposal=proposal, actor=order.seller)  # noqa: E731
    rival = {
        "approve": lambda: milestone_approve(milestone=milestone, actor=order.buyer),
        "dispute": lambda: milestone_open_dispute(milestone=milestone, actor=order.seller, reason="Stuck"),
        "withdraw": lambda: proposal_withdraw(proposal=proposal, actor=order.buyer),
        "second_accept": accept,
    }[other]
    results = race(accept, rival)
    assert len(_wins(results)) == 1, results
    milestone.refresh_from_db()
    proposal.refresh_from_db()
    settlements = Transaction.objects.filter(milestone=milestone, idempotency_key=f"settle:{milestone.pk}")
    if milestone.state == S.CANCELLED:
        assert proposal.state == ProposalState.ACCEPTED
        assert settlements.get().kind == "split"
        assert Earning.objects.get(milestone=milestone).gross == Money("50.00", "USD")
    elif milestone.state == S.APPROVED:
        assert proposal.state == ProposalState.WITHDRAWN and settlements.get().kind == "release"
    elif milestone.state == S.DISPUTED:
        assert proposal.state == ProposalState.WITHDRAWN and not settlements.exists()
    else:
        assert other == "withdraw" and proposal.state == ProposalState.WITHDRAWN
        assert milestone.state == state and not settlements.exists()
    _audit_ok()


@pytest.mark.parametrize("other", ["withdraw", "second_accept", "decline"])
def test_accepting_an_offer_against_another_click_charges_at_most_once(other):
    order = OrderFactory()
    _fund_balance(order.buyer, "300.00")
    offer = create_offer(order, amount="100.00")
    pay = lambda: offer_accept(milestone=offer, actor=order.buyer, source=BALANCE)  # noqa: E731
    rival = {
        "withdraw": lambda: offer_withdraw(milestone=offer, actor=order.seller),
        "second_accept": pay,
        "decline": lambda: offer_decline(milestone=offer, actor=order.buyer),
    }[other]
    results = race(pay, rival)
    assert len(_wins(results)) == 1, results
    offer.refresh_from_db()
    funds = Transaction.objects.filter(milestone=offer, kind="fund").count()
    if offer.state == S.IN_PROGRESS:
        assert funds == 1
        assert balance(AccountKind.ESCROW, milestone=offer) == Money("100.00", "USD")
    else:
        assert offer.state in (S.CANCELLED, S.OFFER_DECLINED) and funds == 0
    _audit_ok()


def test_accepting_higher_changes_against_the_seller_accepting_the_old_terms_ends_in_one_outcome():
    milestone = milestone_in(S.AWAITING_ACCEPTANCE, amount="100.00")
    order = milestone.order
    _fund_balance(order.buyer, "300.00")
    proposal = changes_request(
        milestone=milestone,
        actor=order.seller,
        new_deadline=None,
        new_amount=Money("150.00", "USD"),
        new_description="",
    )
    results = race(
        lambda: changes_accept(proposal=proposal, actor=order.buyer, method="balance"),
        lambda: milestone_accept(milestone=milestone, actor=order.seller),
    )
    milestone.refresh_from_db()
    proposal.refresh_from_db()
    held = balance(AccountKind.ESCROW, milestone=milestone)
    assert held == milestone.amount
    if proposal.state == ProposalState.ACCEPTED:
        # The changes came first; the seller then accepted the new terms.
        assert milestone.amount == Money("150.00", "USD")
        assert len(_wins(results)) == 2
    else:
        assert proposal.state == ProposalState.WITHDRAWN
        assert milestone.amount == Money("100.00", "USD")
        assert not Transaction.objects.filter(idempotency_key__startswith="top-up:").exists()
    assert milestone.state == S.IN_PROGRESS
    assert Milestone.objects.get(pk=milestone.pk).amount.amount in (Decimal("100.00"), Decimal("150.00"))
    assert Proposal.objects.filter(state=ProposalState.PENDING).count() == 0
    _audit_ok()
