"""Reads for reputation: the seller profile's figures, the portfolio, an order's reviews."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
)
from django.utils.translation import gettext as _

from accounts.levels import LEVEL_WINDOW, SellerRecord
from accounts.models import SellerLevelChange, User
from gigs.models import Gig
from inbox.models import Inquiry, InquiryMessage
from marketplace.sums import ExactSum
from milestones.models import (
    Delivery,
    DeliveryFile,
    DisputeOutcome,
    Milestone,
    MilestoneState,
    Proposal,
    ProposalKind,
    ProposalState,
)
from orders.models import Order, OrderMessage, OrderStatus
from payments.models import Earning
from reviews.models import Review, ReviewNotice, ReviewRole
from reviews.services import NUDGE, review_refusal, review_window_end

S = MilestoneState


@dataclass(frozen=True)
class SellerFigures:
    on_time_rate: int | None  # percent of submitted milestones first delivered by their deadline
    on_time_count: int
    completion_rate: int | None  # percent of the counted milestones that were completed (``completion_counted``)
    completion_count: int


def _percent(part: int, whole: int) -> int | None:
    return round(100 * part / whole) if whole else None


def completion_counted() -> tuple[Q, Q]:
    """What the completion rate counts, as Fiverr counts it: (completed, against the seller).

    Completed: approved, or a dispute staff settled wholly in the seller's favour.
    Against the seller: a cancellation the seller asked for, or one agreed (or
    accepted by silence) after the seller missed the deadline; a dispute staff
    settled with money back to the buyer. Neither, so left out of the rate: the
    buyer's change of plan (withdrawing before work starts, or a cancellation the
    buyer asked while the seller was on time), and a milestone the seller declined.
    The milestone must carry the ``seller_asked_to_cancel`` annotation."""
    completed = Q(state=S.APPROVED) | Q(state=S.RESOLVED, dispute__outcome=DisputeOutcome.RELEASE)
    missed_deadline = Q(late_flagged_at__isnull=False) | Q(closed_at__gt=F("deadline"))
    cancelled_in_work = Q(state=S.CANCELLED, started_at__isnull=False)
    against = (cancelled_in_work & (Q(seller_asked_to_cancel=True) | missed_deadline)) | (
        Q(state=S.RESOLVED) & ~Q(dispute__outcome=DisputeOutcome.RELEASE)
    )
    return completed, against


def seller_figures(seller: User, *, since: datetime | None = None) -> SellerFigures:
    """Two aggregate queries, whatever the number of milestones. With ``since``, only milestones
    submitted (on-time) or closed (completion) since then: the seller levels' window."""
    first_delivery = Delivery.objects.filter(milestone=OuterRef("pk")).order_by("created_at").values("created_at")[:1]
    submitted = Milestone.objects.filter(order__seller=seller, submitted_at__isnull=False)
    closed_ones = Milestone.objects.filter(order__seller=seller, accepted_at__isnull=False, closed_at__isnull=False)
    if since is not None:
        submitted = submitted.filter(submitted_at__gte=since)
        closed_ones = closed_ones.filter(closed_at__gte=since)
    delivered = submitted.annotate(first=Subquery(first_delivery)).aggregate(
        total=Count("id"), on_time=Count("id", filter=Q(first__lte=F("deadline")))
    )
    seller_asked = Proposal.objects.filter(
        milestone=OuterRef("pk"),
        kind=ProposalKind.CANCELLATION,
        state=ProposalState.ACCEPTED,
        proposer=OuterRef("order__seller"),
    )
    completed, against = completion_counted()
    closed = closed_ones.annotate(seller_asked_to_cancel=Exists(seller_asked)).aggregate(
        completed=Count("id", filter=completed), against=Count("id", filter=against)
    )
    counted = closed["completed"] + closed["against"]
    return SellerFigures(
        on_time_rate=_percent(delivered["on_time"], delivered["total"]),
        on_time_count=delivered["total"],
        completion_rate=_percent(closed["completed"], counted),
        completion_count=counted,
    )


@dataclass(frozen=True)
class Rating:
    avg: Decimal | None
    count: int


