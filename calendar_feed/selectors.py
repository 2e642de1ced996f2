"""The reads of the calendar feed: a live feed by its token, the user's live feed, and the events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from accounts.models import User
from calendar_feed.models import CalendarFeed, token_hash
from milestones.models import CLOSED_STATES, DEADLINE_STATES, Milestone, MilestoneState, Proposal, ProposalKind
from milestones.models import ProposalState as P
from milestones.services.proposals import silence_words
from orders.models import Activity

S = MilestoneState


def live_feed_by_token(token: str) -> CalendarFeed | None:
    """The live feed the token opens, with its user; None for a revoked or unknown token (alike) or
    a closed account."""
    return (
        CalendarFeed.objects.select_related("user")
        .filter(token_hash=token_hash(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )


def live_feed_of(user: User) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).first()


@dataclass(frozen=True)
class FeedEvent:
    key: str  # stable: "milestone-<pk>-deadline", made a UID with the site's host
    summary: str
    description: str
    at: datetime
    url: str
    # Rises whenever the milestone changes (every change logs an ``Activity``, never deleted), so a
    # calendar that saw the event replaces it.
    sequence: int
    modified: datetime | None


def _order_words(milestone: Milestone) -> str:
    return _("{title} (Order #{order})").format(title=milestone.title, order=milestone.order_id)


# (party, state): the milestones a feed shows, each pair one arm of the query's OR, so that each arm
# reads the dashboards' partial index of that party and state (``milestones.models.PARTY_LISTS``)
# instead of the user's whole history. The buyer answers offers; both see deadlines and reviews.
FEED_ARMS: tuple[tuple[str, str], ...] = (
    *(("buyer", state) for state in DEADLINE_STATES),
    *(("seller", state) for state in DEADLINE_STATES),
    ("buyer", S.IN_REVIEW),
    ("seller", S.IN_REVIEW),
    ("buyer", S.OFFERED),
)


def feed_milestones(user: User):
    """The milestones of ``user``'s feed, each with ``changes`` (its count of ``Activity`` rows) and
    ``changed_at`` (the latest one's time), in one query."""
    activities = Activity.objects.filter(milestone=OuterRef("pk")).order_by()
    change_count = activities.values("milestone").annotate(n=Count("pk")).values("n")
    arms = Q()
    for party, state in FEED_ARMS:
        arms |= Q(**{party: user, "state": state})
    return (
        Milestone.objects.filter(arms)
        .annotate(
            changes=Coalesce(Subquery(change_count, output_field=IntegerField()), 0),
            changed_at=Subquery(activities.order_by("-created_at", "-id").values("created_at")[:1]),
        )
        .order_by("pk")
    )


def feed_events(user: User) -> list[FeedEvent]:
    """Every open deadline, auto-approval date and answer ``user`` owes on their orders, as a buyer
    or a seller, soonest first: two queries, however many milestones."""
    milestones = feed_milestones(user)
    events: list[FeedEvent] = []
    for m in milestones:
        selling = m.seller_id == user.pk
        url = m.get_absolute_url()
        common = {"url": url, "sequence": m.changes, "modified": m.changed_at}  # type: ignore[attr-defined]
        if m.state in DEADLINE_STATES:
            events.append(
                FeedEvent(
                    key=f"milestone-{m.pk}-deadline",
                    summary=_("Deadline: {order}").format(order=_order_words(m)),
                    description=(
                        _("Deliver “{title}” by this time.")
                        if selling
                        else _("The seller delivers “{title}” by this time.")
                    ).format(title=m.title),
                    at=m.deadline,
                    **common,
                )
            )
        elif m.state == S.IN_REVIEW and m.auto_approve_at is not None:
            events.append(
                FeedEvent(
                    key=f"milestone-{m.pk}-auto-approval",
                    summary=_("Auto-approval: {order}").format(order=_order_words(m)),
                    description=(
                        _(
                            "Unless the buyer approves, asks for a revision or opens a dispute first, “{title}” "
                            "is approved at this time and its payment released to you."
                        )
                        if selling
                        else _(
                            "Approve “{title}”, ask for a revision or open a dispute before this time: "
                            "if you do nothing, it is approved and the seller is paid."
                        )
                    ).format(title=m.title),
                    at=m.auto_approve_at,
                    **common,
                )
            )
        elif m.state == S.OFFERED and m.offer_expires_at is not None:
            events.append(
                FeedEvent(
                    key=f"milestone-{m.pk}-offer",
                    summary=_("Answer due: offer {order}").format(order=_order_words(m)),
                    description=_(
                        "Accept and pay, or decline, the offer “{title}” before this time; unanswered, it expires."
                    ).format(title=m.title),
                    at=m.offer_expires_at,
                    **common,
                )
            )
    proposals = (
        Proposal.objects.filter(state=P.PENDING)
        .filter(Q(milestone__buyer=user) | Q(milestone__seller=user))
        .exclude(proposer=user)
        .exclude(milestone__state__in=CLOSED_STATES)
        .select_related("milestone__order")
        .order_by("pk")
    )
    # Whole sentences per kind of request: the summary, and the description (with what silence does).
    summaries = {
        ProposalKind.EXTENSION: _("Answer due: deadline extension of {order}"),
        ProposalKind.CANCELLATION: _("Answer due: cancellation of {order}"),
        ProposalKind.CHANGES: _("Answer due: changes to {order}"),
    }
    descriptions = {
        ProposalKind.EXTENSION: _(
            "Answer the deadline extension request on “{title}” before this time; unanswered, {outcome}."
        ),
        ProposalKind.CANCELLATION: _(
            "Answer the cancellation request on “{title}” before this time; unanswered, {outcome}."
        ),
        ProposalKind.CHANGES: _(
            "Answer the change of terms request on “{title}” before this time; unanswered, {outcome}."
        ),
    }
    for p in proposals:
        m = p.milestone
        kind = ProposalKind(p.kind)
        events.append(
            FeedEvent(
                key=f"proposal-{p.pk}-answer",
                summary=summaries[kind].format(order=_order_words(m)),
                description=descriptions[kind].format(title=m.title, outcome=silence_words(m, p)),
                at=p.respond_by,
                url=m.get_absolute_url(),
                # A pending request never changes; it is answered, withdrawn or lapses, and leaves the feed.
                sequence=0,
                modified=p.created_at,
            )
        )
    events.sort(key=lambda e: (e.at, e.key))
    return events
