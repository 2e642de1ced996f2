"""Reminders and the late flag: sent at the right times, once each (injected clock)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command

from milestones.models import Milestone, MilestoneReminder, MilestoneState
from milestones.services.lifecycle import milestone_request_revision, milestone_submit
from milestones.sweeps import sweep_auto_approve, sweep_late, sweep_reminders
from notifications.models import Notification
from orders.models import Activity
from tests.factories import milestone_in

S = MilestoneState
pytestmark = pytest.mark.django_db
SECOND = timedelta(seconds=1)


def _notes(user, event: str) -> list[str]:
    return list(Notification.objects.filter(recipient=user, event=event).values_list("message", flat=True))


def _kinds(milestone: Milestone) -> set[str]:
    return set(MilestoneReminder.objects.filter(milestone=milestone).values_list("kind", flat=True))


def test_the_buyer_is_reminded_3_days_and_1_day_before_auto_approval_once_each(settings, audit):
    settings.AUTO_APPROVE_PERIOD = timedelta(days=7)
    settings.REVIEW_REMINDERS = [timedelta(days=3), timedelta(days=1)]
    milestone = milestone_in(S.IN_REVIEW)
    buyer = milestone.order.buyer
    due = milestone.auto_approve_at

    assert sweep_reminders(now=due - timedelta(days=3) - SECOND).done == 0
    assert _notes(buyer, "review_reminder") == []

    assert sweep_reminders(now=due - timedelta(days=3)).done == 1
    assert _kinds(milestone) == {"review:259200"}
    [three_days] = _notes(buyer, "review_reminder")
    assert "approved automatically in 3 days" in three_days

    assert sweep_reminders(now=due - timedelta(days=2)).done == 0
    assert sweep_reminders(now=due - timedelta(days=1) - SECOND).done == 0
    assert sweep_reminders(now=due - timedelta(days=1)).done == 1
    assert sweep_reminders(now=due - timedelta(hours=1)).done == 0
    assert _kinds(milestone) == {"review:259200", "review:86400"}
    assert len(_notes(buyer, "review_reminder")) == 2
    assert "approved automatically in 1 day" in _notes(buyer, "review_reminder")[0]

    # Silence until the end: approved by the system, said so in the log.
    assert sweep_auto_approve(now=due - SECOND).done == 0
    assert sweep_auto_approve(now=due).done == 1
    assert sweep_auto_approve(now=due + SECOND).done == 0
    milestone.refresh_from_db()
    assert milestone.state == S.APPROVED
    approval = Activity.objects.get(milestone=milestone, verb="approved")
    assert approval.actor is None and approval.note.startswith("Approved automatically")
    assert sweep_reminders(now=due).done == 0
    audit()


def test_a_missed_tick_sends_one_reminder_not_two(settings):
    """Sweeps down for days: the 3-day and 1-day reminders are both due; the buyer gets one."""
    settings.REVIEW_REMINDERS = [timedelta(days=3), timedelta(days=1)]
    milestone = milestone_in(S.IN_REVIEW)
    assert sweep_reminders(now=milestone.auto_approve_at - timedelta(hours=12)).done == 1
    assert sweep_reminders(now=milestone.auto_approve_at - timedelta(hours=11)).done == 0
    assert _kinds(milestone) == {"review:259200", "review:86400"}
    assert len(_notes(milestone.order.buyer, "review_reminder")) == 1


def test_a_review_period_shorter_than_a_reminder_gets_no_reminder_at_submission(settings):
    settings.AUTO_APPROVE_PERIOD = timedelta(days=2)
    settings.REVIEW_REMINDERS = [timedelta(days=3), timedelta(days=1)]
    milestone = milestone_in(S.IN_REVIEW)
    assert sweep_reminders(now=milestone.submitted_at + SECOND).done == 0
    assert sweep_reminders(now=milestone.auto_approve_at - timedelta(days=1)).done == 1
    assert _kinds(milestone) == {"review:86400"}


def test_a_resubmission_gets_its_own_reminders(settings):
    settings.REVIEW_REMINDERS = [timedelta(days=3)]
    milestone = milestone_in(S.IN_REVIEW)
    order = milestone.order
    assert sweep_reminders(now=milestone.auto_approve_at - timedelta(days=3)).done == 1
    milestone_request_revision(milestone=milestone, actor=order.buyer, feedback="Bigger logo")
    with time_machine.travel(milestone.submitted_at + timedelta(days=5), tick=False):
        milestone_submit(milestone=milestone, actor=order.seller, message="Bigger now.")
    milestone.refresh_from_db()
    assert _kinds(milestone) == set()
    assert sweep_reminders(now=milestone.auto_approve_at - timedelta(days=3)).done == 1
    assert len(_notes(order.buyer, "review_reminder")) == 2


def test_the_seller_is_reminded_24_hours_before_the_deadline_once(settings):
    settings.DEADLINE_REMINDER = timedelta(hours=24)
    milestone = milestone_in(S.IN_PROGRESS, days=7)
    seller = milestone.order.seller
    assert sweep_reminders(now=milestone.deadline - timedelta(hours=24) - SECOND).done == 0
    assert sweep_reminders(now=milestone.deadline - timedelta(hours=24)).done == 1
    assert sweep_reminders(now=milestone.deadline - timedelta(hours=2)).done == 0
    assert _kinds(milestone) == {"deadline"}
    [message] = _notes(seller, "deadline_reminder")
    assert "is due in 1 day" in message
    assert _notes(milestone.order.buyer, "deadline_reminder") == []


def test_no_deadline_reminder_once_the_work_is_in_review(settings):
    milestone = milestone_in(S.IN_REVIEW, days=7)
    sweep_reminders(now=milestone.deadline - timedelta(hours=1))
    assert "deadline" not in _kinds(milestone)
    assert _notes(milestone.order.seller, "deadline_reminder") == []


def test_a_missed_deadline_is_flagged_late_once_and_both_parties_hear_of_it(audit):
    milestone = milestone_in(S.IN_PROGRESS, days=7)
    order = milestone.order
    assert sweep_late(now=milestone.deadline - SECOND).done == 0
    assert sweep_late(now=milestone.deadline + SECOND).done == 1
    assert sweep_late(now=milestone.deadline + timedelta(days=1)).done == 0

    milestone.refresh_from_db()
    assert milestone.late_flagged_at == milestone.deadline + SECOND
    assert milestone.state == S.IN_PROGRESS
    assert milestone.is_late
    assert "late" in _kinds(milestone)
    assert len(_notes(order.seller, "milestone_late")) == 1
    assert len(_notes(order.buyer, "milestone_late")) == 1
    log = Activity.objects.get(milestone=milestone, verb="flagged_late")
    assert log.actor is None and "passed without a submission" in log.note
    audit()


def test_work_delivered_on_time_is_not_flagged_late_even_if_a_revision_runs_past_the_deadline():
    milestone = milestone_in(S.REVISION_REQUESTED, days=7)
    assert sweep_late(now=milestone.deadline + timedelta(days=2)).done == 0
    in_review = milestone_in(S.IN_REVIEW, days=7)
    assert sweep_late(now=in_review.deadline + timedelta(days=2)).done == 0


def test_run_sweeps_on_the_real_clock_flags_late_and_reports(capsys):
    milestone = milestone_in(S.IN_PROGRESS, days=2)
    with time_machine.travel(milestone.deadline + timedelta(minutes=5), tick=False):
        with pytest.raises(CommandError, match="overdue") as failure:
            call_command("sweeps_status")
        assert failure.value.returncode == 1, "something to alert on"
        status = capsys.readouterr().out
        call_command("run_sweeps", "--only", "late")
        first = capsys.readouterr().out
        call_command("run_sweeps", "--only", "late", "--only", "reminders")
        second = capsys.readouterr().out
        with contextlib.suppress(CommandError):
            call_command("sweeps_status")  # other sweeps, not run here, may still be overdue
        after = capsys.readouterr().out
    assert "late" in status and "milestones to flag late" in status
    late_line = next(line for line in status.splitlines() if "flag late" in line)
    assert "due      1" in late_line and "overdue      1" in late_line
    assert "late: 1 done" in first
    assert "late: 0 done" in second and "reminders: 0 done" in second
    assert "clearance" not in first
    late_line = next(line for line in after.splitlines() if "flag late" in line)
    assert "due      0" in late_line
