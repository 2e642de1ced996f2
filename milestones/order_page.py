"""Everything the order page shows, read in one place.

The page is the order's milestones (states, money, the viewer's actions),
its messages and its activity log merged into one thread. It lives with the
milestones because it is built around them; ``orders`` below knows nothing
of milestones.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from marketplace.contact import contact_notice
from marketplace.money import format_money
from marketplace.timewords import period_words, since_words, until_words
from milestones.actions import BY_NAME, milestone_actions
from milestones.models import (
    CLOSED_STATES,
    NEVER_PAID_STATES,
    UNPAID_STATES,
    Delivery,
    DeliveryFile,
    Dispute,
    DisputeOutcome,
    DisputeState,
    DisputeStatement,
    Milestone,
    Proposal,
    ProposalState,
    RevisionRequest,
)
from milestones.models import MilestoneState as S
from milestones.selectors import Standing, closed_party, order_actions, standing_of_states
from milestones.services.changes import changes_words
from milestones.services.packages import continue_due_at
from milestones.services.proposals import cancellation_figures, silence_words
from milestones.services.tips import tip_closes_at
from orders.models import Order, OrderMessageFile, OrderStatus, RequirementAnswer
from payments.models import EarningStatus
from payments.receipts import receipts_by_milestone
from payments.services import settlement_figures

# Each kind of activity as the rest of a sentence after the actor's name ("alice approved “Logo”."):
# ``{title}`` is where the milestone's title goes; a line without it is about the whole order.
VERB_WORDS = {
    "order_opened": gettext_lazy("opened the order."),
    "order_completed": gettext_lazy("marked the order complete."),
    "order_auto_completed": gettext_lazy("completed the order automatically."),
    "account_closed": gettext_lazy("noted that an account was closed."),
    "created": gettext_lazy("created the milestone “{title}”."),
    "funded": gettext_lazy("paid by card for “{title}”."),
    "extension_requested": gettext_lazy("asked for a later deadline on “{title}”."),
    "extension_accepted": gettext_lazy("accepted the later deadline on “{title}”."),
    "extension_declined": gettext_lazy("declined the later deadline on “{title}”."),
    "extension_withdrawn": gettext_lazy("withdrew the request for a later deadline on “{title}”."),
    "extension_expired": gettext_lazy("let the request for a later deadline on “{title}” lapse."),
    "cancellation_requested": gettext_lazy("asked to cancel “{title}”."),
    "cancellation_accepted": gettext_lazy("accepted the cancellation of “{title}”."),
    "cancellation_declined": gettext_lazy("declined to cancel “{title}”."),
    "cancellation_withdrawn": gettext_lazy("withdrew the request to cancel “{title}”."),
    "cancellation_expired": gettext_lazy("let the request to cancel “{title}” lapse."),
    "payment_expired": gettext_lazy("closed “{title}” unpaid: its checkout expired."),
    "offered": gettext_lazy("offered a new milestone, “{title}”."),
    "offer_accepted": gettext_lazy("accepted the offer “{title}”."),
    "offer_declined": gettext_lazy("declined the offer “{title}”."),
    "offer_withdrawn": gettext_lazy("withdrew the offer “{title}”."),
    "offer_expired": gettext_lazy("let the offer “{title}” expire."),
    "changes_proposed": gettext_lazy("proposed changes to “{title}”."),
    "changes_accepted": gettext_lazy("accepted the changes to “{title}”."),
    "changes_declined": gettext_lazy("declined the changes to “{title}”."),
    "changes_withdrawn": gettext_lazy("withdrew the changes to “{title}”."),
    "changes_expired": gettext_lazy("let the proposed changes to “{title}” lapse."),
    "accepted": gettext_lazy("accepted “{title}”."),
    "declined": gettext_lazy("declined “{title}”."),
    "cancelled": gettext_lazy("cancelled “{title}”."),
    "started": gettext_lazy("started “{title}”."),
    "submitted": gettext_lazy("submitted “{title}” for review."),
    "revision_requested": gettext_lazy("asked for a revision of “{title}”."),
    "approved": gettext_lazy("approved “{title}”."),
    "tipped": gettext_lazy("left a tip on “{title}”."),
    "flagged_late": gettext_lazy("marked “{title}” late: its deadline passed without a delivery."),
    "portfolio_allowed": gettext_lazy("allowed “{title}” in the seller's portfolio."),
    "portfolio_withdrawn": gettext_lazy("withdrew “{title}” from the seller's portfolio."),
    "disputed": gettext_lazy("opened a dispute on “{title}”."),
    "dispute_statement": gettext_lazy("added their side to the dispute on “{title}”."),
    "dispute_staff_message": gettext_lazy("wrote, for staff, in the dispute on “{title}”."),
    "resolved": gettext_lazy("resolved the dispute on “{title}”."),
    "planned": gettext_lazy("planned “{title}” as a later step, to be paid when the buyer continues."),
    "continue_started": gettext_lazy("started paying by card to continue with “{title}”."),
    "continued": gettext_lazy("continued with “{title}”."),
    "stopped": gettext_lazy("stopped the order before “{title}”."),
    "revision_purchase_requested": gettext_lazy("asked to buy another revision of “{title}”."),
}


def activity_words(verb: str, title: str | None) -> str:
    """An activity as the rest of a sentence after the actor's name; an unknown verb still reads
    as words, with the milestone named."""
    known = VERB_WORDS.get(verb)
    words = str(known) if known is not None else verb.replace("_", " ") + (" “{title}”." if title is not None else ".")
    if title is None:
        # A milestone since deleted from the page's reach: name it as such, never an empty “”
        # (the quotes are the language's own: “…”, «…», „…“).
        title = _("a milestone")
        words = re.sub(r"[“«„]\{title\}[”»“]", "{title}", words)
    return words.format(title=title)


# The heading of a resolved dispute, by its outcome.
DISPUTE_RESOLVED_WORDS: dict[str, Any] = {
    DisputeOutcome.RELEASE: gettext_lazy("Dispute resolved: released to the seller"),
    DisputeOutcome.REFUND: gettext_lazy("Dispute resolved: refunded to the buyer"),
    DisputeOutcome.SPLIT: gettext_lazy("Dispute resolved: split between the buyer and the seller"),
}


def dispute_heading(dispute: Dispute, title: str) -> str:
    """The dispute box's heading as a sentence ("Dispute opened on “Logo”"), not the state's
    label dropped into one ("Dispute Open opened")."""
    if dispute.state == DisputeState.RESOLVED:
        return str(DISPUTE_RESOLVED_WORDS.get(dispute.outcome) or _("Dispute resolved: decided by staff"))
    if dispute.state == DisputeState.WITHDRAWN:
        return _("Dispute withdrawn: settled by the parties")
    return _("Dispute opened on “{title}”").format(title=title)


@dataclass(frozen=True)
class HistoryEntry:
    kind: str  # "delivery" or "revision"
    at: datetime
    item: object


@dataclass(frozen=True)
class TimelineItem:
    kind: str  # "message" or "activity"
    at: datetime
    who: str
    text: str
    detail: str = ""
    milestone_id: int | None = None
    mine: bool = False
    # A message's attached files, and the notice when it holds contact details off the platform.
    files: tuple = ()
    notice: str = ""


@dataclass
class OrderPage:
    order: Order
    role: str | None
    milestones: list
    timeline: list[TimelineItem]
    # True when older messages and activity exist beyond the recent ones shown.
    timeline_truncated: bool
    actions: list[str]
    approved_count: int
    counted_milestones: int
    released: Money
    funded: Money
    # How the order completed, or when it will by itself ("" if neither applies).
    completion: str = ""
    # What the order is waiting for, in the header's badge, and the badge's class.
    status_words: str = ""
    status_key: str = ""
    # The buyer's answers to the gig's requirement questions (an ordered package): the brief.
    requirements: list = field(default_factory=list)

    @property
    def closed_party(self):
        """The party whose account was closed, if one was (``milestones.selectors.closed_party``)."""
        return closed_party(self.order)

    @property
    def can_create_milestone(self) -> bool:
        return "create_milestone" in self.actions

    @property
    def can_propose_milestone(self) -> bool:
        return "propose_milestone" in self.actions

    @property
    def can_complete(self) -> bool:
        return "complete" in self.actions


def _short_date(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "MONTH_DAY_FORMAT")


def _one_to_one(obj, name: str):
    """A reverse one-to-one fetched by select_related, or None if absent."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None