def buyer_rating(person: User) -> Rating:
    """The average of the sellers' public reviews of ``person`` as a buyer: one aggregate
    query on the reviews' (subject, role) index, whatever their number. (Their rating as a
    seller is kept on their row, ``rating_avg``, because search sorts by it.)"""
    totals = (
        Review.objects.public()
        .filter(subject=person, role=ReviewRole.SELLER)
        .aggregate(avg=Avg("rating"), count=Count("id"))
    )
    count = totals["count"] or 0
    avg = Decimal(totals["avg"]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if count else None
    return Rating(avg=avg, count=count)


@dataclass(frozen=True)
class BuyerReputation:
    """What a seller can weigh about a buyer: the sellers' public reviews of them (average and
    count) and how many orders they completed as the buyer. ``partials/buyer_reputation.html``
    shows it (on the profile, and wherever a seller meets a buyer)."""

    person: User
    rating: Rating
    completed_orders: int


def buyer_reputation(person: User) -> BuyerReputation:
    """Two aggregate queries, whatever the number of reviews and orders."""
    completed = Order.objects.filter(buyer=person, status=OrderStatus.COMPLETED).count()
    return BuyerReputation(person=person, rating=buyer_rating(person), completed_orders=completed)


def public_reviews_of(person: User, *, role: str = ReviewRole.BUYER):
    """The public reviews ``person`` received: from their buyers (``role="buyer"``, of them as a
    seller) or from their sellers (``role="seller"``, of them as a buyer)."""
    return (
        Review.objects.public()
        .filter(subject=person, role=role)
        .select_related("author", "subject", "order")
        .order_by("-published_at", "-id")
    )


def portfolio_of(seller: User) -> list[Milestone]:
    """Approved milestones whose buyer allowed them, each with its last delivery and its files."""
    milestones = list(
        Milestone.objects.filter(order__seller=seller, state=S.APPROVED, portfolio_allowed_at__isnull=False)
        .select_related("order__gig")
        .prefetch_related(
            Prefetch(
                "deliveries",
                queryset=Delivery.objects.order_by("-number").prefetch_related("files"),
                to_attr="latest_deliveries",
            )
        )
        .order_by("-approved_at", "-id")[:24]
    )
    for milestone in milestones:
        milestone.delivery = milestone.latest_deliveries[0] if milestone.latest_deliveries else None
    return milestones


def portfolio_file(pk: int) -> DeliveryFile | None:
    """A file of the last delivery of an approved milestone its buyer allowed in the portfolio, else None."""
    item = (
        DeliveryFile.objects.select_related("delivery__milestone")
        .filter(pk=pk, delivery__milestone__state=S.APPROVED, delivery__milestone__portfolio_allowed_at__isnull=False)
        .first()
    )
    if item is None:
        return None
    last = Delivery.objects.filter(milestone_id=item.delivery.milestone_id).order_by("-number").first()
    return item if last is not None and last.pk == item.delivery_id else None


def active_gigs_of(seller: User) -> list[Gig]:
    return list(Gig.objects.filter(seller=seller, is_active=True).order_by("-created_at"))


@dataclass
class OrderReviews:
    """The review block of the order page, for one viewer."""

    role: str | None
    can_review: bool
    refusal: str
    mine: Review | None
    published: list[Review]
    window_end: datetime | None
    can_request: bool
    requested: bool


def order_reviews(order: Order, user) -> OrderReviews:
    role = order.role_of(user) if user.is_authenticated else None
    reviews = list(Review.objects.filter(order=order).select_related("author"))
    mine = next((r for r in reviews if user.is_authenticated and r.author_id == user.pk), None)
    published = [r for r in reviews if r.is_published and r.hidden_at is None]
    refusal = review_refusal(order, user) if role else _("Only the parties review an order.")
    requested = False
    can_request = False
    if role == "seller" and not any(r.author_id == order.buyer_id for r in reviews):
        requested = ReviewNotice.objects.filter(order=order, user_id=order.buyer_id, kind=NUDGE).exists()
        can_request = not requested and not review_refusal(order, order.buyer)
    return OrderReviews(
        role=role,
        can_review=role is not None and not refusal,
        refusal=refusal,
        mine=mine,
        published=published,
        window_end=review_window_end(order),
        can_request=can_request,
        requested=requested,
    )


# --- response time and rate, and the record a seller level is judged on ---

# A conversation counts as answered in time when the seller's first answer came within this.
RESPONSE_WITHIN = timedelta(hours=24)


@dataclass(frozen=True)
class ResponseFigures:
    seconds: int | None  # the average time to the first answer, of the conversations answered
    rate: int | None  # percent of the conversations answered within ``RESPONSE_WITHIN``
    count: int  # conversations counted


def _first_contact(conversations, messages, *, since: datetime, until: datetime) -> dict:
    """One aggregate query over one kind of conversation (inquiries, or orders): for each, the
    buyer's first message and the seller's first message after it (two correlated subqueries on
    the messages' (conversation, created_at) index); counted if that first message came in the
    window and at least ``RESPONSE_WITHIN`` before ``until``, so a conversation still within its
    day is neither a miss nor a hit yet."""
    first_ask = messages.filter(author=OuterRef("buyer")).order_by("created_at", "id").values("created_at")[:1]
    first_answer = (
        messages.filter(author=OuterRef("seller"), created_at__gte=OuterRef("asked_at"))
        .order_by("created_at", "id")
        .values("created_at")[:1]
    )
    wait = ExpressionWrapper(F("answered_at") - F("asked_at"), output_field=DurationField())
    return (
        conversations.annotate(asked_at=Subquery(first_ask))
        .filter(asked_at__gte=since, asked_at__lte=until - RESPONSE_WITHIN)
        .annotate(answered_at=Subquery(first_answer))
        .aggregate(
            count=Count("id"),
            answered=Count("id", filter=Q(answered_at__isnull=False)),
            in_time=Count("id", filter=Q(answered_at__lte=F("asked_at") + RESPONSE_WITHIN)),
            total_wait=Sum(wait, filter=Q(answered_at__isnull=False)),
        )
    )


def response_figures(seller: User, *, now: datetime) -> ResponseFigures:
    """The seller's response time and rate over the level's window (``LEVEL_WINDOW``, 60 days), from
    the buyer's first message of each inquiry ("Contact seller") and each order to the seller's first
    answer: the average wait of those answered, and the share answered within a day. Two aggregate
    queries (inquiries, orders), whatever the number of messages. Computed by the nightly sweep and
    kept on the user row, which the profile shows."""
    since = now - LEVEL_WINDOW
    parts = [
        _first_contact(
            Inquiry.objects.filter(seller=seller),
            InquiryMessage.objects.filter(inquiry=OuterRef("pk")),
            since=since,
            until=now,
        ),
        _first_contact(
            Order.objects.filter(seller=seller),
            OrderMessage.objects.filter(order=OuterRef("pk")),
            since=since,
            until=now,
        ),
    ]
    count = sum(part["count"] for part in parts)
    answered = sum(part["answered"] for part in parts)
    in_time = sum(part["in_time"] for part in parts)
    waited = sum((part["total_wait"] or timedelta(0) for part in parts), timedelta(0))
    return ResponseFigures(
        seconds=round(waited.total_seconds() / answered) if answered else None,
        rate=_percent(in_time, count),
        count=count,
    )


def earnings_of(seller: User) -> dict[str, Decimal]:
    """All the seller has earned (net of commission, releases and tips, pending or cleared), per
    currency: one grouped query, exact on SQLite too."""
    rows = Earning.objects.filter(seller=seller).values("net_currency").annotate(total=ExactSum("net"))
    return {row["net_currency"]: row["total"] for row in rows}


def seller_record(seller: User, *, now: datetime) -> SellerRecord:
    """What a seller level is judged on (``accounts.levels``), as the profile counts it: completed
    orders, earnings and the rating all time; on-time delivery and cancellations against the seller
    (``completion_counted``: the completion rate's own rule) and responses over the last 60 days.
    A fixed number of aggregate queries."""
    since = now - LEVEL_WINDOW
    figures = seller_figures(seller, since=since)
    responses = response_figures(seller, now=now)
    completed = Order.objects.filter(seller=seller, status=OrderStatus.COMPLETED).count()
    cancellation_rate = None if figures.completion_rate is None else 100 - figures.completion_rate
    return SellerRecord(
        account_age=now - seller.date_joined,
        completed_orders=completed,
        earnings=earnings_of(seller),
        rating_avg=seller.rating_avg,
        on_time_rate=figures.on_time_rate,
        response_rate=responses.rate,
        response_seconds=responses.seconds,
        cancellation_rate=cancellation_rate,
    )


def level_changes_of(person: User) -> list[SellerLevelChange]:
    """The profile's activity: the person's latest changes of seller level, newest first."""
    return list(SellerLevelChange.objects.filter(user=person).order_by("-created_at", "-id")[:10])
