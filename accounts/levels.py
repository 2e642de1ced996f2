"""Seller levels ("New seller", "Level 1", "Level 2", "Top rated"): which level a seller's record
earns, against ``settings.SELLER_LEVEL_THRESHOLDS``.

The record itself (orders, earnings, ratings, on-time, response and cancellation rates) is read
by ``reviews.selectors.seller_record``, which sees milestones, messages and reviews; the nightly
``seller_levels`` sweep (``reviews/sweeps.py``) hands it to ``accounts.services.seller_level_update``.
This module only judges it, so that the rule has one home and payments (which sits below reviews)
can read a level off the user row: ``User.clearance_period`` (``CLEARANCE_BY_LEVEL``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

# The record a level is judged on looks back this far for its rates (on-time, response,
# cancellations); orders, earnings, the rating and the account's age are all time.
LEVEL_WINDOW = timedelta(days=60)


class SellerLevel(models.TextChoices):
    NEW = "new", gettext_lazy("New seller")
    LEVEL_1 = "level_1", gettext_lazy("Level 1")
    LEVEL_2 = "level_2", gettext_lazy("Level 2")
    TOP_RATED = "top_rated", gettext_lazy("Top rated")


# Lowest first: a level's rank is its place here.
LEVEL_ORDER = [SellerLevel.NEW, SellerLevel.LEVEL_1, SellerLevel.LEVEL_2, SellerLevel.TOP_RATED]


def level_rank(level: str) -> int:
    return LEVEL_ORDER.index(SellerLevel(level))


@dataclass(frozen=True)
class SellerRecord:
    """What a level is judged on. A rate is a whole percent, or None when there was nothing to
    count in the window (no milestone delivered, no conversation): nothing to hold against the
    seller, so it passes. The rating needs at least one review."""

    account_age: timedelta
    completed_orders: int  # all time
    earnings: dict[str, Decimal] = field(default_factory=dict)  # all time, net, per currency
    rating_avg: Decimal | None = None  # all time, the profile's
    on_time_rate: int | None = None  # the window
    response_rate: int | None = None  # the window
    response_seconds: int | None = None  # the window's average first answer
    cancellation_rate: int | None = None  # the window: cancellations against the seller, of those counted


def earnings_share(earned: dict[str, Decimal], threshold: dict[str, Decimal]) -> Decimal:
    """How much of an earnings threshold given per currency is reached: each currency's earnings
    as a share of that currency's threshold, added up (1 is the whole). Earnings in a currency the
    threshold does not name do not count: there is no exchange rate here."""
    return sum(
        (amount / Decimal(threshold[code]) for code, amount in earned.items() if Decimal(threshold.get(code, 0)) > 0),
        Decimal(0),
    )


def level_shortfalls(record: SellerRecord, level: str) -> list[str]:
    """What the record misses of ``level``'s thresholds, in words; empty when it qualifies."""
    rules = settings.SELLER_LEVEL_THRESHOLDS.get(level)
    if not rules:
        return []
    missing = []
    if record.account_age < rules["account_age"]:
        missing.append(_("an account at least {days} days old").format(days=rules["account_age"].days))
    if record.completed_orders < rules["completed_orders"]:
        missing.append(_("{count} completed orders").format(count=rules["completed_orders"]))
    if earnings_share(record.earnings, rules["earnings"]) < 1:
        amounts = pgettext("alternatives", " or ").join(
            f"{amount} {code}" for code, amount in rules["earnings"].items()
        )
        missing.append(_("earnings of {amounts}").format(amounts=amounts))
    if record.rating_avg is None or record.rating_avg < Decimal(rules["rating"]):
        missing.append(_("a rating of {rating}").format(rating=rules["rating"]))
    if record.on_time_rate is not None and record.on_time_rate < rules["on_time_rate"]:
        missing.append(_("{rate}% on time").format(rate=rules["on_time_rate"]))
    if record.response_rate is not None and record.response_rate < rules["response_rate"]:
        missing.append(_("{rate}% of conversations answered within a day").format(rate=rules["response_rate"]))
    if record.cancellation_rate is not None and record.cancellation_rate > rules["cancellation_rate"]:
        missing.append(_("at most {rate}% cancelled through the seller").format(rate=rules["cancellation_rate"]))
    return missing


def level_earned(record: SellerRecord) -> SellerLevel:
    """The highest level reached by climbing: each level's thresholds met, and every level's
    below it ("New seller" has none)."""
    earned = SellerLevel.NEW
    for level in LEVEL_ORDER[1:]:
        if level_shortfalls(record, level):
            break
        earned = level
    return earned


def clearance_for(*, method: str, level: str) -> timedelta:
    """How long an earning waits: the shorter of the withdrawal method's period
    (``CLEARANCE_PERIODS``) and the seller's level's (``CLEARANCE_BY_LEVEL``). A level can only
    shorten the wait (Top rated: bank transfers clear in 7 days, not 14); a method that is faster
    than the level's period (instant, PayPal) stays as fast."""
    method_period = settings.CLEARANCE_PERIODS[method]
    level_period = settings.CLEARANCE_BY_LEVEL.get(level or SellerLevel.NEW, method_period)
    return min(method_period, level_period)