def _grouped(rows, key: str) -> dict[int, list]:
    groups: dict[int, list] = defaultdict(list)
    for row in rows:
        groups[getattr(row, key)].append(row)
    return groups


def _attach_threads(milestones: list) -> None:
    """Each milestone's deliveries (with their files), revision requests, pending
    proposals and dispute statements, as plain lists: one query per kind for the
    whole page. (``prefetch_related`` builds a queryset per milestone and per
    delivery to hold its results, which cost more than the rows on a long order.)"""
    # An empty ``__in`` costs no query: Django answers it without asking the database.
    ids = [m.pk for m in milestones]
    deliveries = list(
        Delivery.objects.filter(milestone_id__in=ids)
        .select_related("author")
        .only("milestone", "number", "message", "links", "created_at", "author__username")
        .order_by("number")
    )
    files = _grouped(
        DeliveryFile.objects.filter(delivery_id__in=[d.pk for d in deliveries]).order_by("pk"), "delivery_id"
    )
    for delivery in deliveries:
        delivery.file_list = files.get(delivery.pk, [])  # type: ignore[attr-defined]  # shown by milestone_history.html
    by_milestone = _grouped(deliveries, "milestone_id")
    revisions = _grouped(
        RevisionRequest.objects.filter(milestone_id__in=ids).order_by("created_at", "id"), "milestone_id"
    )
    proposals = _grouped(
        Proposal.objects.filter(milestone_id__in=ids, state=ProposalState.PENDING)
        .select_related("proposer")
        .order_by("created_at", "id"),
        "milestone_id",
    )
    for milestone in milestones:
        milestone.dispute_or_none = _one_to_one(milestone, "dispute")
        if milestone.dispute_or_none is not None:
            milestone.dispute_or_none.heading = dispute_heading(milestone.dispute_or_none, milestone.title)
    disputes = [m.dispute_or_none for m in milestones if m.dispute_or_none is not None]
    statements = _grouped(
        DisputeStatement.objects.filter(dispute_id__in=[d.pk for d in disputes])
        .select_related("author")
        .order_by("created_at", "pk"),
        "dispute_id",
    )
    for dispute in disputes:
        dispute.statement_list = statements.get(dispute.pk, [])
    for milestone in milestones:
        milestone.delivery_list = by_milestone.get(milestone.pk, [])
        milestone.revision_list = revisions.get(milestone.pk, [])
        milestone.pending_proposals = proposals.get(milestone.pk, [])


