"""Races on a buyer's request (issue 36), real threads against PostgreSQL: two "Hire" presses on
different proposals at once hire one seller; hiring against the expiry sweep ends in one outcome.
The ledger audit is green after each."""

from __future__ import annotations

import uuid

import pytest
from djmoney.money import Money

from gigs.packages import StepInput
from marketplace.errors import DomainError
from milestones.models import Milestone
from notifications.models import Notification
from orders.models import Order
from payments.audit import ledger_audit
from requests_board.models import ProposalState, RequestProposal, RequestState
from requests_board.services import (
    ProposalInput,
    RequestInput,
    proposal_send,
    request_expire,
    request_hire,
    request_post,
)
from tests.concurrency import run_together
from tests.factories import BALANCE, UserFactory
from tests.services.ledger_checks import assert_money_conserved
from tests.services.test_offers import give_balance

pytestmark = pytest.mark.django_db(transaction=True)


def _audit_ok() -> None:
    report = ledger_audit()
    assert report.ok, report.summary()
    assert_money_conserved()


def _request_with_two_proposals():
    buyer = UserFactory()
    give_balance(buyer)
    buyer_request = request_post(
        buyer=buyer,
        data=RequestInput(title="A logo", description="Round.", category="design", budget=Money("300", "USD")),
    )
    proposals = [
        proposal_send(
            seller=UserFactory(),
            buyer_request=buyer_request,
            data=ProposalInput(
                message="Yes.",
                steps=(
                    StepInput(title="Sketch", deliverables="A sketch", days=2, price=Money(price, "USD")),
                    StepInput(title="Final", deliverables="The files", days=3, price=Money("50", "USD")),
                ),
            ),
        )
        for price in ("100", "120")
    ]
    return buyer, buyer_request, proposals


def test_two_hire_presses_on_different_proposals_hire_one():
    buyer, buyer_request, proposals = _request_with_two_proposals()
    results = run_together(
        *[(lambda p=p: request_hire(buyer=buyer, proposal=p, key=uuid.uuid4().hex, source=BALANCE)) for p in proposals]
    )
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
    assert not unexpected, unexpected
    orders = [r for r in results if isinstance(r, Order)]
    assert len(orders) == 1
    assert Order.objects.filter(buyer=buyer, gig=None).count() == 1
    assert Milestone.objects.filter(order=orders[0]).count() == 2
    buyer_request.refresh_from_db()
    assert buyer_request.state == RequestState.HIRED
    states = sorted(RequestProposal.objects.filter(request=buyer_request).values_list("state", flat=True))
    assert states == sorted([ProposalState.HIRED, ProposalState.DECLINED])
    assert Notification.objects.filter(event="proposal_declined").count() == 1
    _audit_ok()


def test_hire_against_expiry_ends_in_one_outcome():
    buyer, buyer_request, proposals = _request_with_two_proposals()
    # At ``expires_at`` the request is due to expire and hiring is refused: one outcome, expired.
    before = buyer_request.expires_at
    results = run_together(
        lambda: request_hire(buyer=buyer, proposal=proposals[0], key=uuid.uuid4().hex, source=BALANCE, now=before),
        lambda: request_expire(request_id=buyer_request.pk, now=before),
    )
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
    assert not unexpected, unexpected
    buyer_request.refresh_from_db()
    assert buyer_request.state == RequestState.EXPIRED
    assert not Order.objects.filter(buyer=buyer, gig=None).exists()
    _audit_ok()


def test_hire_just_before_expiry_wins_and_the_sweep_then_finds_nothing():
    from datetime import timedelta

    buyer, buyer_request, proposals = _request_with_two_proposals()
    just_before = buyer_request.expires_at - timedelta(seconds=1)
    results = run_together(
        lambda: request_hire(buyer=buyer, proposal=proposals[1], key=uuid.uuid4().hex, source=BALANCE, now=just_before),
        lambda: request_expire(request_id=buyer_request.pk, now=buyer_request.expires_at + timedelta(seconds=1)),
    )
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
    assert not unexpected, unexpected
    buyer_request.refresh_from_db()
    hired = buyer_request.state == RequestState.HIRED
    # Whichever took the request's lock first decided: hired (then the expiry found nothing), or
    # expired (then the hire was refused). Never both, never an order on an expired request.
    assert hired == Order.objects.filter(buyer=buyer, gig=None).exists()
    assert buyer_request.state in (RequestState.HIRED, RequestState.EXPIRED)
    _audit_ok()


def test_two_withdraw_presses_at_once_withdraw_once_and_tell_each_seller_once():
    from marketplace.errors import DuplicateRequest
    from requests_board.services import request_withdraw

    buyer, buyer_request, _proposals = _request_with_two_proposals()
    results = run_together(*[(lambda: request_withdraw(buyer=buyer, buyer_request=buyer_request)) for _ in range(2)])
    assert sorted(type(r).__name__ for r in results) == sorted(["BuyerRequest", DuplicateRequest.__name__])
    buyer_request.refresh_from_db()
    assert buyer_request.state == RequestState.WITHDRAWN
    assert Notification.objects.filter(event="proposal_declined").count() == 2
    assert set(RequestProposal.objects.values_list("state", flat=True)) == {ProposalState.DECLINED}


def test_withdraw_against_hire_ends_in_one_outcome():
    """The request's lock orders them: either the seller is hired and withdrawing is refused, or the
    request is withdrawn and no order opens; never both, and the ledger is green."""
    from requests_board.services import request_withdraw

    buyer, buyer_request, proposals = _request_with_two_proposals()
    results = run_together(
        lambda: request_hire(buyer=buyer, proposal=proposals[0], key=uuid.uuid4().hex, source=BALANCE),
        lambda: request_withdraw(buyer=buyer, buyer_request=buyer_request),
    )
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
    assert not unexpected, unexpected
    assert sum(isinstance(r, DomainError) for r in results) == 1
    buyer_request.refresh_from_db()
    hired = Order.objects.filter(buyer=buyer, gig=None).exists()
    assert buyer_request.state == (RequestState.HIRED if hired else RequestState.WITHDRAWN)
    _audit_ok()
