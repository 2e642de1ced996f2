"""Every transition of the state machine, allowed and refused, for every actor.

The matrix tries each service on a milestone in each state as the buyer, the
seller, an outsider and staff. The one right actor in the right state moves
the milestone; everyone else gets the DomainError a user would see (wrong
person: NotAllowed; right person, wrong moment: InvalidTransition) and the
world is exactly as before: states, ledger, balances, activity log.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from marketplace.errors import DomainError, InvalidTransition, NotAllowed
from milestones.models import Dispute, Milestone
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
from orders.models import Activity
from payments.models import Transaction
from tests.factories import StaffFactory, UserFactory, milestone_in
from tests.services.ledger_checks import assert_money_conserved, world

pytestmark = pytest.mark.django_db

ACTORS = ("buyer", "seller", "outsider", "staff")


def _call(action: str, milestone: Milestone, actor):
    if action == "accept":
        return milestone_accept(milestone=milestone, actor=actor)
    if action == "decline":
        return milestone_decline(milestone=milestone, actor=actor, reason="Too busy this month")
    if action == "cancel":
        return milestone_cancel(milestone=milestone, actor=actor)
    if action == "submit":
        return milestone_submit(milestone=milestone, actor=actor, message="Here it is")
    if action == "request_revision":
        return milestone_request_revision(milestone=milestone, actor=actor, feedback="Bigger logo")
    if action == "approve":
        return milestone_approve(milestone=milestone, actor=actor)
    if action == "open_dispute":
        return milestone_open_dispute(milestone=milestone, actor=actor, reason="Not as agreed")
    if action == "dispute_resolve":
        return dispute_resolve(dispute=milestone.dispute, actor=actor, outcome="refund")
    raise AssertionError(action)


# (action) -> (states it may start from, who may do it, the state it ends in)
RULES: dict[str, tuple[set[str], set[str], str]] = {
    "accept": ({S.AWAITING_ACCEPTANCE}, {"seller"}, S.IN_PROGRESS),
    "decline": ({S.AWAITING_ACCEPTANCE}, {"seller"}, S.DECLINED),
    "cancel": ({S.AWAITING_PAYMENT, S.AWAITING_ACCEPTANCE, S.ACCEPTED}, {"buyer"}, S.CANCELLED),
    "submit": ({S.IN_PROGRESS, S.REVISION_REQUESTED}, {"seller"}, S.IN_REVIEW),
    "request_revision": ({S.IN_REVIEW}, {"buyer"}, S.REVISION_REQUESTED),
    "approve": ({S.IN_REVIEW}, {"buyer"}, S.APPROVED),
    "open_dispute": ({S.IN_PROGRESS, S.IN_REVIEW, S.REVISION_REQUESTED}, {"buyer", "seller"}, S.DISPUTED),
    "dispute_resolve": ({S.DISPUTED}, {"staff"}, S.RESOLVED),
}

CASES = [
    (action, state)
    for action in RULES
    for state in S.values
    # Only a disputed or resolved milestone has a dispute to resolve.
    if action != "dispute_resolve" or state in (S.DISPUTED, S.RESOLVED)
]


class _Undo(Exception):
    pass


@pytest.mark.parametrize(("action", "state"), CASES, ids=[f"{a}-from-{s}" for a, s in CASES])
def test_only_the_right_person_at_the_right_moment_can_move_a_milestone(action, state, audit):
    milestone = milestone_in(state)
    order = milestone.order
    people = {
        "buyer": order.buyer,
        "seller": order.seller,
        "outsider": UserFactory(),
        "staff": StaffFactory(),
    }
    sources, allowed_actors, target = RULES[action]
    allowed_here = allowed_actors if state in sources else set()

    for who in ACTORS:
        if who in allowed_here:
            continue
        before = world()
        expected = NotAllowed if who not in allowed_actors else InvalidTransition
        with pytest.raises(expected) as refused:
            _call(action, Milestone.objects.get(pk=milestone.pk), people[who])
        assert refused.value.message, "a refusal tells the user why"
        assert world() == before, f"{action} by the {who} from {state} was refused but changed something"

    for index, who in enumerate(sorted(allowed_here)):
        last = index == len(allowed_here) - 1
        activities = Activity.objects.filter(milestone=milestone).count()
        try:
            with transaction.atomic():
                _call(action, Milestone.objects.get(pk=milestone.pk), people[who])
                moved = Milestone.objects.get(pk=milestone.pk)
                assert moved.state == target, f"{action} by the {who} from {state} ended in {moved.state}"
                assert Activity.objects.filter(milestone=milestone).count() == activities + 1
                audit()
                assert_money_conserved()
                if not last:
                    raise _Undo  # let the next allowed actor try from the same state
        except _Undo:
            pass
    audit()


def test_a_second_click_on_any_transition_is_refused_and_changes_nothing(order, audit):
    milestone = milestone_in(S.IN_REVIEW, order=order)
    milestone_approve(milestone=milestone, actor=order.buyer)
    before = world()
    with pytest.raises(InvalidTransition, match="approved"):
        milestone_approve(milestone=milestone, actor=order.buyer)
    assert world() == before
    assert Transaction.objects.filter(milestone=milestone, kind="release").count() == 1
    audit()


def test_staff_resolve_closes_the_dispute_itself(order, staff, audit):
    milestone = milestone_in(S.DISPUTED, order=order)
    dispute_resolve(dispute=milestone.dispute, actor=staff, outcome="release")
    dispute = Dispute.objects.get(milestone=milestone)
    assert dispute.state == "resolved"
    assert dispute.resolved_by == staff
    with pytest.raises(InvalidTransition):
        dispute_resolve(dispute=dispute, actor=staff, outcome="refund")
    audit()


# --- auto-approval -----------------------------------------------------------------


def test_the_system_cannot_approve_before_the_review_period_ends(order, audit):
    milestone = milestone_in(S.IN_REVIEW, order=order)
    before = world()
    just_before = milestone.auto_approve_at - timedelta(seconds=1)
    with pytest.raises(InvalidTransition):
        milestone_approve(milestone=milestone, actor=None, now=just_before)
    assert world() == before
    audit()


def test_the_system_approves_once_the_review_period_has_passed_in_silence(order, audit):
    milestone = milestone_in(S.IN_REVIEW, order=order)
    approved = milestone_approve(milestone=milestone, actor=None, now=milestone.auto_approve_at)
    assert approved.state == S.APPROVED
    log = Activity.objects.filter(milestone=milestone, verb="approved").get()
    assert log.actor is None
    assert "automatically" in log.note
    audit()
    assert_money_conserved()


@pytest.mark.parametrize("state", [S.IN_PROGRESS, S.REVISION_REQUESTED, S.DISPUTED, S.APPROVED])
def test_the_system_cannot_approve_a_milestone_that_is_not_in_review(state, audit):
    milestone = milestone_in(state)
    before = world()
    with pytest.raises(InvalidTransition):
        milestone_approve(milestone=milestone, actor=None, now=timezone.now() + timedelta(days=365))
    assert world() == before
    audit()


def test_a_revision_request_stops_the_auto_approval_clock(order, audit):
    milestone = milestone_in(S.REVISION_REQUESTED, order=order)
    assert milestone.auto_approve_at is None
    with pytest.raises(InvalidTransition):
        milestone_approve(milestone=milestone, actor=None, now=timezone.now() + timedelta(days=365))
    audit()


@pytest.mark.parametrize("action", ["accept", "decline", "cancel", "submit", "request_revision", "open_dispute"])
def test_no_one_acts_as_the_system_except_for_auto_approval(action, audit):
    state = next(iter(RULES[action][0]))
    milestone = milestone_in(state)
    before = world()
    with pytest.raises(DomainError):
        _call(action, milestone, None)
    assert world() == before
    audit()
