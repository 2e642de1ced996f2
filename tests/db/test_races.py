"""Real threads against PostgreSQL: double clicks, two tabs, two workers.

Each test starts its threads together on a barrier; every thread has its own
connection (closed at the end) and works on committed data, so the row locks
and unique indexes are what decide, exactly as in production.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from djmoney.money import Money

from accounts.models import WithdrawalMethod
from marketplace.errors import DomainError, DuplicateRequest, InsufficientFunds, InvalidTransition
from milestones.models import Milestone
from milestones.models import MilestoneState as S
from milestones.services.disputes import dispute_resolve, milestone_open_dispute
from milestones.services.lifecycle import (
    milestone_accept,
    milestone_approve,
    milestone_cancel,
    milestone_decline,
    milestone_request_revision,
    milestone_submit,
)
from milestones.services.proposals import extension_request, proposal_accept, proposal_decline, proposal_withdraw
from payments.audit import ledger_audit
from payments.models import AccountKind, Earning, Transaction, Withdrawal
from payments.services import earning_clear, withdrawal_process, withdrawal_request
from sandbox.models import SandboxOperation
from tests.concurrency import run_together
from tests.factories import CARD, OrderFactory, StaffFactory, UserFactory, create_milestone, milestone_in
from tests.services.ledger_checks import assert_money_conserved, balance

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls at the same moment, one thread each; return results or exceptions, in order."""
    results = run_together(*calls)
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
    assert not unexpected, f"a racer crashed instead of being refused: {unexpected!r}"
    return results


def _wins(results) -> list[object]:
    return [r for r in results if not isinstance(r, Exception)]


def _audit_ok() -> None:
    report = ledger_audit()
    assert report.ok, report.summary()
    assert_money_conserved()


def test_twenty_simultaneous_approvals_pay_the_seller_once():
    milestone = milestone_in(S.IN_REVIEW, amount="100.00")
    buyer = milestone.order.buyer
    results = race(*[lambda: milestone_approve(milestone=milestone, actor=buyer)] * 20)
    assert len(_wins(results)) == 1
    assert all(isinstance(r, InvalidTransition) for r in results if isinstance(r, Exception))
    assert Earning.objects.filter(milestone=milestone).count() == 1
    assert Transaction.objects.filter(milestone=milestone, kind="release").count() == 1
    assert balance(AccountKind.SELLER_PENDING, user=milestone.order.seller) == Money("80.00", "USD")
    _audit_ok()


def _act(action, milestone):  # untyped: factories are not typed as their models
    order = milestone.order
    staff = StaffFactory()
    return {
        "approve": lambda: milestone_approve(milestone=milestone, actor=order.buyer),
        "auto_approve": lambda: milestone_approve(
            milestone=milestone, actor=None, now=timezone.now() + timedelta(days=30)
        ),
        "revision": lambda: milestone_request_revision(milestone=milestone, actor=order.buyer, feedback="Redo!"),
        "dispute": lambda: milestone_open_dispute(milestone=milestone, actor=order.seller, reason="Silence"),
        "cancel": lambda: milestone_cancel(milestone=milestone, actor=order.buyer),
        "accept": lambda: milestone_accept(milestone=milestone, actor=order.seller),
        "decline": lambda: milestone_decline(milestone=milestone, actor=order.seller, reason="Busy"),
        "resolve_release": lambda: dispute_resolve(dispute=milestone.dispute, actor=staff, outcome="release"),
        "resolve_refund": lambda: dispute_resolve(dispute=milestone.dispute, actor=staff, outcome="refund"),
    }[action]


OUTCOME = {
    "approve": S.APPROVED,
    "auto_approve": S.APPROVED,
    "revision": S.REVISION_REQUESTED,
    "dispute": S.DISPUTED,
    "cancel": S.CANCELLED,
    "accept": S.IN_PROGRESS,
    "decline": S.DECLINED,
    "resolve_release": S.RESOLVED,
    "resolve_refund": S.RESOLVED,
}


@pytest.mark.parametrize(
    ("state", "actions"),
    [
        # Competitors whose outcomes exclude each other (a revision *then* a dispute is legal).
        (S.IN_REVIEW, ["approve", "revision", "auto_approve"]),
        (S.IN_REVIEW, ["approve", "dispute"]),
        (S.IN_REVIEW, ["approve", "cancel"]),
        (S.AWAITING_ACCEPTANCE, ["accept", "decline", "cancel"]),
        (S.DISPUTED, ["resolve_release", "resolve_refund"]),
    ],
    ids=["approve-revision-auto", "approve-dispute", "approve-cancel", "accept-decline-cancel", "two-staff"],
)
def test_competing_clicks_leave_exactly_one_outcome(state, actions):
    milestone = milestone_in(state, amount="100.00")
    callers = [_act(action, milestone) for action in actions for _ in range(3)]
    labels = [action for action in actions for _ in range(3)]
    results = race(*callers)
    winners = [label for label, r in zip(labels, results, strict=True) if not isinstance(r, Exception)]
    assert len(winners) == 1, f"winners: {winners}"
    final = Milestone.objects.get(pk=milestone.pk)
    assert final.state == OUTCOME[winners[0]]
    refusals = Counter(type(r).__name__ for r in results if isinstance(r, Exception))
    assert set(refusals) <= {"InvalidTransition"}, refusals
    assert Transaction.objects.filter(milestone=milestone).exclude(kind="fund").count() <= 1
    _audit_ok()


