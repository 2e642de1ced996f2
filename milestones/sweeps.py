"""Sweeps over milestones: auto-approval, reminders, the late flag, unpaid checkouts.

See ``marketplace/sweeps.py`` for how a sweep walks and claims its rows. Each
row is claimed in the lock order of ``lock_milestone``: the order, then
the milestone, both with ``skip_locked`` (a user acting on that order right
now is not waited for; the next tick comes back). The service called next
locks the same rows again, which in the same transaction is free.

Reminders and flags are recorded in ``MilestoneReminder``, unique per
(milestone, kind): each is sent once. ``milestone_submit`` deletes the
``review:*`` rows, so every new submission gets its own review reminders.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.timesince import timeuntil
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketplace.money import Amount
from marketplace.sweeps import DueSet, SweepResult, candidates, merge_results, now_or, register_sweep, sweep
from milestones.models import DEADLINE_STATES, Milestone, MilestoneReminder, MilestoneState, Proposal, ProposalState
from milestones.selectors import late_condition, orders_due_to_complete, orders_due_to_stop, orders_waiting_to_continue
from milestones.services.completion import order_auto_complete
from milestones.services.lifecycle import milestone_approve, milestone_flag_late
from milestones.services.offers import offer_expire
from milestones.services.packages import continue_due_at, next_planned, order_stop
from milestones.services.proposals import proposal_expire, silence_accepts
from notifications.services import notification_send
from notifications.times import notice_time
from orders.models import Order
from payments.checkout import checkout_expired
from payments.models import Checkout, CheckoutStatus

S = MilestoneState
DEADLINE_KIND = "deadline"


def review_reminder_kind(lead: timedelta) -> str:
    """``review:259200`` is the reminder three days before auto-approval."""
    return f"review:{int(lead.total_seconds())}"


def _when_words(moment: datetime, now: datetime) -> str:
    # Plain spaces: this text goes into e-mails too. The exact time is the reader's (``notice_time``).
    span = timeuntil(moment, now, depth=1).replace("\xa0", " ")
    return _("in {span} ({when})").format(span=span, when=notice_time(moment))


# Made when the notice is made, in its recipient's language ("in 2 days", "en 2 días").
_when = lazy(_when_words, str)


def _claim(pk: int, condition: Q) -> Milestone | None:
    """Lock the milestone's order, then the milestone, skipping rows held by others.

    Returns the milestone if it is still due (``condition``), else None. Call
    inside ``transaction.atomic()``.
    """
    order_id = Milestone.objects.filter(pk=pk).values_list("order_id", flat=True).first()
    if order_id is None:
        return None
    # ``of=("self",)``: claim the order row only; the users joined for the
    # messages are not ours to lock (the service's lock_order takes what it needs).
    locked_order = (
        Order.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("buyer", "seller")
        .filter(pk=order_id)
        .first()
    )
    if locked_order is None:
        return None
    milestone = Milestone.objects.select_for_update(skip_locked=True).filter(condition, pk=pk).first()
    if milestone is not None:
        milestone.order = locked_order
    return milestone


# --- auto-approval -------------------------------------------------------------------


def _auto_approve_condition(now: datetime) -> Q:
    # A cancellation request waiting for an answer holds the clock (milestones.services.lifecycle.milestone_approve).
    waiting = Proposal.objects.filter(milestone=OuterRef("pk"), kind="cancellation", state=ProposalState.PENDING)
    return Q(state=S.IN_REVIEW, auto_approve_at__lte=now) & ~Q(Exists(waiting))


def _approve_one(pk: int, now: datetime) -> bool:
    with transaction.atomic():
        milestone = _claim(pk, _auto_approve_condition(now))
        if milestone is None:
            return False
        milestone_approve(milestone=milestone, actor=None, now=now)
    return True


def auto_approve_due(now: datetime) -> list[DueSet]:
    return [DueSet("milestones to approve", Milestone.objects.filter(_auto_approve_condition(now)), "auto_approve_at")]


@register_sweep("auto_approve", due=auto_approve_due)
def sweep_auto_approve(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """A buyer silent past ``auto_approve_at`` approves: the seller is paid."""
    now = now_or(now)
    pks = candidates(Milestone.objects.filter(_auto_approve_condition(now)), time_field="auto_approve_at")
    return sweep("auto_approve", pks, lambda pk: _approve_one(pk, now), until=until)


# --- reminders to the buyer before auto-approval ---------------------------------------


def _review_leads() -> list[timedelta]:
    return sorted(set(settings.REVIEW_REMINDERS))


def _review_condition(now: datetime, lead: timedelta) -> Q:
    # Due ``lead`` before auto-approval, not yet auto-approvable, and only if
    # the submission came before the reminder time (a review period shorter
    # than the lead gets no such reminder rather than one at submission).
    return Q(
        state=S.IN_REVIEW,
        auto_approve_at__gt=now,
        auto_approve_at__lte=now + lead,
        submitted_at__lt=F("auto_approve_at") - lead,
    )


def _review_due(now: datetime, lead: timedelta) -> QuerySet[Milestone]:
    return Milestone.objects.filter(_review_condition(now, lead)).exclude(reminders__kind=review_reminder_kind(lead))


def _remind_review_one(pk: int, now: datetime, lead: timedelta) -> bool:
    with transaction.atomic():
        milestone = _claim(pk, _review_condition(now, lead))
        if milestone is None:
            return False
        sent = set(milestone.reminders.values_list("kind", flat=True))
        if review_reminder_kind(lead) in sent:
            return False
        assert milestone.auto_approve_at is not None and milestone.submitted_at is not None
        # A longer lead whose time has also passed (the sweeps were down) is
        # covered by this, the more urgent, reminder: one message, not two.
        for other in _review_leads():
            kind = review_reminder_kind(other)
            remind_at = milestone.auto_approve_at - other
            if other >= lead and remind_at <= now and milestone.submitted_at < remind_at and kind not in sent:
                MilestoneReminder.objects.create(milestone=milestone, kind=kind)
        notification_send(
            recipient=milestone.order.buyer,
            event="review_reminder",
            message=format_lazy(
                gettext_lazy("“{title}” is approved automatically {when} unless you approve it or request a revision."),
                title=milestone.title,
                when=_when(milestone.auto_approve_at, now),
            ),
            url=milestone.get_absolute_url(),
        )
    return True


# --- reminder to the seller before the deadline ----------------------------------------


def _deadline_condition(now: datetime) -> Q:
    return Q(state__in=DEADLINE_STATES, deadline__gt=now, deadline__lte=now + settings.DEADLINE_REMINDER)


def _deadline_due(now: datetime) -> QuerySet[Milestone]:
    return Milestone.objects.filter(_deadline_condition(now)).exclude(reminders__kind=DEADLINE_KIND)


def _remind_deadline_one(pk: int, now: datetime) -> bool:
    with transaction.atomic():
        milestone = _claim(pk, _deadline_condition(now))
        if milestone is None or milestone.reminders.filter(kind=DEADLINE_KIND).exists():
            return False
        MilestoneReminder.objects.create(milestone=milestone, kind=DEADLINE_KIND)
        notification_send(
            recipient=milestone.order.seller,
            event="deadline_reminder",
            message=format_lazy(
                gettext_lazy("“{title}” is due {when}. Submit it for review before then."),
                title=milestone.title,
                when=_when(milestone.deadline, now),
            ),
            url=milestone.get_absolute_url(),
        )
    return True


def reminders_due(now: datetime) -> list[DueSet]:
    review = [
        DueSet(f"review reminders {review_reminder_kind(lead)}", _review_due(now, lead), "auto_approve_at", lead)
        for lead in _review_leads()
    ]
    return [*review, DueSet("deadline reminders", _deadline_due(now), "deadline", settings.DEADLINE_REMINDER)]


@register_sweep("reminders", due=reminders_due)
def sweep_reminders(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """Review reminders to buyers (most urgent lead first), deadline reminders to sellers."""
    now = now_or(now)
    results = []
    for lead in _review_leads():
        pks = candidates(_review_due(now, lead), time_field="auto_approve_at")
        results.append(sweep("reminders", pks, lambda pk, lead=lead: _remind_review_one(pk, now, lead), until=until))
    pks = candidates(_deadline_due(now), time_field="deadline")
    results.append(sweep("reminders", pks, lambda pk: _remind_deadline_one(pk, now), until=until))
    return merge_results("reminders", results)


# --- the late flag -------------------------------------------------------------------------


def _flag_one(pk: int, now: datetime) -> bool:
    with transaction.atomic():
        if _claim(pk, late_condition(now)) is None:
            return False
        return milestone_flag_late(milestone_id=pk, now=now)


def late_due(now: datetime) -> list[DueSet]:
    return [DueSet("milestones to flag late", Milestone.objects.filter(late_condition(now)), "deadline")]


@register_sweep("late", due=late_due)
def sweep_late(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    now = now_or(now)
    pks = candidates(Milestone.objects.filter(late_condition(now)), time_field="deadline")
    return sweep("late", pks, lambda pk: _flag_one(pk, now), until=until)


# --- unpaid checkouts ------------------------------------------------------------------


def _checkouts_due(now: datetime) -> QuerySet[Checkout]:
    return Checkout.objects.filter(status=CheckoutStatus.OPEN, expires_at__lte=now)


def checkouts_due(now: datetime) -> list[DueSet]:
    return [DueSet("unpaid checkouts to close", _checkouts_due(now), "expires_at")]


@register_sweep("checkouts", due=checkouts_due)
def sweep_checkouts(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """Checkouts past ``CHECKOUT_EXPIRY`` unpaid close through their purpose
    (``payments.checkout.checkout_expired``): a milestone's closes it, no money
    moved; the difference of accepted changes just closes, the proposal stays
    until it is answered or lapses. The provider's page is closed after
    commit; a payment that still arrives later is refunded."""
    now = now_or(now)
    pks = candidates(_checkouts_due(now), time_field="expires_at")
    return sweep("checkouts", pks, lambda pk: checkout_expired(checkout_id=pk, now=now) == "expired", until=until)


# --- proposals left unanswered ---------------------------------------------------------


def _proposals_due(now: datetime) -> QuerySet[Proposal]:
    return Proposal.objects.filter(state=ProposalState.PENDING, respond_by__lte=now)


def proposals_due(now: datetime) -> list[DueSet]:
    reminders = [
        DueSet(
            f"cancellation reminders {cancellation_reminder_kind(lead)}",
            _cancellation_reminder_due(now, lead),
            "respond_by",
            lead,
        )
        for lead in _cancellation_leads()
    ]
    return [DueSet("unanswered requests to lapse", _proposals_due(now), "respond_by"), *reminders]


@register_sweep("proposals", due=proposals_due)
def sweep_proposals(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """Requests past ``respond_by`` lapse (``proposal_expire``: once, under the
    order, milestone and proposal locks)."""
    now = now_or(now)
    results = []
    for lead in _cancellation_leads():
        pks = candidates(_cancellation_reminder_due(now, lead), time_field="respond_by")
        results.append(
            sweep("proposals", pks, lambda pk, lead=lead: _remind_cancellation_one(pk, now, lead), until=until)
        )
    pks = candidates(_proposals_due(now), time_field="respond_by")
    results.append(sweep("proposals", pks, lambda pk: proposal_expire(proposal_id=pk, now=now), until=until))
    return merge_results("proposals", results)


def cancellation_reminder_kind(lead: timedelta) -> str:
    """``cancellation:86400`` is the reminder a day before a request is accepted."""
    return f"cancellation:{int(lead.total_seconds())}"


def _cancellation_leads() -> list[timedelta]:
    return sorted(set(settings.CANCELLATION_REMINDERS))


def _cancellation_reminder_due(now: datetime, lead: timedelta) -> QuerySet[Proposal]:
    # Due ``lead`` before it is accepted, asked before then, and not reminded of yet.
    sent = MilestoneReminder.objects.filter(
        milestone=OuterRef("milestone"),
        kind=Concat(Value(cancellation_reminder_kind(lead) + ":"), Cast(OuterRef("pk"), CharField())),
    )
    return Proposal.objects.filter(
        kind="cancellation",
        state=ProposalState.PENDING,
        respond_by__gt=now,
        respond_by__lte=now + lead,
        created_at__lt=F("respond_by") - lead,
    ).exclude(Exists(sent))


def _remind_cancellation_one(pk: int, now: datetime, lead: timedelta) -> bool:
    """Tell the party who has not answered that silence accepts the cancellation."""
    with transaction.atomic():
        proposal = Proposal.objects.filter(pk=pk).select_related("proposer").first()
        if proposal is None:
            return False
        milestone = _claim(proposal.milestone_id, Q())
        if milestone is None:
            return False
        proposal = Proposal.objects.select_for_update().get(pk=pk)
        if not proposal.is_pending or not (now < proposal.respond_by <= now + lead):
            return False
        kinds = {f"{cancellation_reminder_kind(other)}:{pk}" for other in _cancellation_leads() if other >= lead}
        kinds -= set(milestone.reminders.filter(kind__in=kinds).values_list("kind", flat=True))
        if f"{cancellation_reminder_kind(lead)}:{pk}" not in kinds:
            return False
        # A longer lead whose time also passed is covered by this, more urgent, one.
        MilestoneReminder.objects.bulk_create([MilestoneReminder(milestone=milestone, kind=kind) for kind in kinds])
        order = milestone.order
        answerer = order.seller if proposal.proposer_id == order.buyer_id else order.buyer
        if silence_accepts(milestone, proposal):
            words = gettext_lazy(
                "{user}'s request to cancel “{title}” is accepted {when} unless you accept or decline it."
            )
        else:
            words = gettext_lazy(
                "{user}'s request to cancel “{title}” lapses as declined {when} unless you accept or decline it."
            )
        notification_send(
            recipient=answerer,
            event="cancellation_reminder",
            message=format_lazy(
                words, user=proposal.proposer.username, title=milestone.title, when=_when(proposal.respond_by, now)
            ),
            url=milestone.get_absolute_url(),
        )
    return True


# --- offers left unanswered ------------------------------------------------------------------


def _offers_due(now: datetime) -> QuerySet[Milestone]:
    return Milestone.objects.filter(state=S.OFFERED, offer_expires_at__lte=now)


def offers_due(now: datetime) -> list[DueSet]:
    return [DueSet("unanswered offers to expire", _offers_due(now), "offer_expires_at")]


@register_sweep("offers", due=offers_due)
def sweep_offers(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """Offers past ``offer_expires_at`` that the buyer neither paid nor declined expire."""
    now = now_or(now)
    pks = candidates(_offers_due(now), time_field="offer_expires_at")
    return sweep("offers", pks, lambda pk: offer_expire(milestone_id=pk, now=now), until=until)


# --- orders that complete by themselves ---------------------------------------------------


def orders_due(now: datetime) -> list[DueSet]:
    return [DueSet("orders to complete", orders_due_to_complete(now), "last_closed", -settings.ORDER_AUTO_COMPLETE)]


@register_sweep("orders", due=orders_due)
def sweep_orders(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """Orders whose last milestone closed ``ORDER_AUTO_COMPLETE`` ago, one approved
    and none open, offered or unpaid, complete (``order_auto_complete``)."""
    now = now_or(now)
    pks = candidates(orders_due_to_complete(now), time_field="last_closed")
    return sweep("orders", pks, lambda pk: order_auto_complete(order_id=pk, now=now), until=until)


# --- ordered packages not continued -------------------------------------------------------------


def continue_reminder_kind(lead: timedelta) -> str:
    """``continue:172800`` is the reminder two days before the order stops; recorded on the step."""
    return f"continue:{int(lead.total_seconds())}"


def _continue_leads() -> list[timedelta]:
    return sorted(lead for lead in set(settings.CONTINUE_REMINDERS) if lead < settings.CONTINUE_PERIOD)


def _continue_reminder_due(now: datetime, lead: timedelta) -> QuerySet[Order]:
    sent = MilestoneReminder.objects.filter(
        milestone__order=OuterRef("pk"), milestone__state=S.PLANNED, kind=continue_reminder_kind(lead)
    )
    period = settings.CONTINUE_PERIOD
    return (
        orders_waiting_to_continue()
        .filter(last_closed__gt=now - period, last_closed__lte=now - period + lead)
        .exclude(Exists(sent))
    )


def _claim_order(pk: int) -> Order | None:
    return (
        Order.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("buyer", "seller")
        .filter(pk=pk)
        .first()
    )


def _remind_continue_one(pk: int, now: datetime, lead: timedelta) -> bool:
    with transaction.atomic():
        order = _claim_order(pk)
        if order is None:
            return False
        step = next_planned(order)
        due = continue_due_at(order)
        if step is None or due is None or not (now < due <= now + lead):
            return False
        sent = set(step.reminders.values_list("kind", flat=True))
        kinds = {continue_reminder_kind(other) for other in _continue_leads() if other >= lead} - sent
        if continue_reminder_kind(lead) not in kinds:
            return False
        # A longer lead whose time also passed is covered by this, more urgent, one.
        MilestoneReminder.objects.bulk_create([MilestoneReminder(milestone=step, kind=kind) for kind in kinds])
        notification_send(
            recipient=order.buyer,
            event="continue_reminder",
            message=format_lazy(
                gettext_lazy(
                    "“{order}” stops {when} unless you continue with “{step}” ({amount} with the service fee). "
                    "Stopping moves no money for the planned steps."
                ),
                order=order.title,
                when=_when(due, now),
                step=step.title,
                amount=Amount(step.total_charged),
            ),
            url=step.get_absolute_url(),
        )
    return True


def _stop_one(pk: int, now: datetime) -> bool:
    with transaction.atomic():
        if _claim_order(pk) is None:
            return False
        order_stop(buyer=None, order=Order(pk=pk), now=now)
    return True


def continue_due(now: datetime) -> list[DueSet]:
    period = settings.CONTINUE_PERIOD
    reminders = [
        DueSet(
            f"continue reminders {continue_reminder_kind(lead)}",
            _continue_reminder_due(now, lead),
            "last_closed",
            lead - period,
        )
        for lead in _continue_leads()
    ]
    return [DueSet("ordered packages to stop", orders_due_to_stop(now), "last_closed", -period), *reminders]


@register_sweep("continue", due=continue_due)
def sweep_continue(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """An ordered package whose next planned step is not continued ``CONTINUE_PERIOD`` after the
    previous one closed stops (``order_stop``: its planned steps cancelled, no money moved); the
    buyer is reminded ``CONTINUE_REMINDERS`` before. Each reminder once per step, the stop once."""
    now = now_or(now)
    results = []
    for lead in _continue_leads():
        pks = candidates(_continue_reminder_due(now, lead), time_field="last_closed")
        results.append(sweep("continue", pks, lambda pk, lead=lead: _remind_continue_one(pk, now, lead), until=until))
    pks = candidates(orders_due_to_stop(now), time_field="last_closed")
    results.append(sweep("continue", pks, lambda pk: _stop_one(pk, now), until=until))
    return merge_results("continue", results)
