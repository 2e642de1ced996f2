"""Reads for reputation: the seller profile's figures, the portfolio, an order's reviews."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Avg, Count, Exists, F, OuterRef, Prefetch, Q, Subquery

from accounts.models import User
from gigs.models import Gig
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
from orders.models import Order, OrderStatus
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


def seller_figures(seller: User) -> SellerFigures:
    """Two aggregate queries, whatever the number of milestones."""
    first_delivery = Delivery.objects.filter(milestone=OuterRef("pk")).order_by("created_at").values("created_at")[:1]
    delivered = (
        Milestone.objects.filter(order__seller=seller, submitted_at__isnull=False)
        .annotate(first=Subquery(first_delivery))
        .aggregate(total=Count("id"), on_time=Count("id", filter=Q(first__lte=F("deadline"))))
    )
    seller_asked = Proposal.objects.filter(
        milestone=OuterRef("pk"),
        kind=ProposalKind.CANCELLATION,
        state=ProposalState.ACCEPTED,
        proposer=OuterRef("order__seller"),
    )
    completed, against = completion_counted()
    closed = (
        Milestone.objects.filter(order__seller=seller, accepted_at__isnull=False, closed_at__isnull=False)
        .annotate(seller_asked_to_cancel=Exists(seller_asked))
        .aggregate(completed=Count("id", filter=completed), against=Count("id", filter=against))
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
    refusal = review_refusal(order, user) if role else "Only the parties review an order."
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