def _seller_with_available(amount):
    seller = UserFactory(withdrawal_method=WithdrawalMethod.INSTANT)
    milestone = create_milestone(OrderFactory(seller=seller), amount=amount)
    order = milestone.order
    milestone_accept(milestone=milestone, actor=seller)
    milestone_submit(milestone=milestone, actor=seller, message="Done")
    milestone_approve(milestone=milestone, actor=order.buyer)
    return seller


def test_two_withdrawals_at_once_cannot_overdraw():
    seller = _seller_with_available("100.00")  # 80.00 available
    fifty = Money("50.00", "USD")
    results = race(
        lambda: withdrawal_request(seller=seller, amount=fifty, key=uuid.uuid4().hex),
        lambda: withdrawal_request(seller=seller, amount=fifty, key=uuid.uuid4().hex),
    )
    assert len(_wins(results)) == 1
    assert sum(isinstance(r, InsufficientFunds) for r in results) == 1
    assert balance(AccountKind.SELLER_AVAILABLE, user=seller) == Money("30.00", "USD")
    assert balance(AccountKind.SELLER_WITHDRAWING, user=seller) == fifty
    _audit_ok()


def test_many_small_withdrawals_at_once_stop_at_the_balance():
    seller = _seller_with_available("100.00")  # 80.00 available
    results = race(*[lambda: withdrawal_request(seller=seller, amount=Money("15.00", "USD"), key=uuid.uuid4().hex)] * 8)
    assert len(_wins(results)) == 5  # 5 x 15.00 = 75.00 <= 80.00 < 90.00
    assert balance(AccountKind.SELLER_AVAILABLE, user=seller) == Money("5.00", "USD")
    _audit_ok()


def test_the_same_milestone_form_posted_from_many_tabs_charges_once():
    order = OrderFactory()
    key = uuid.uuid4().hex
    results = race(*[lambda: create_milestone(order, amount="100.00", source=CARD, key=key)] * 10)
    wins = _wins(results)
    assert len(wins) == 1
    duplicates = [r for r in results if isinstance(r, DuplicateRequest)]
    assert len(duplicates) == 9
    assert all(d.obj.pk == wins[0].pk for d in duplicates), "each duplicate points at the milestone that was made"
    assert Milestone.objects.filter(order=order).count() == 1
    assert SandboxOperation.objects.filter(kind="charge").count() == 1
    assert Transaction.objects.filter(kind="fund").count() == 1
    _audit_ok()


def test_different_milestones_created_at_once_all_get_their_own_place_in_line():
    order = OrderFactory()
    results = race(*[lambda: create_milestone(order, amount="10.00")] * 6)
    assert len(_wins(results)) == 6
    positions = sorted(Milestone.objects.filter(order=order).values_list("position", flat=True))
    assert positions == [1, 2, 3, 4, 5, 6]
    _audit_ok()


def test_approvals_for_one_new_seller_from_many_orders_at_once_all_pay():
    seller = UserFactory(withdrawal_method=WithdrawalMethod.PAYPAL)
    in_review = [milestone_in(S.IN_REVIEW, order=OrderFactory(seller=seller), amount="10.00") for _ in range(6)]
    results = race(*[lambda m=m: milestone_approve(milestone=m, actor=m.order.buyer) for m in in_review])
    assert len(_wins(results)) == 6
    assert balance(AccountKind.SELLER_PENDING, user=seller) == Money("48.00", "USD")
    _audit_ok()


def test_a_repeated_clearance_task_clears_once():
    seller = UserFactory(withdrawal_method=WithdrawalMethod.PAYPAL)
    milestone = milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="100.00")
    earning = Earning.objects.get(milestone=milestone)
    later = earning.clears_at + timedelta(minutes=1)
    results = race(*[lambda: earning_clear(earning_id=earning.pk, now=later)] * 8)
    assert results.count(True) == 1
    assert Transaction.objects.filter(kind="clear").count() == 1
    assert balance(AccountKind.SELLER_AVAILABLE, user=seller) == Money("80.00", "USD")
    _audit_ok()


