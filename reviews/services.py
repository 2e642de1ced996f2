"""Writing reviews (ARCHITECTURE.md, "Reputation").

Each service, in one transaction: lock the order (``lock_order``), then the
order's reviews, then (when a review of a seller publishes or hides) the
seller's user row, whose rating aggregates are recomputed from the public
reviews in SQL, so they are exact after every change.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from accounts.models import User
from marketplace.errors import InvalidInput, InvalidTransition, NotAllowed
from milestones.models import Milestone, MilestoneState
from notifications.services import notification_send
from notifications.times import notice_day
from orders.models import Order, OrderStatus, lock_order
from orders.services import activity_record
from reviews.models import Review, ReviewNotice, ReviewRole

logger = logging.getLogger(__name__)
S = MilestoneState
SCORES = ("communication", "service", "recommend")
NUDGE = "nudge"


def money_released(order: Order) -> bool:
    """Some of the order's money reached the seller: an approval, or a dispute resolved in their favour."""
    return Milestone.objects.filter(
        Q(state=S.APPROVED) | Q(state=S.RESOLVED, dispute__seller_amount__gt=0), order=order
    ).exists()


def review_window_end(order: Order) -> datetime | None:
    return order.completed_at + settings.REVIEW_WINDOW if order.completed_at else None


# The refusal of a second review, which a seller asking for one reads as "already reviewed".
ALREADY_REVIEWED = gettext_noop("You have already reviewed this order; a review cannot be changed.")


def review_refusal(order: Order, user, *, now: datetime | None = None) -> str:
    """Why ``user`` cannot review ``order`` now, or "" if they can."""
    now = now or timezone.now()
    if not user.is_authenticated or not order.is_party(user):
        return _("Only the buyer and the seller of this order can review it.")
    if order.status != OrderStatus.COMPLETED or order.completed_at is None:
        return _("Reviews open when the order is complete.")
    end = review_window_end(order)
    assert end is not None
    if now >= end:
        return _("The review window of this order has closed.")
    if Review.objects.filter(order=order, author=user).exists():
        return _(ALREADY_REVIEWED)
    if not money_released(order):
        return _("Only orders where money was released to the seller can be reviewed.")
    return ""


