"""Issue 34, 17: the parties can still settle a disputed milestone between themselves. A
cancellation by agreement is asked and accepted in a dispute; accepting it withdraws the
dispute and posts the ledger through the same settlement, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from djmoney.money import Money

from marketplace.errors import InvalidTransition
from milestones.forms import DisputeForm
from milestones.models import Dispute, DisputeState, MilestoneState, ProposalState
from milestones.services.disputes import dispute_resolve
from milestones.services.proposals import cancellation_request, proposal_accept, proposal_expire
from notifications.models import Notification
from payments.audit import ledger_audit
from payments.ledger import escrow_balance
from payments.models import AccountKind
from tests.backends import BOTH
from tests.factories import milestone_in
from tests.services.ledger_checks import balance

S = MilestoneState
pytestmark = pytest.mark.django_db(databases=BOTH)


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def test_a_disputed_milestone_accepts_a_cancellation_request_and_accepting_withdraws_the_dispute(backend):
    assert connection.vendor == backend
    milestone = milestone_in(S.DISPUTED, amount="100.00")
    order = milestone.order
    proposal = cancellation_request(milestone=milestone, actor=order.seller, refund=usd("50.00"), reason="Half done.")
    assert proposal.state == ProposalState.PENDING
    proposal_accept(proposal=proposal, actor=order.buyer)

    milestone.refresh_from_db()
    dispute = Dispute.objects.get(milestone=milestone)
    assert milestone.state == S.CANCELLED
    assert dispute.state == DisputeState.WITHDRAWN
    assert escrow_balance(milestone) == usd("0.00")
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == usd("52.75")
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == usd("40.00")
    told = Notification.objects.filter(recipient=order.seller, event="cancellation_accepted").get()
    assert "settles the dispute" in told.message
    assert ledger_audit().ok


def test_staff_cannot_resolve_a_dispute_the_parties_settled(backend, staff):
    milestone = milestone_in(S.DISPUTED, amount="100.00")
    order = milestone.order
    proposal = cancellation_request(milestone=milestone, actor=order.buyer, refund=usd("100.00"), reason="Stop.")
    proposal_accept(proposal=proposal, actor=order.seller)
    with pytest.raises(InvalidTransition):
        dispute_resolve(dispute=Dispute.objects.get(milestone=milestone), actor=staff, outcome="release")
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == usd("0.00")
    assert ledger_audit().ok


def test_silence_never_settles_a_dispute(backend, settings):
    milestone = milestone_in(S.DISPUTED, amount="100.00")
    proposal = cancellation_request(
        milestone=milestone, actor=milestone.order.seller, refund=usd("100.00"), reason="Everything back."
    )
    assert proposal_expire(proposal_id=proposal.pk, now=proposal.respond_by + timedelta(seconds=1))
    proposal.refresh_from_db()
    milestone.refresh_from_db()
    assert proposal.state == ProposalState.EXPIRED
    assert milestone.state == S.DISPUTED
    assert Dispute.objects.get(milestone=milestone).state == DisputeState.OPEN


def test_the_dispute_form_says_what_happens_next_and_how_long_staff_take(settings):
    settings.DISPUTE_RESPONSE_DAYS = 2
    help_text = DisputeForm().fields["reason"].help_text
    assert "within 2 days" in help_text
    assert "withdraws the dispute" in help_text


def test_the_order_page_offers_a_cancellation_on_a_disputed_milestone(client, order):
    milestone = milestone_in(S.DISPUTED, order=order)
    client.force_login(order.seller)
    html = client.get(order.get_absolute_url()).content.decode()
    assert reverse("milestone_cancellation", args=[milestone.pk]) in html


def test_the_seller_asks_to_cancel_a_disputed_milestone_from_the_order_page(client, order):
    milestone = milestone_in(S.DISPUTED, order=order, amount="100.00")
    client.force_login(order.seller)
    response = client.post(
        reverse("milestone_cancellation", args=[milestone.pk]),
        {"refund": "60.00", "reason": "Let us settle: 60 back."},
        follow=True,
    )
    assert response.status_code == 200
    proposal = milestone.proposals.get()
    assert (proposal.state, proposal.refund_amount) == (ProposalState.PENDING, usd("60.00"))
    assert Notification.objects.filter(recipient=order.buyer, event="cancellation_requested").exists()


def test_a_percentage_split_posts_the_share_worked_out_under_the_lock(backend):
    from decimal import Decimal

    from tests.factories import StaffFactory

    milestone = milestone_in(S.DISPUTED, amount="100.00")
    order = milestone.order
    dispute = Dispute.objects.get(milestone=milestone)
    dispute_resolve(dispute=dispute, actor=StaffFactory(), outcome="split", seller_percent=Decimal("40"), note="2/5")
    dispute.refresh_from_db()
    assert (dispute.seller_amount, dispute.buyer_amount) == (usd("40.00"), usd("60.00"))
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == usd("32.00")  # less the 8.00 fee
    assert ledger_audit().ok