def _decorate(milestone, *, order: Order, user, role: str | None, now: datetime) -> None:
    """Attach what the template shows, worked out once, here, not in the template."""
    milestone.order = order
    milestone.earning_or_none = _one_to_one(milestone, "earning")
    milestone.checkout_or_none = _one_to_one(milestone, "checkout")
    milestone.tip_or_none = _one_to_one(milestone, "tip")
    # Deliveries and revision requests as one thread, in the order they happened.
    milestone.history = sorted(
        [HistoryEntry("delivery", d.created_at, d) for d in milestone.delivery_list]
        + [HistoryEntry("revision", r.created_at, r) for r in milestone.revision_list],
        key=lambda entry: entry.at,
    )
    closes = tip_closes_at(milestone)
    milestone.can_tip = (
        role == "buyer"
        and closes is not None
        and now < closes
        and milestone.tip_or_none is None
        and order.seller.is_active
    )
    milestone.actions = [BY_NAME[name] for name in milestone_actions(milestone, user, order)]
    milestone.revisions_words = (
        _("Revisions: {used} of {included} used").format(
            used=milestone.revision_count, included=milestone.revisions_included
        )
        if milestone.revisions_included is not None
        else ""
    )
    milestone.continue_due_at = continue_due_at(order) if milestone.actions and milestone.state == S.PLANNED else None
    for proposal in getattr(milestone, "pending_proposals", []):
        if proposal.kind == "changes":
            proposal.words = changes_words(milestone, proposal)
        elif proposal.kind == "cancellation" and proposal.refund_amount is not None:
            proposal.figures = cancellation_figures(milestone, proposal.refund_amount, held=milestone.amount)
        proposal.unanswered = silence_words(milestone, proposal)
    # What the seller receives on approval, after the commission (the figures the release posts).
    milestone.seller_figures = (
        settlement_figures(buyer_fee=milestone.buyer_fee, held=milestone.amount, seller_gross=milestone.amount)
        if role == "seller" and milestone.earning_or_none is None and milestone.state not in CLOSED_STATES
        else None
    )

    # A closed milestone's card says what happened and when ("Approved · 12 Dec"), not a deadline
    # that no longer runs ("DEADLINE deadline · 12 Dec").
    milestone.closed_words = str(CLOSED_WORDS.get(milestone.state, "")) if milestone.closed_at else ""
    if milestone.is_overdue:
        milestone.deadline_words = _("late by {span}").format(span=since_words(milestone.deadline, now))
    elif milestone.deadline > now:
        milestone.deadline_words = _("due in {span}").format(span=until_words(milestone.deadline, now))
    else:
        milestone.deadline_words = _("was due")

    milestone.clock_label, milestone.clock_words = _clock(milestone, role=role)