def _score(value, field: str, label: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(_("Rate “{label}” from 1 to 5.").format(label=label), field=field) from None
    if not 1 <= number <= 5:
        raise InvalidInput(_("Rate “{label}” from 1 to 5.").format(label=label), field=field)
    return number


def _recompute_rating(seller_id: int) -> None:
    """The seller's average and count, from the public reviews of them, in SQL. Caller is in the transaction."""
    seller = User.objects.select_for_update().get(pk=seller_id)
    totals = (
        Review.objects.public()
        .filter(subject_id=seller_id, role=ReviewRole.BUYER)
        .aggregate(avg=Avg("rating"), count=Count("id"))
    )
    count = totals["count"] or 0
    seller.rating_count = count
    seller.rating_avg = Decimal(totals["avg"]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if count else None
    seller.save(update_fields=["rating_avg", "rating_count"])


def _publish(reviews: list[Review], *, now: datetime) -> None:
    for review in reviews:
        review.published_at = now
        review.save(update_fields=["published_at"])
    for review in reviews:
        if review.role == ReviewRole.BUYER:
            _recompute_rating(review.subject_id)


def review_submit(
    *,
    order: Order,
    actor: User,
    text: str,
    rating=None,
    communication=None,
    service=None,
    recommend=None,
) -> Review:
    """A party reviews the other, once. The buyer gives three scores (the
    rating is their mean), the seller one. Hidden from the other party until
    both are in, then both publish at once."""
    text = (text or "").strip()
    now = timezone.now()
    with transaction.atomic():
        order = lock_order(order.pk)
        refusal = review_refusal(order, actor, now=now)
        if refusal:
            raise (NotAllowed if not order.is_party(actor) else InvalidTransition)(refusal)
        role = ReviewRole.BUYER if actor.pk == order.buyer_id else ReviewRole.SELLER
        scores: dict[str, int] = {}
        if role == ReviewRole.BUYER:
            labels = {
                "communication": _("Communication"),
                "service": _("Service as described"),
                "recommend": _("Would recommend"),
            }
            values = {"communication": communication, "service": service, "recommend": recommend}
            scores = {field: _score(values[field], field, labels[field]) for field in SCORES}
            overall = (Decimal(sum(scores.values())) / 3).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        else:
            overall = Decimal(_score(rating, "rating", _("Rating")))
        if not text:
            raise InvalidInput(_("Write a few words about working together."), field="text")
        if len(text) > 5000:
            raise InvalidInput(_("Keep the review to 5,000 characters or fewer."), field="text")
        subject = order.seller if role == ReviewRole.BUYER else order.buyer
        review = Review.objects.create(
            order=order, author=actor, subject=subject, role=role, rating=overall, text=text, **scores
        )
        other = list(Review.objects.select_for_update().filter(order=order).exclude(pk=review.pk))
        activity_record(order=order, actor=actor, verb="reviewed")
        if other:
            _publish([*other, review], now=now)
            for party in (order.buyer, order.seller):
                notification_send(
                    recipient=party,
                    event="reviews_published",
                    message=format_lazy(
                        gettext_lazy("Both reviews of “{title}” are in and now public."), title=order.title
                    ),
                    url=order.get_absolute_url(),
                )
        else:
            end = review_window_end(order)
            assert end is not None
            notification_send(
                recipient=subject,
                event="review_received",
                message=format_lazy(
                    gettext_lazy(
                        "{name} reviewed you on “{title}”. Leave your review to see theirs; "
                        "both publish when you do, or on {day}."
                    ),
                    name=actor.username,
                    title=order.title,
                    day=notice_day(end),
                ),
                url=order.get_absolute_url(),
            )
    return review


def review_publish_lone(*, review_id: int, now: datetime | None = None) -> bool:
    """The window closed with one review in: it publishes alone. Once."""
    now = now or timezone.now()
    with transaction.atomic():
        order_id = Review.objects.values_list("order_id", flat=True).get(pk=review_id)
        order = lock_order(order_id)
        review = Review.objects.select_for_update().get(pk=review_id)
        end = review_window_end(order)
        if review.is_published or end is None or end > now:
            return False
        _publish([review], now=now)
        notification_send(
            recipient=review.subject,
            event="reviews_published",
            message=format_lazy(
                gettext_lazy("The review window of “{title}” has closed; {name}'s review is public."),
                title=order.title,
                name=review.author.username,
            ),
            url=order.get_absolute_url(),
        )
    return True


def review_reply(*, review: Review, actor: User, text: str) -> Review:
    """The reviewed seller answers a published review in public, once."""
    text = (text or "").strip()
    with transaction.atomic():
        lock_order(review.order_id)
        review = Review.objects.select_for_update().get(pk=review.pk)
        if actor is None or actor.pk != review.subject_id or review.role != ReviewRole.BUYER:
            raise NotAllowed(_("Only the reviewed seller can reply to this review."))
        if not review.is_published or review.hidden_at is not None:
            raise InvalidTransition(_("You can reply once the review is public."))
        if review.replied_at is not None:
            raise InvalidTransition(_("You have already replied to this review; a reply cannot be changed."))
        if not text:
            raise InvalidInput(_("Write your reply."), field="text")
        if len(text) > 5000:
            raise InvalidInput(_("Keep the reply to 5,000 characters or fewer."), field="text")
        review.reply = text
        review.replied_at = timezone.now()
        review.save(update_fields=["reply", "replied_at"])
    return review


def review_hide(*, review: Review, actor: User, reason: str) -> Review:
    """Staff take a published review off public view, with a reason that is kept."""
    reason = (reason or "").strip()
    with transaction.atomic():
        lock_order(review.order_id)
        review = Review.objects.select_for_update().get(pk=review.pk)
        if actor is None or not actor.is_staff:
            raise NotAllowed(_("Only staff can hide a review."))
        if not reason:
            raise InvalidInput(_("Say why the review is hidden."), field="reason")
        if review.hidden_at is not None:
            raise InvalidTransition(_("This review is already hidden."))
        review.hidden_at = timezone.now()
        review.hidden_by = actor
        review.hidden_reason = reason[:2000]
        review.save(update_fields=["hidden_at", "hidden_by", "hidden_reason"])
        if review.role == ReviewRole.BUYER:
            _recompute_rating(review.subject_id)
        logger.warning("review %s hidden by %s: %s", review.pk, actor.username, reason)
    return review


def review_request(*, order: Order, actor: User) -> None:
    """The seller asks the buyer for a review: once per order."""
    with transaction.atomic():
        order = lock_order(order.pk)
        if actor is None or actor.pk != order.seller_id:
            raise NotAllowed(_("Only the seller of this order can ask for a review."))
        refusal = review_refusal(order, order.buyer)
        if refusal:
            raise InvalidTransition(
                _("The buyer has already reviewed this order.") if refusal == _(ALREADY_REVIEWED) else refusal
            )
        if ReviewNotice.objects.filter(order=order, user=order.buyer, kind=NUDGE).exists():
            raise InvalidTransition(_("You have already asked for a review on this order."))
        ReviewNotice.objects.create(order=order, user=order.buyer, kind=NUDGE)
        end = review_window_end(order)
        assert end is not None
        notification_send(
            recipient=order.buyer,
            event="review_requested",
            message=format_lazy(
                gettext_lazy("{name} asks for your review of “{title}”. You can leave one until {day}."),
                name=actor.username,
                title=order.title,
                day=notice_day(end),
            ),
            url=order.get_absolute_url(),
        )
