"""Reads behind the marketplace pages: gigs and the two dashboards.

Every function here runs a fixed number of queries, however many orders and
milestones the user has: counts come from one aggregate, lists are capped and
``select_related`` what the templates show.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from marketplace.models import Gig, Notification, User
from milestones.models import Milestone, MilestoneState
from orders.models import Order, OrderStatus

S = MilestoneState


@dataclass(frozen=True)
class Section:
    """One list on a dashboard: which milestones, and what the user should do."""

    key: str
    title: str
    hint: str
    states: tuple[str, ...]
    order_by: tuple[str, ...] = ("deadline", "pk")


BUYER_SECTIONS = (
    Section(
        "to_review", "To review", "Approve the work or ask for a revision.", (S.IN_REVIEW,), ("auto_approve_at", "pk")
    ),
    Section(
        "in_progress",
        "In progress",
        "The seller is working on these.",
        (S.IN_PROGRESS, S.REVISION_REQUESTED, S.ACCEPTED),
    ),
    Section(
        "awaiting_acceptance",
        "Awaiting acceptance",
        "Funded; waiting for the seller to accept.",
        (S.AWAITING_ACCEPTANCE,),
        ("created_at", "pk"),
    ),
    Section("disputed", "In dispute", "Staff are looking at these.", (S.DISPUTED,), ("created_at", "pk")),
)

SELLER_SECTIONS = (
    Section(
        "to_accept",
        "To accept",
        "Accept to start work, or decline.",
        (S.AWAITING_ACCEPTANCE,),
        ("created_at", "pk"),
    ),
    Section("in_progress", "In progress", "Deliver before the deadline.", (S.IN_PROGRESS, S.ACCEPTED)),
    Section("revision_requested", "Revision requested", "The buyer asked for changes.", (S.REVISION_REQUESTED,)),
    Section(
        "in_review",
        "In review",
        "Waiting for the buyer; approved automatically if they stay silent.",
        (S.IN_REVIEW,),
        ("auto_approve_at", "pk"),
    ),
    Section("disputed", "In dispute", "Staff are looking at these.", (S.DISPUTED,), ("created_at", "pk")),
)


@dataclass
class SectionData:
    section: Section
    count: int
    milestones: list[Milestone] = field(default_factory=list)

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.milestones))


@dataclass
class Dashboard:
    role: str
    sections: list[SectionData]
    orders_without_milestone: int

    @property
    def total(self) -> int:
        return sum(s.count for s in self.sections)

    def __getitem__(self, key: str) -> SectionData:
        for data in self.sections:
            if data.section.key == key:
                return data
        raise KeyError(key)


def gigs_active() -> QuerySet[Gig]:
    return Gig.objects.filter(is_active=True).select_related("seller").order_by("-created_at", "-pk")


def gigs_of(user: User, *, limit: int) -> list[Gig]:
    """The user's own gigs, active first, newest first; at most ``limit``."""
    return list(Gig.objects.filter(seller=user).order_by("-is_active", "-created_at", "-pk")[:limit])


def gig_for_display(pk: int) -> Gig | None:
    return Gig.objects.select_related("seller").filter(pk=pk).first()


def _milestones_as(user: User, role: str) -> QuerySet[Milestone]:
    party = {"buyer": Q(order__buyer=user), "seller": Q(order__seller=user)}[role]
    return Milestone.objects.filter(party)


def dashboard_for(user: User, role: str, *, limit: int = 10, sections: tuple[str, ...] | None = None) -> Dashboard:
    """The buyer's or the seller's dashboard: a count per section (one
    aggregate), then up to ``limit`` milestones for each wanted section (one
    query each), with their order and the other party."""
    all_sections = BUYER_SECTIONS if role == "buyer" else SELLER_SECTIONS
    # Only open milestones are ever listed: filtering on their states first
    # lets PostgreSQL skip a long history of closed ones.
    listed_states = sorted({state for section in all_sections for state in section.states})
    base = _milestones_as(user, role).filter(state__in=listed_states)
    counts = base.aggregate(
        **{s.key: Count("pk", filter=Q(state__in=s.states)) for s in all_sections},
    )
    order_party = Q(buyer=user) if role == "buyer" else Q(seller=user)
    waiting = Order.objects.filter(order_party, status=OrderStatus.AWAITING_MILESTONE).count()
    result = []
    for section in all_sections:
        data = SectionData(section=section, count=counts[section.key])
        wanted = sections is None or section.key in sections
        # Queried even when the count is zero, so the number of queries is
        # the same for every user (a query-count test can pin it).
        if wanted and limit:
            data.milestones = list(
                base.filter(state__in=section.states)
                .select_related("order__buyer", "order__seller")
                .order_by(*section.order_by)[:limit]
            )
        result.append(data)
    return Dashboard(role=role, sections=result, orders_without_milestone=waiting)


def orders_without_milestone(user: User, role: str, *, limit: int = 10) -> list[Order]:
    order_party = Q(buyer=user) if role == "buyer" else Q(seller=user)
    return list(
        Order.objects.filter(order_party, status=OrderStatus.AWAITING_MILESTONE)
        .select_related("buyer", "seller")
        .order_by("-updated_at", "-pk")[:limit]
    )


def notifications_for(user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).order_by("-created_at", "-id")