# What a closed milestone's card says in place of its deadline.
CLOSED_WORDS = {
    S.APPROVED: gettext_lazy("Approved"),
    S.DECLINED: gettext_lazy("Declined"),
    S.CANCELLED: gettext_lazy("Cancelled"),
    S.RESOLVED: gettext_lazy("Resolved by staff"),
    S.PAYMENT_EXPIRED: gettext_lazy("Closed unpaid"),
    S.OFFER_DECLINED: gettext_lazy("Offer declined"),
    S.OFFER_EXPIRED: gettext_lazy("Offer expired"),
}


def _clock(milestone, *, role: str | None) -> tuple[str, str]:
    """The card's next date, labelled: the review's auto-approval; then, for the seller (and
    staff), when the earning clears; for the buyer, when the money went to the seller (the
    seller's clearance is not the buyer's business and reads as money still owed)."""
    earning = milestone.earning_or_none
    if milestone.state == S.IN_REVIEW and milestone.auto_approve_at:
        day = _short_date(milestone.auto_approve_at)
        if role == "buyer":
            return _("Review"), _("auto-approves on {day} if you do nothing").format(day=day)
        return _("Review"), _("auto-approves on {day} if the buyer does nothing").format(day=day)
    if earning is None:
        return "", ""
    if role == "buyer":
        dispute = getattr(milestone, "dispute_or_none", None)
        if dispute is not None and dispute.seller_amount is not None and dispute.seller_amount != milestone.amount:
            # A split: only the seller's part went to them (the outcome below says where the rest went).
            return (
                _("Payment"),
                _("{amount} released to the seller on {day}").format(
                    amount=format_money(dispute.seller_amount), day=_short_date(earning.created_at)
                ),
            )
        return _("Payment"), _("released to the seller on {day}").format(day=_short_date(earning.created_at))
    if earning.status == EarningStatus.PENDING:
        return _("Payment"), _("clears on {day}").format(day=_short_date(earning.clears_at))
    return _("Payment"), _("available")


# Unpaid and never-paid milestones hold no money: they count in no total, as declined and cancelled ones.
NOT_COUNTED = frozenset({S.DECLINED, S.CANCELLED, *UNPAID_STATES, *NEVER_PAID_STATES})

# A long engagement has hundreds of messages; the page shows the newest ones
# and links to the whole history.
TIMELINE_RECENT = 50


