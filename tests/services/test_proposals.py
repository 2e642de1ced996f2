"""Deadline extensions, the first kind of proposal: the seller asks, the buyer
accepts or declines, the seller may withdraw, and a request left unanswered
lapses after EXTENSION_RESPONSE_PERIOD. Every refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.errors import InvalidInput, InvalidTransition, NotAllowed
from milestones.models import MilestoneReminder, MilestoneState, Proposal, ProposalState
from milestones.services.disputes import milestone_open_dispute
from milestones.services.lifecycle import milestone_approve, milestone_flag_late, milestone_submit
from milestones.services.proposals import (
    cancellation_request,
    extension_request,
    proposal_accept,
    proposal_decline,
    proposal_withdraw,
)
from milestones.sweeps import sweep_proposals
from notifications.models import Notification
from orders.models import Activity
from tests.factories import StaffFactory, UserFactory, milestone_in
from tests.services.ledger_checks import world

S = MilestoneState
P = ProposalState
pytestmark = pytest.mark.django_db


def ask(milestone, *, days: int = 5, reason: str = "The client's API changed."):
    return extension_request(
        milestone=milestone,
        actor=milestone.order.seller,
        new_deadline=milestone.deadline + timedelta(days=days),
        reason=reason,
    )


@pytest.mark.parametrize("state", [S.IN_PROGRESS, S.REVISION_REQUESTED])
def test_an_accepted_extension_moves_the_deadline(state, audit):
    milestone = milestone_in(state)
    old = milestone.deadline
    proposal = ask(milestone)
    assert proposal.state == P.PENDING
    assert Notification.objects.filter(recipient=milestone.order.buyer, event="extension_requested").exists()
    proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    milestone.refresh_from_db()
    assert milestone.deadline == old + timedelta(days=5)
    assert Proposal.objects.get(pk=proposal.pk).state == P.ACCEPTED
    assert Activity.objects.filter(milestone=milestone, verb="extension_accepted").exists()
    assert Notification.objects.filter(recipient=milestone.order.seller, event="extension_accepted").exists()
    audit()


def test_accepting_clears_the_late_flag_and_lets_the_deadline_notices_come_again(audit):
    milestone = milestone_in(S.IN_PROGRESS, days=3)
    assert milestone_flag_late(milestone_id=milestone.pk, now=milestone.deadline + timedelta(hours=1))
    milestone.refresh_from_db()
    assert milestone.late_flagged_at is not None
    proposal = extension_request(
        milestone=milestone,
        actor=milestone.order.seller,
        new_deadline=timezone.now() + timedelta(days=10),
        reason="Waiting on assets",
    )
    proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    milestone.refresh_from_db()
    assert milestone.late_flagged_at is None and not milestone.is_late
    assert not MilestoneReminder.objects.filter(milestone=milestone, kind="late").exists()
    audit()


def test_a_declined_extension_keeps_the_deadline_and_the_seller_may_ask_again(audit):
    milestone = milestone_in(S.IN_PROGRESS)
    old = milestone.deadline
    proposal = ask(milestone)
    proposal_decline(proposal=proposal, actor=milestone.order.buyer)
    milestone.refresh_from_db()
    assert milestone.deadline == old
    assert Notification.objects.filter(recipient=milestone.order.seller, event="extension_declined").exists()
    assert ask(milestone, days=2).state == P.PENDING
    audit()


def test_the_seller_may_withdraw_and_nobody_may_answer_after(audit):
    milestone = milestone_in(S.IN_PROGRESS)
    proposal = ask(milestone)
    with pytest.raises(NotAllowed):
        proposal_withdraw(proposal=proposal, actor=milestone.order.buyer)
    proposal_withdraw(proposal=proposal, actor=milestone.order.seller)
    before = world()
    with pytest.raises(InvalidTransition, match="withdrawn; nothing was changed"):
        proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    assert world() == before
    audit()


def test_one_pending_request_at_a_time_and_a_second_answer_is_refused(audit):
    milestone = milestone_in(S.IN_PROGRESS)
    proposal = ask(milestone)
    with pytest.raises(InvalidTransition, match="already waiting"):
        ask(milestone, days=9)
    proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    before = world()
    for answer in (proposal_accept, proposal_decline):
        with pytest.raises(InvalidTransition, match="accepted; nothing was changed"):
            answer(proposal=proposal, actor=milestone.order.buyer)
    assert world() == before
    audit()


def test_only_the_buyer_answers_and_only_the_seller_asks():
    milestone = milestone_in(S.IN_PROGRESS)
    outsider, staff = UserFactory(), StaffFactory()
    for actor in (milestone.order.buyer, outsider, staff):
        with pytest.raises(NotAllowed):
            extension_request(
                milestone=milestone, actor=actor, new_deadline=milestone.deadline + timedelta(days=2), reason="x"
            )
    proposal = ask(milestone)
    before = world()
    for actor in (milestone.order.seller, outsider, staff):
        for answer in (proposal_accept, proposal_decline):
            with pytest.raises(NotAllowed, match="Only the buyer"):
                answer(proposal=proposal, actor=actor)
    assert world() == before
    assert Proposal.objects.get(pk=proposal.pk).state == P.PENDING


@pytest.mark.parametrize("state", [S.AWAITING_ACCEPTANCE, S.ACCEPTED, S.IN_REVIEW, S.APPROVED, S.DISPUTED, S.CANCELLED])
def test_an_extension_is_asked_only_while_the_work_is_owed(state):
    milestone = milestone_in(state)
    before = world()
    with pytest.raises(InvalidTransition, match="only while the work is owed"):
        ask(milestone)
    assert world() == before and not Proposal.objects.exists()


@pytest.mark.parametrize(
    ("shift", "reason", "field"),
    [
        (None, "Need time", "new_deadline"),
        (timedelta(days=-1), "Need time", "new_deadline"),
        (timedelta(0), "Need time", "new_deadline"),
        (timedelta(days=400), "Need time", "new_deadline"),
        (timedelta(days=2), "   ", "reason"),
        (timedelta(days=2), "x" * 2001, "reason"),
    ],
)
def test_bad_input_is_a_field_error_and_changes_nothing(shift, reason, field):
    milestone = milestone_in(S.IN_PROGRESS)
    before = world()
    with pytest.raises(InvalidInput) as error:
        extension_request(
            milestone=milestone,
            actor=milestone.order.seller,
            new_deadline=None if shift is None else milestone.deadline + shift,
            reason=reason,
        )
    assert error.value.field == field
    assert world() == before and not Proposal.objects.exists()


def test_an_unanswered_request_lapses_with_a_notice_to_both(settings, audit):
    settings.EXTENSION_RESPONSE_PERIOD = timedelta(hours=48)
    milestone = milestone_in(S.IN_PROGRESS)
    old = milestone.deadline
    proposal = ask(milestone)
    assert sweep_proposals(now=proposal.respond_by - timedelta(seconds=1)).as_dict()["done"] == 0
    assert sweep_proposals(now=proposal.respond_by).as_dict()["done"] == 1
    assert sweep_proposals(now=proposal.respond_by).as_dict()["done"] == 0, "once"
    proposal.refresh_from_db()
    milestone.refresh_from_db()
    assert proposal.state == P.EXPIRED and milestone.deadline == old
    for party in (milestone.order.buyer, milestone.order.seller):
        assert Notification.objects.filter(recipient=party, event="extension_expired").count() == 1
    with pytest.raises(InvalidTransition):
        proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    audit()


def test_opening_a_dispute_withdraws_the_open_request(audit):
    milestone = milestone_in(S.IN_PROGRESS)
    proposal = ask(milestone)
    milestone_open_dispute(milestone=milestone, actor=milestone.order.buyer, reason="Silence")
    proposal.refresh_from_db()
    assert proposal.state == P.WITHDRAWN
    with pytest.raises(InvalidTransition):
        proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    audit()


def test_an_accepted_request_on_a_milestone_no_longer_in_work_changes_nothing(audit):
    milestone = milestone_in(S.IN_PROGRESS)
    proposal = ask(milestone)
    milestone_submit(milestone=milestone, actor=milestone.order.seller, message="Done early")
    before = world()
    with pytest.raises(InvalidTransition, match="no longer in work"):
        proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    assert world() == before
    assert Proposal.objects.get(pk=proposal.pk).state == P.PENDING
    audit()


# --- cancellation by agreement -----------------------------------------------------------


def ask_to_cancel(milestone, actor, refund: str | None = None, reason: str = "The project was shelved."):
    from djmoney.money import Money

    return cancellation_request(
        milestone=milestone,
        actor=actor,
        refund=None if refund is None else Money(refund, "USD"),
        reason=reason,
    )


def test_a_half_refund_cancellation_asked_by_the_buyer_and_accepted_by_the_seller(audit):
    from djmoney.money import Money

    from payments.models import AccountKind
    from tests.services.ledger_checks import assert_money_conserved, balance

    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    proposal = ask_to_cancel(milestone, order.buyer, refund="50.00")
    assert Notification.objects.filter(recipient=order.seller, event="cancellation_requested").exists()
    proposal_accept(proposal=proposal, actor=order.seller)
    milestone.refresh_from_db()
    assert milestone.state == S.CANCELLED
    # 50.00 back with half the 5.50 fee (2.75); the seller gets 50.00 less 20% (40.00).
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == Money("52.75", "USD")
    assert balance(AccountKind.SELLER_PENDING, user=order.seller) == Money("40.00", "USD")
    assert balance(AccountKind.ESCROW, milestone=milestone) == Money("0.00", "USD")
    for party in (order.buyer, order.seller):
        assert Notification.objects.filter(recipient=party, event="cancellation_accepted").exists()
    audit()
    assert_money_conserved()


def test_the_seller_may_ask_to_cancel_with_a_full_refund_by_default(audit):
    from djmoney.money import Money

    from payments.models import AccountKind
    from tests.services.ledger_checks import balance

    milestone = milestone_in(S.IN_REVIEW, amount="100.00")
    order = milestone.order
    proposal = ask_to_cancel(milestone, order.seller)
    assert proposal.refund_amount == Money("100.00", "USD")
    with pytest.raises(NotAllowed, match="Only the buyer"):
        proposal_accept(proposal=proposal, actor=order.seller)
    proposal_accept(proposal=proposal, actor=order.buyer)
    assert balance(AccountKind.BUYER_BALANCE, user=order.buyer) == Money("105.50", "USD")
    audit()


def _escrow(milestone):
    from payments.models import AccountKind
    from tests.services.ledger_checks import balance

    return balance(AccountKind.ESCROW, milestone=milestone)


@pytest.mark.parametrize(
    ("asker", "state", "refund", "accepted"),
    [
        # The seller's: only a full refund may go through on the buyer's silence.
        ("seller", S.IN_PROGRESS, "0.00", False),  # the reproduction: 8.00 of 10.00 released for nothing
        ("seller", S.IN_PROGRESS, "3.00", False),
        ("seller", S.IN_REVIEW, "0.00", False),
        ("seller", S.IN_PROGRESS, None, True),  # everything back to the buyer
        ("seller", S.REVISION_REQUESTED, None, True),
        # The buyer's: only while no delivery waits for the buyer's review.
        ("buyer", S.IN_PROGRESS, "5.00", True),
        ("buyer", S.REVISION_REQUESTED, None, True),
        ("buyer", S.IN_REVIEW, None, False),
    ],
)
def test_silence_never_pays_the_party_who_asked(settings, asker, state, refund, accepted, audit):
    """The silence rule (README, "Fees and refunds"): an unanswered request is settled in
    favour of the party who was silent. Regression: a seller's 0.00-refund request left
    unanswered used to release the escrow to the seller for work never delivered."""
    settings.CANCELLATION_RESPONSE_PERIOD = timedelta(hours=48)
    milestone = milestone_in(state, amount="10.00")
    order = milestone.order
    proposal = ask_to_cancel(milestone, getattr(order, asker), refund=refund)
    request = Notification.objects.get(event="cancellation_requested")
    assert ("it is accepted" in request.message) is accepted
    assert ("lapses as declined" in request.message) is not accepted
    held = _escrow(milestone)
    assert sweep_proposals(now=proposal.respond_by).as_dict()["done"] == 1
    milestone.refresh_from_db()
    proposal.refresh_from_db()
    if accepted:
        assert milestone.state == S.CANCELLED and proposal.state == P.ACCEPTED and proposal.decided_by is None
        assert Activity.objects.filter(milestone=milestone, verb="cancelled", note__contains="automatically").exists()
    else:
        assert milestone.state == state and proposal.state == P.EXPIRED
        assert _escrow(milestone) == held, "the escrow is untouched"
        for party in (order.buyer, order.seller):
            notice = Notification.objects.get(recipient=party, event="cancellation_expired")
            assert "lapsed" in notice.message
    audit()


def test_a_buyers_request_lapses_once_the_seller_delivers_and_auto_approval_decides(settings, audit):
    """Asked while in progress; the seller delivers instead of answering: by the time the
    request is due a delivery awaits the buyer's review, so it lapses, and the review clock
    (held while the request waited) approves the delivery the buyer left unanswered."""
    from milestones.sweeps import sweep_auto_approve

    settings.CANCELLATION_RESPONSE_PERIOD = timedelta(hours=48)
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    order = milestone.order
    proposal = ask_to_cancel(milestone, order.buyer)
    milestone_submit(milestone=milestone, actor=order.seller, message="Done: every screen.")
    milestone.refresh_from_db()
    assert sweep_auto_approve(now=milestone.auto_approve_at + timedelta(seconds=1)).as_dict()["done"] == 0
    with pytest.raises(InvalidTransition, match="cancellation request waiting"):
        milestone_approve(milestone=milestone, actor=None, now=milestone.auto_approve_at)
    assert sweep_proposals(now=proposal.respond_by).as_dict()["done"] == 1
    proposal.refresh_from_db()
    milestone.refresh_from_db()
    assert proposal.state == P.EXPIRED and milestone.state == S.IN_REVIEW
    later = max(milestone.auto_approve_at, proposal.respond_by) + timedelta(seconds=1)
    assert sweep_auto_approve(now=later).as_dict()["done"] == 1
    milestone.refresh_from_db()
    assert milestone.state == S.APPROVED
    audit()


def test_the_reminder_says_what_silence_will_do(settings):
    from milestones.sweeps import sweep_proposals as sweep

    settings.CANCELLATION_RESPONSE_PERIOD = timedelta(hours=48)
    settings.CANCELLATION_REMINDERS = [timedelta(hours=24)]
    lapsing = milestone_in(S.IN_PROGRESS, amount="10.00")
    ask_to_cancel(lapsing, lapsing.order.seller, refund="0.00")
    accepted = milestone_in(S.IN_PROGRESS, amount="10.00")
    proposal = ask_to_cancel(accepted, accepted.order.seller)
    sweep(now=proposal.respond_by - timedelta(hours=23))
    buyer_of = {m.pk: m.order.buyer for m in (lapsing, accepted)}
    reminders = {
        m: Notification.objects.get(recipient=buyer_of[m], event="cancellation_reminder").message for m in buyer_of
    }
    assert "lapses as declined" in reminders[lapsing.pk]
    assert " is accepted" in reminders[accepted.pk]


def test_a_declined_cancellation_leaves_the_milestone_in_work(audit):
    milestone = milestone_in(S.REVISION_REQUESTED)
    proposal = ask_to_cancel(milestone, milestone.order.buyer, refund="10.00")
    proposal_decline(proposal=proposal, actor=milestone.order.seller)
    milestone.refresh_from_db()
    assert milestone.state == S.REVISION_REQUESTED
    audit()


def test_approving_while_a_cancellation_waits_closes_the_request(audit):
    milestone = milestone_in(S.IN_REVIEW)
    proposal = ask_to_cancel(milestone, milestone.order.seller)
    milestone_approve(milestone=milestone, actor=milestone.order.buyer)
    proposal.refresh_from_db()
    assert proposal.state == P.WITHDRAWN
    assert sweep_proposals(now=proposal.respond_by).as_dict()["done"] == 0
    audit()


@pytest.mark.parametrize(
    ("refund", "reason", "field"),
    [
        ("-1.00", "x", "refund"),
        ("100.01", "x", "refund"),
        ("10.001", "x", "refund"),
        ("10.00", "  ", "reason"),
    ],
)
def test_bad_cancellation_input_is_a_field_error_and_changes_nothing(refund, reason, field):
    milestone = milestone_in(S.IN_PROGRESS, amount="100.00")
    before = world()
    with pytest.raises(InvalidInput) as error:
        ask_to_cancel(milestone, milestone.order.buyer, refund=refund, reason=reason)
    assert error.value.field == field
    assert world() == before


@pytest.mark.parametrize("state", [S.AWAITING_ACCEPTANCE, S.APPROVED, S.RESOLVED, S.CANCELLED])
def test_a_cancellation_is_asked_only_while_the_milestone_is_in_work(state):
    milestone = milestone_in(state)
    with pytest.raises(InvalidTransition, match="only while it is in work"):
        ask_to_cancel(milestone, milestone.order.buyer)


def test_outsiders_and_staff_cannot_ask_to_cancel():
    milestone = milestone_in(S.IN_PROGRESS)
    for actor in (UserFactory(), StaffFactory()):
        with pytest.raises(NotAllowed):
            ask_to_cancel(milestone, actor)