def test_a_withdrawal_processed_by_two_workers_is_paid_once():
    seller = _seller_with_available("100.00")
    withdrawal = withdrawal_request(seller=seller, amount=Money("80.00", "USD"), key=uuid.uuid4().hex)
    results = race(*[lambda: withdrawal_process(withdrawal_id=withdrawal.pk)] * 6)
    assert len([r for r in results if r is not None]) == 1
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "paid"
    assert SandboxOperation.objects.filter(kind="payout").count() == 1
    assert balance(AccountKind.PAYOUTS) == Money("80.00", "USD")
    assert balance(AccountKind.SELLER_AVAILABLE, user=seller) == Money(Decimal("0"), "USD")
    _audit_ok()


@pytest.mark.parametrize("amount", ["10.00", "70.00"], ids=["part", "everything"])
def test_the_same_withdrawal_form_posted_from_many_tabs_withdraws_once_and_says_so(amount):
    seller = _seller_with_available("100.00")  # 80.00 available
    # An earlier withdrawal, so every account exists and only the locks decide.
    earlier = withdrawal_request(seller=seller, amount=Money("10.00", "USD"), key=uuid.uuid4().hex)
    withdrawal_process(withdrawal_id=earlier.pk)
    key = uuid.uuid4().hex
    results = race(*[lambda: withdrawal_request(seller=seller, amount=Money(amount, "USD"), key=key)] * 6)
    assert len(_wins(results)) == 1
    # Even when the first took everything, the others hear "already requested", not "not enough money".
    refusals = [type(r).__name__ for r in results if isinstance(r, Exception)]
    assert refusals == ["DuplicateRequest"] * 5
    assert Withdrawal.objects.filter(seller=seller, idempotency_key=key).count() == 1
    assert balance(AccountKind.SELLER_AVAILABLE, user=seller) == Money("70.00", "USD") - Money(amount, "USD")
    _audit_ok()


def test_an_instant_payout_approval_and_a_clearance_for_the_same_seller_do_not_deadlock():
    """Approval with instant clearance posts twice (release, then clear); a clearance
    task for the same seller locks the same two accounts. Both must take them in one
    order, whatever ids the accounts happen to have."""
    from payments.ledger import account_for

    seller = UserFactory(withdrawal_method=WithdrawalMethod.PAYPAL)
    # The available account exists before the pending one (an earnings page opened early, say).
    account_for(kind=AccountKind.SELLER_AVAILABLE, currency="USD", user=seller)
    rounds = 6
    earnings = [
        Earning.objects.get(milestone=milestone_in(S.APPROVED, order=OrderFactory(seller=seller), amount="10.00"))
        for _ in range(rounds)
    ]
    in_review = [milestone_in(S.IN_REVIEW, order=OrderFactory(seller=seller), amount="10.00") for _ in range(rounds)]
    seller.withdrawal_method = WithdrawalMethod.INSTANT  # the seller switches to instant payouts
    seller.save(update_fields=["withdrawal_method"])
    later = timezone.now() + timedelta(days=4)
    for earning, milestone in zip(earnings, in_review, strict=True):
        race(
            lambda m=milestone: milestone_approve(milestone=m, actor=m.order.buyer),
            lambda e=earning: earning_clear(earning_id=e.pk, now=later),
        )
    assert balance(AccountKind.SELLER_AVAILABLE, user=seller) == Money("96.00", "USD")  # 12 x 8.00
    _audit_ok()


@pytest.mark.parametrize("other", ["dispute", "withdraw", "second_accept", "decline", "submit"])
def test_accepting_an_extension_against_another_click_ends_in_one_outcome(other):
    from milestones.models import Proposal, ProposalState

    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    old = milestone.deadline
    proposal = extension_request(
        milestone=milestone, actor=order.seller, new_deadline=old + timedelta(days=4), reason="Assets are late"
    )
    rival = {
        "dispute": lambda: milestone_open_dispute(milestone=milestone, actor=order.seller, reason="Stuck"),
        "withdraw": lambda: proposal_withdraw(proposal=proposal, actor=order.seller),
        "second_accept": lambda: proposal_accept(proposal=proposal, actor=order.buyer),
        "decline": lambda: proposal_decline(proposal=proposal, actor=order.buyer),
        "submit": lambda: milestone_submit(milestone=milestone, actor=order.seller, message="Done"),
    }[other]
    results = race(lambda: proposal_accept(proposal=proposal, actor=order.buyer), rival)
    # With two accepts, either may be the one that wins.
    accepted = not isinstance(results[0], Exception) or (
        other == "second_accept" and not isinstance(results[1], Exception)
    )
    proposal.refresh_from_db()
    milestone.refresh_from_db()
    if other in ("withdraw", "second_accept", "decline"):
        assert len(_wins(results)) == 1, results
    if accepted:
        assert proposal.state == ProposalState.ACCEPTED
        assert milestone.deadline == old + timedelta(days=4)
    else:
        assert proposal.state != ProposalState.ACCEPTED and milestone.deadline == old
    assert Proposal.objects.filter(state=ProposalState.PENDING).count() <= 1
    _audit_ok()