def order_page(order: Order, user, *, full_history: bool = False) -> OrderPage:
    """Everything the order page shows, in a number of queries that does not
    grow with the milestones, deliveries or messages of the order.

    The thread shows its newest ``TIMELINE_RECENT`` entries unless
    ``full_history``: one row more than that is read from each source, so
    knowing there is more costs no query.
    """
    now = timezone.now()
    role = order.role_of(user)
    milestones = list(
        Milestone.objects.filter(order=order)
        .select_related("dispute__opened_by", "earning", "checkout", "tip__earning")
        .order_by("position")
    )
    _attach_threads(milestones)
    # The viewer's receipts for every milestone of the page, in one query.
    receipts = receipts_by_milestone([m.pk for m in milestones], user)
    for milestone in milestones:
        _decorate(milestone, order=order, user=user, role=role, now=now)
        milestone.receipts = receipts.get(milestone.pk, [])

    # Unpaid and never-paid milestones hold no money: they count in no total.
    counted = [m for m in milestones if m.state not in NOT_COUNTED]
    funded = sum((m.amount for m in counted), Money(0, order.currency))
    released = Money(0, order.currency)
    for m in counted:
        if m.state == S.APPROVED:
            released += m.amount
        elif m.state == S.RESOLVED and m.dispute_or_none and m.dispute_or_none.seller_amount:
            released += m.dispute_or_none.seller_amount
    has_open = any(m.state not in CLOSED_STATES for m in milestones)
    completion = _completion_words(order, milestones, has_open=has_open)
    standing = standing_of_states(order, (m.state for m in milestones))

    titles = {m.pk: m.title for m in milestones}
    items: list[TimelineItem] = []
    limit = None if full_history else TIMELINE_RECENT + 1
    # The columns the thread shows, and the authors' names only.
    newest_messages = list(
        order.messages.select_related("author")
        .only("order", "body", "contact_flag", "created_at", "author__username")
        .order_by("-created_at", "-id")[:limit]
    )
    message_files = _grouped(
        OrderMessageFile.objects.filter(message_id__in=[m.pk for m in newest_messages]), "message_id"
    )
    newest_activities = list(
        order.activities.select_related("actor")
        .only("order", "milestone", "verb", "note", "created_at", "actor__username")
        .order_by("-created_at", "-id")[:limit]
    )
    for message in newest_messages:
        items.append(
            TimelineItem(
                kind="message",
                at=message.created_at,
                who=message.author.username,
                text=message.body,
                mine=message.author_id == user.pk,
                files=tuple(message_files.get(message.pk, ())),
                notice=contact_notice(message.contact_flag),
            )
        )
    for activity in newest_activities:
        title = titles.get(activity.milestone_id) if activity.milestone_id else None
        words = activity_words(activity.verb, title)
        items.append(
            TimelineItem(
                kind="activity",
                at=activity.created_at,
                who=activity.actor_name,
                text=words,
                detail=activity.note,
                milestone_id=activity.milestone_id,
            )
        )
    items.sort(key=lambda item: item.at)
    truncated = not full_history and len(items) > TIMELINE_RECENT
    if truncated:
        items = items[-TIMELINE_RECENT:]

    return OrderPage(
        order=order,
        role=role,
        milestones=milestones,
        timeline=items,
        timeline_truncated=truncated,
        actions=order_actions(order, user, has_open_milestone=has_open, has_milestone=bool(milestones)),
        approved_count=sum(1 for m in counted if m.state == S.APPROVED),
        counted_milestones=len(counted),
        released=released,
        funded=funded,
        completion=completion,
        status_words=_status_words(order, standing),
        status_key=standing.key,
        # Only an ordered package has answers: other orders' pages cost no query more.
        requirements=list(RequirementAnswer.objects.filter(order=order).order_by("position"))
        if order.package_name
        else [],
    )


def _status_words(order: Order, standing: Standing) -> str:
    """The order's state as what it waits for (``milestones.selectors.order_standing``): "Waiting
        for a milestone" said nothing when every milestone was closed and completion was offered too,
        and "Active" said nothing when the only milestone waited for payment. An order whose milestones
    were all cancelled is "Cancelled" in the history, but here the buyer may still add one."""
    if standing.key == "cancelled" or str(standing.words) == _("Every milestone closed"):
        return _("Every milestone closed: waiting for a new one, or for the buyer to complete the order")
    return str(standing.words)


def _completion_words(order: Order, milestones: list, *, has_open: bool) -> str:
    """The order page says how the order completed, and when; or when it will by itself."""
    if order.status == OrderStatus.COMPLETED and order.completed_at:
        when = date_format(timezone.localtime(order.completed_at), "DATETIME_FORMAT")
        if order.completed_automatically:
            period = period_words(settings.ORDER_AUTO_COMPLETE)
            return _("Completed automatically on {when}, {period} after its last milestone closed.").format(
                when=when, period=period
            )
        return _("Marked complete by {buyer} on {when}.").format(buyer=order.buyer.username, when=when)
    closed = [m.closed_at for m in milestones if m.closed_at]
    if has_open or not closed or not any(m.state == S.APPROVED for m in milestones):
        return ""
    due = timezone.localtime(max(closed) + settings.ORDER_AUTO_COMPLETE)
    return _(
        "Every milestone is closed: this order completes by itself on {when} unless a milestone is added; the "
        "buyer can mark it complete now."
    ).format(when=date_format(due, "DATETIME_FORMAT"))
