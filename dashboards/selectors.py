"""Reads behind the two dashboards.

Every function here runs a fixed number of queries, however many orders and
milestones the user has: counts come from one aggregate, lists are capped and
``select_related`` what the templates show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from accounts.models import User
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
    # The user must act on these (the rest wait on the other party).
    needs_action: bool = False


BUYER_SECTIONS = (
    Section(
        "to_review",
        "To review",
        "Approve the work or ask for a revision.",
        (S.IN_REVIEW,),
        ("auto_approve_at", "pk"),
        needs_action=True,
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
    Section(
        "offers",
        "Offers",
        "The seller proposes these: accept and pay to start them, or decline. Unanswered offers expire.",
        (S.OFFERED,),
        ("offer_expires_at", "pk"),
        needs_action=True,
    ),
    Section(
        "awaiting_payment",
        "Awaiting payment",
        "Not paid yet: pay to send them to the seller, or cancel them. Unpaid ones close when the checkout expires.",
        (S.AWAITING_PAYMENT,),
        ("created_at", "pk"),
        needs_action=True,
    ),
)

SELLER_SECTIONS = (
    Section(
        "to_accept",
        "To accept",
        "Accept to start work, or decline.",
        (S.AWAITING_ACCEPTANCE,),
        ("created_at", "pk"),
        needs_action=True,
    ),
    Section("in_progress", "In progress", "Deliver before the deadline.", (S.IN_PROGRESS, S.ACCEPTED)),
    Section(
        "revision_requested",
        "Revision requested",
        "The buyer asked for changes.",
        (S.REVISION_REQUESTED,),
        needs_action=True,
    ),
    Section(
        "in_review",
        "In review",
        "Waiting for the buyer; approved automatically if they stay silent.",
        (S.IN_REVIEW,),
        ("auto_approve_at", "pk"),
    ),
    Section("disputed", "In dispute", "Staff are looking at these.", (S.DISPUTED,), ("created_at", "pk")),
    Section(
        "offered",
        "Offers sent",
        "Waiting for the buyer to accept and pay, or decline.",
        (S.OFFERED,),
        ("offer_expires_at", "pk"),
    ),
)


@dataclass
class SectionData:
    """One section as shown: its count, and one page of its milestones.

    Pages need no count query of their own: the count comes from the
    dashboard's aggregate."""

    section: Section
    count: int
    milestones: list[Milestone] = field(default_factory=list)
    page: int = 1
    per_page: int = 0

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.milestones))

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.per_page)) if self.per_page else 1

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def page_param(self) -> str:
        return f"{self.section.key}_page"


def page_number(value: str | int | None, *, last: int | None = None) -> int:
    """A 1-based page number from a query parameter; junk means 1."""
    try:
        number = max(1, int(value or 1))
    except (TypeError, ValueError):
        return 1
    return min(number, last) if last else number


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


def _milestones_as(user: User, role: str) -> QuerySet[Milestone]:
    party = {"buyer": Q(order__buyer=user), "seller": Q(order__seller=user)}[role]
    return Milestone.objects.filter(party)


def dashboard_for(
    user: User,
    role: str,
    *,
    limit: int = 10,
    sections: tuple[str, ...] | None = None,
    pages: Mapping[str, str] | None = None,
) -> Dashboard:
    """The buyer's or the seller's dashboard: a count per section (one
    aggregate), then one page of ``limit`` milestones for each wanted section
    (one query each, ``pages["<key>_page"]`` picks the page), with their
    order and the other party."""
    pages = pages or {}
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
        data = SectionData(section=section, count=counts[section.key], per_page=limit)
        data.page = page_number(pages.get(data.page_param), last=data.pages)
        wanted = sections is None or section.key in sections
        # Queried even when the count is zero, so the number of queries is
        # the same for every user (a query-count test can pin it).
        if wanted and limit:
            start = (data.page - 1) * limit
            data.milestones = list(
                base.filter(state__in=section.states)
                .select_related("order__buyer", "order__seller")
                .order_by(*section.order_by)[start : start + limit]
            )
        result.append(data)
    return Dashboard(role=role, sections=result, orders_without_milestone=waiting)


def orders_without_milestone(user: User, role: str, *, limit: int = 10, page: int = 1) -> list[Order]:
    order_party = Q(buyer=user) if role == "buyer" else Q(seller=user)
    start = (page - 1) * limit
    return list(
        Order.objects.filter(order_party, status=OrderStatus.AWAITING_MILESTONE)
        .select_related("buyer", "seller")
        .order_by("-updated_at", "-pk")[start : start + limit]
    )
