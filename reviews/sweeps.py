"""The review window's timers: reminders before it closes, and publishing a
lone review once it has (see ``marketplace/sweeps.py`` for how sweeps walk)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, Exists, OuterRef, Q, QuerySet, Value
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from accounts.levels import SellerLevel
from accounts.models import User
from accounts.services import seller_level_update
from gigs.models import Gig
from marketplace.sweeps import DueSet, SweepResult, candidates, merge_results, now_or, register_sweep, sweep
from notifications.services import notification_send
from notifications.times import notice_time
from orders.models import Order, OrderStatus, lock_order
from reviews.models import Review, ReviewNotice
from reviews.selectors import seller_record
from reviews.services import review_publish_lone, review_refusal, review_window_end


def _lone_due(now: datetime) -> QuerySet[Review]:
    return Review.objects.filter(published_at__isnull=True, order__completed_at__lte=now - settings.REVIEW_WINDOW)


def reminder_kind(lead: timedelta) -> str:
    return f"reminder:{int(lead.total_seconds())}"


def _leads() -> list[timedelta]:
    return sorted(set(settings.REVIEW_WINDOW_REMINDERS))


def _reminder_due(now: datetime, lead: timedelta) -> QuerySet[Order]:
    """Completed orders whose window closes within ``lead``, with a party who
    has neither reviewed nor been reminded at this lead."""
    start = now - settings.REVIEW_WINDOW
    reviewed = Review.objects.filter(order=OuterRef("pk"))
    reminded = ReviewNotice.objects.filter(order=OuterRef("pk"), kind=reminder_kind(lead))
    return Order.objects.filter(
        Q(status=OrderStatus.COMPLETED, completed_at__gt=start, completed_at__lte=start + lead)
        & ~(
            (Q(Exists(reviewed.filter(author=OuterRef("buyer")))) | Q(Exists(reminded.filter(user=OuterRef("buyer")))))
            & (
                Q(Exists(reviewed.filter(author=OuterRef("seller"))))
                | Q(Exists(reminded.filter(user=OuterRef("seller"))))
            )
        )
    )


def _remind_one(pk: int, now: datetime, lead: timedelta) -> bool:
    sent = False
    with transaction.atomic():
        order = lock_order(pk)
        end = review_window_end(order)
        if end is None or not now < end <= now + lead:
            return False
        for party in (order.buyer, order.seller):
            if review_refusal(order, party, now=now):
                continue
            _, created = ReviewNotice.objects.get_or_create(order=order, user=party, kind=reminder_kind(lead))
            if not created:
                continue
            # A longer lead whose time passed too (the sweeps were down) is covered by this one.
            for other in _leads():
                if other > lead:
                    ReviewNotice.objects.get_or_create(order=order, user=party, kind=reminder_kind(other))
            notification_send(
                recipient=party,
                event="review_reminder",
                message=format_lazy(
                    gettext_lazy(
                        "Leave your review of “{title}” before {time}; after that the reviews already in are published."
                    ),
                    title=order.title,
                    time=notice_time(end),
                ),
                url=order.get_absolute_url(),
            )
            sent = True
    return sent


def reviews_due(now: datetime) -> list[DueSet]:
    reminders = [
        DueSet(f"review reminders {reminder_kind(lead)}", _reminder_due(now, lead), "completed_at") for lead in _leads()
    ]
    return [*reminders, DueSet("lone reviews to publish", _lone_due(now), "order__completed_at")]


@register_sweep("reviews", due=reviews_due)
def sweep_reviews(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    now = now_or(now)
    parts = [
        sweep(
            "reviews",
            candidates(_reminder_due(now, lead), time_field="completed_at"),
            lambda pk, lead=lead: _remind_one(pk, now, lead),
            until=until,
        )
        for lead in _leads()
    ]
    parts.append(
        sweep(
            "reviews",
            candidates(_lone_due(now), time_field="order__completed_at"),
            lambda pk: review_publish_lone(review_id=pk, now=now),
            until=until,
        )
    )
    return merge_results("reviews", parts)


# --- seller levels: judged nightly ---


def level_night(now: datetime) -> datetime:
    """The latest midnight (UTC) by ``now``: every seller judged before it is due again. The tick
    runs every interval as every sweep's does; the database says who is due, so a night's work
    that stopped at its time budget, or a night the workers were away, is picked up by the next
    tick."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _sellers_due(now: datetime) -> QuerySet[User]:
    """Sellers not judged since the last midnight: whoever has a gig or an order as the seller, or
    holds a level (to be judged down). Active accounts only: a closed one has no profile to show a
    level on and reads no notices."""
    night = level_night(now)
    is_seller = (
        Q(Exists(Gig.objects.filter(seller=OuterRef("pk"))))
        | Q(Exists(Order.objects.filter(seller=OuterRef("pk"))))
        | ~Q(seller_level=SellerLevel.NEW)
    )
    not_tonight = Q(seller_evaluated_at__isnull=True) | Q(seller_evaluated_at__lt=night)
    return User.objects.filter(is_seller, not_tonight, is_active=True)


def seller_levels_due(now: datetime) -> list[DueSet]:
    # Each seller falls due at the night itself, whenever they were last judged.
    due = _sellers_due(now).annotate(due_at=Value(level_night(now), output_field=DateTimeField()))
    return [DueSet("sellers to judge for their level", due, "due_at")]


def _judge_one(pk: int, now: datetime) -> bool:
    seller = User.objects.filter(pk=pk).first()
    if seller is None or (seller.seller_evaluated_at is not None and seller.seller_evaluated_at >= level_night(now)):
        return False  # judged meanwhile by another run
    seller_level_update(seller_id=pk, record=seller_record(seller, now=now), now=now)
    return True


@register_sweep("seller_levels", due=seller_levels_due)
def sweep_seller_levels(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """Each seller once a night, in pages of ``SWEEP_BATCH_SIZE`` by keyset (date joined, id), one
    short transaction each (``accounts.services.seller_level_update``), until the time budget."""
    now = now_or(now)
    return sweep(
        "seller_levels",
        candidates(_sellers_due(now), time_field="date_joined"),
        lambda pk: _judge_one(pk, now),
        until=until,
    )
