"""Deadline extensions, the first kind of proposal: the seller asks, the buyer
accepts or declines, the seller may withdraw, and a request left unanswered
lapses after EXTENSION_RESPONSE_PERIOD. Every refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.errors import InvalidInput, InvalidTransition, NotAllowed
from milestones import services
from milestones.models import MilestoneReminder, MilestoneState, Proposal, ProposalState
from milestones.sweeps import sweep_proposals
from notifications.models import Notification
from orders.models import Activity
from tests.factories import StaffFactory, UserFactory, milestone_in
from tests.services.ledger_checks import world

S = MilestoneState
P = ProposalState
pytestmark = pytest.mark.django_db


def ask(milestone, *, days: int = 5, reason: str = "The client's API changed."):
    return services.extension_request(
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
    services.proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    milestone.refresh_from_db()
    assert milestone.deadline == old + timedelta(days=5)
    assert Proposal.objects.get(pk=proposal.pk).state == P.ACCEPTED
    assert Activity.objects.filter(milestone=milestone, verb="extension_accepted").exists()
    assert Notification.objects.filter(recipient=milestone.order.seller, event="extension_accepted").exists()
    audit()


def test_accepting_clears_the_late_flag_and_lets_the_deadline_notices_come_again(audit):
    milestone = milestone_in(S.IN_PROGRESS, days=3)
    assert services.milestone_flag_late(milestone_id=milestone.pk, now=milestone.deadline + timedelta(hours=1))
    milestone.refresh_from_db()
    assert milestone.late_flagged_at is not None
    proposal = services.extension_request(
        milestone=milestone,
        actor=milestone.order.seller,
        new_deadline=timezone.now() + timedelta(days=10),
        reason="Waiting on assets",
    )
    services.proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    milestone.refresh_from_db()
    assert milestone.late_flagged_at is None and not milestone.is_late
    assert not MilestoneReminder.objects.filter(milestone=milestone, kind="late").exists()
    audit()


def test_a_declined_extension_keeps_the_deadline_and_the_seller_may_ask_again(audit):
    milestone = milestone_in(S.IN_PROGRESS)
    old = milestone.deadline
    proposal = ask(milestone)
    services.proposal_decline(proposal=proposal, actor=milestone.order.buyer)
    milestone.refresh_from_db()
    assert milestone.deadline == old
    assert Notification.objects.filter(recipient=milestone.order.seller, event="extension_declined").exists()
    assert ask(milestone, days=2).state == P.PENDING
    audit()


def test_the_seller_may_withdraw_and_nobody_may_answer_after(audit):
    milestone = milestone_in(S.IN_PROGRESS)
    proposal = ask(milestone)
    with pytest.raises(NotAllowed):
        services.proposal_withdraw(proposal=proposal, actor=milestone.order.buyer)
    services.proposal_withdraw(proposal=proposal, actor=milestone.order.seller)
    before = world()
    with pytest.raises(InvalidTransition, match="withdrawn; nothing was changed"):
        services.proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    assert world() == before
    audit()


def test_one_pending_request_at_a_time_and_a_second_answer_is_refused(audit):
    milestone = milestone_in(S.IN_PROGRESS)
    proposal = ask(milestone)
    with pytest.raises(InvalidTransition, match="already waiting"):
        ask(milestone, days=9)
    services.proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    before = world()
    for answer in (services.proposal_accept, services.proposal_decline):
        with pytest.raises(InvalidTransition, match="accepted; nothing was changed"):
            answer(proposal=proposal, actor=milestone.order.buyer)
    assert world() == before
    audit()


def test_only_the_buyer_answers_and_only_the_seller_asks():
    milestone = milestone_in(S.IN_PROGRESS)
    outsider, staff = UserFactory(), StaffFactory()
    for actor in (milestone.order.buyer, outsider, staff):
        with pytest.raises(NotAllowed):
            services.extension_request(
                milestone=milestone, actor=actor, new_deadline=milestone.deadline + timedelta(days=2), reason="x"
            )
    proposal = ask(milestone)
    before = world()
    for actor in (milestone.order.seller, outsider, staff):
        for answer in (services.proposal_accept, services.proposal_decline):
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
        services.extension_request(
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
        services.proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    audit()


def test_opening_a_dispute_withdraws_the_open_request(audit):
    milestone = milestone_in(S.IN_PROGRESS)
    proposal = ask(milestone)
    services.milestone_open_dispute(milestone=milestone, actor=milestone.order.buyer, reason="Silence")
    proposal.refresh_from_db()
    assert proposal.state == P.WITHDRAWN
    with pytest.raises(InvalidTransition):
        services.proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    audit()


def test_an_accepted_request_on_a_milestone_no_longer_in_work_changes_nothing(audit):
    milestone = milestone_in(S.IN_PROGRESS)
    proposal = ask(milestone)
    services.milestone_submit(milestone=milestone, actor=milestone.order.seller, message="Done early")
    before = world()
    with pytest.raises(InvalidTransition, match="no longer in work"):
        services.proposal_accept(proposal=proposal, actor=milestone.order.buyer)
    assert world() == before
    assert Proposal.objects.get(pk=proposal.pk).state == P.PENDING
    audit()
