"""Seller levels (issue 36, item 2) and response time and rate (item 3): the level each record
earns at each threshold, the record read as the profile counts it, the nightly sweep's promotions
and demotions (a notice and a line of the profile's activity, once), and clearance by level."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection

from accounts.levels import SellerLevel, SellerRecord, clearance_for, earnings_share, level_earned, level_rank
from accounts.models import SellerLevelChange, User, WithdrawalMethod
from inbox.models import Inquiry, InquiryMessage
from marketplace.timewords import response_time_words
from milestones.models import MilestoneState
from notifications.models import Notification
from orders.models import Order, OrderMessage, OrderStatus
from payments.audit import ledger_audit
from payments.models import Earning
from reviews.selectors import response_figures, seller_record
from reviews.sweeps import _sellers_due, level_night, seller_levels_due, sweep_seller_levels
from tests.backends import BOTH
from tests.factories import GigFactory, OrderFactory, UserFactory, milestone_in

pytestmark = pytest.mark.django_db
L = SellerLevel
NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def record_at(level: str, **changes) -> SellerRecord:
    """A record exactly at ``level``'s thresholds (its own earnings in USD), with ``changes``."""
    rules = settings.SELLER_LEVEL_THRESHOLDS[level]
    base = SellerRecord(
        account_age=rules["account_age"],
        completed_orders=rules["completed_orders"],
        earnings={"USD": rules["earnings"]["USD"]},
        rating_avg=rules["rating"],
        on_time_rate=rules["on_time_rate"],
        response_rate=rules["response_rate"],
        cancellation_rate=rules["cancellation_rate"],
    )
    return replace(base, **changes)


BELOW = {
    "account_age": lambda r: {"account_age": r["account_age"] - timedelta(days=1)},
    "completed_orders": lambda r: {"completed_orders": r["completed_orders"] - 1},
    "earnings": lambda r: {"earnings": {"USD": r["earnings"]["USD"] - Decimal("0.01")}},
    "rating": lambda r: {"rating_avg": r["rating"] - Decimal("0.01")},
    "on_time_rate": lambda r: {"on_time_rate": r["on_time_rate"] - 1},
    "response_rate": lambda r: {"response_rate": r["response_rate"] - 1},
    "cancellation_rate": lambda r: {"cancellation_rate": r["cancellation_rate"] + 1},
}
PREVIOUS = {L.LEVEL_1: L.NEW, L.LEVEL_2: L.LEVEL_1, L.TOP_RATED: L.LEVEL_2}


@pytest.mark.parametrize("level", [L.LEVEL_1, L.LEVEL_2, L.TOP_RATED])
def test_a_record_exactly_at_a_levels_thresholds_earns_it(level):
    assert level_earned(record_at(level)) == level


@pytest.mark.parametrize("criterion", list(BELOW))
@pytest.mark.parametrize("level", [L.LEVEL_1, L.LEVEL_2, L.TOP_RATED])
def test_one_step_short_of_any_threshold_keeps_the_level_below(level, criterion):
    rules = settings.SELLER_LEVEL_THRESHOLDS[level]
    short = record_at(level, **BELOW[criterion](rules))
    earned = level_earned(short)
    assert level_rank(earned) < level_rank(level)
    # Where the level below asks less on that criterion, the record keeps the level below.
    below = settings.SELLER_LEVEL_THRESHOLDS.get(PREVIOUS[level])
    key = "earnings" if criterion == "earnings" else criterion
    if below is None or below[key] != rules[key]:
        assert earned == PREVIOUS[level]


def test_the_defaults_are_fiverr_like():
    t = settings.SELLER_LEVEL_THRESHOLDS
    assert t["level_1"]["account_age"] == timedelta(days=60) and t["level_1"]["completed_orders"] == 10
    assert t["level_1"]["earnings"]["USD"] == 400 and t["level_1"]["rating"] == Decimal("4.7")
    assert t["level_2"]["completed_orders"] == 50 and t["level_2"]["earnings"]["USD"] == 2000
    assert t["top_rated"]["account_age"] == timedelta(days=180) and t["top_rated"]["earnings"]["USD"] == 20000
    assert t["top_rated"]["rating"] == Decimal("4.8")


def test_a_new_account_is_a_new_seller_however_good_its_figures():
    assert level_earned(record_at(L.TOP_RATED, account_age=timedelta(days=59))) == L.NEW


def test_a_rate_with_nothing_to_count_passes_but_the_rating_needs_a_review():
    quiet = record_at(L.LEVEL_1, on_time_rate=None, response_rate=None, cancellation_rate=None)
    assert level_earned(quiet) == L.LEVEL_1
    assert level_earned(record_at(L.LEVEL_1, rating_avg=None)) == L.NEW


def test_earnings_in_several_currencies_add_up_as_shares_of_each_threshold():
    threshold = settings.SELLER_LEVEL_THRESHOLDS["level_1"]["earnings"]
    assert earnings_share({"USD": Decimal("200"), "EUR": Decimal("185")}, threshold) == 1
    assert level_earned(record_at(L.LEVEL_1, earnings={"USD": Decimal("200"), "EUR": Decimal("185")})) == L.LEVEL_1
    assert level_earned(record_at(L.LEVEL_1, earnings={"USD": Decimal("200"), "EUR": Decimal("184")})) == L.NEW
    assert earnings_share({"JPY": Decimal("1000000")}, threshold) == 0


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (60, "within an hour"),
        (59 * 60, "within an hour"),
        (3600, "about 1 hour"),
        (2 * 3600 + 10 * 60, "about 2 hours"),
        (23 * 3600 + 40 * 60, "about 1 day"),
        (26 * 3600, "about 1 day"),
        (3 * 86400, "about 3 days"),
    ],
)
def test_response_time_in_words(seconds, words):
    assert response_time_words(seconds) == words


# --- the record, read from the site's own rows ---


def at(row, moment: datetime) -> None:
    type(row).objects.filter(pk=row.pk).update(created_at=moment)


def inquiry(seller: User, *, asked: datetime, answered: datetime | None) -> Inquiry:
    gig = GigFactory(seller=seller)
    buyer = UserFactory()
    conversation = Inquiry.objects.create(gig=gig, buyer=buyer, seller=seller)
    at(InquiryMessage.objects.create(inquiry=conversation, author=buyer, body="Hello?"), asked)
    if answered is not None:
        at(InquiryMessage.objects.create(inquiry=conversation, author=seller, body="Hi!"), answered)
    return conversation


def order_conversation(
    seller: User, *, asked: datetime, answered: datetime | None, seller_first: datetime | None = None
):
    order = OrderFactory(seller=seller)
    if seller_first is not None:
        at(OrderMessage.objects.create(order=order, author=seller, body="Welcome"), seller_first)
    at(OrderMessage.objects.create(order=order, author=order.buyer, body="Question"), asked)
    if answered is not None:
        at(OrderMessage.objects.create(order=order, author=seller, body="Answer"), answered)
    return order


def test_response_time_and_rate_from_the_buyers_first_message_to_the_sellers_first_answer():
    seller = UserFactory()
    day = timedelta(days=1)
    inquiry(seller, asked=NOW - 5 * day, answered=NOW - 5 * day + timedelta(hours=1))
    inquiry(seller, asked=NOW - 4 * day, answered=NOW - 4 * day + timedelta(hours=3))
    # The seller's welcome before the buyer wrote is not an answer; the answer came 2 days later: a miss.
    order_conversation(seller, asked=NOW - 10 * day, answered=NOW - 8 * day, seller_first=NOW - 11 * day)
    order_conversation(seller, asked=NOW - 3 * day, answered=None)  # never answered: a miss
    # Outside the 60 days, and within its first day still: neither counts.
    inquiry(seller, asked=NOW - 61 * day, answered=None)
    inquiry(seller, asked=NOW - timedelta(hours=2), answered=None)
    figures = response_figures(seller, now=NOW)
    assert figures.count == 4
    assert figures.rate == 50  # two of four answered within a day
    # The average of the answered: (1 h + 3 h + 48 h) / 3
    assert figures.seconds == round((1 + 3 + 48) * 3600 / 3)
    assert response_time_words(figures.seconds) == "about 17 hours"


def test_response_figures_are_a_fixed_number_of_queries(django_assert_max_num_queries):
    seller = UserFactory()
    for n in range(5):
        inquiry(seller, asked=NOW - timedelta(days=n + 2), answered=NOW - timedelta(days=n + 2, hours=-1))
    with django_assert_max_num_queries(2):
        response_figures(seller, now=NOW)


def test_the_record_counts_as_the_profile_does():
    order = OrderFactory()
    seller = order.seller
    milestone_in(MilestoneState.APPROVED, order=order, amount="500.00")  # 400.00 net after 20 %
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.COMPLETED)
    User.objects.filter(pk=seller.pk).update(date_joined=NOW - timedelta(days=61), rating_avg="4.90", rating_count=3)
    seller.refresh_from_db()
    record = seller_record(seller, now=NOW + timedelta(days=1))
    assert record.completed_orders == 1
    assert record.earnings == {"USD": Decimal("400.00")}
    assert record.on_time_rate == 100 and record.cancellation_rate == 0
    assert record.account_age >= timedelta(days=62)
    # 60 days on, the milestone left the window: its rates have nothing to count, orders and earnings stay.
    later = seller_record(seller, now=NOW + timedelta(days=90))
    assert later.on_time_rate is None and later.cancellation_rate is None
    assert later.completed_orders == 1 and later.earnings == {"USD": Decimal("400.00")}


# --- the nightly sweep ---


def seed_history(seller: User, *, orders: int, earned: str, rating: str, joined: datetime) -> None:
    """A seller's history planted in bulk: ``orders`` completed orders, one approved milestone whose
    net is ``earned`` (USD, through the services), a rating and a join date."""
    order = OrderFactory(seller=seller)
    gross = (Decimal(earned) / (1 - settings.SELLER_COMMISSION_RATE)).quantize(Decimal("0.01"))
    milestone_in(MilestoneState.APPROVED, order=order, amount=str(gross))
    buyer = order.buyer
    Order.objects.bulk_create(
        Order(
            buyer=buyer,
            seller=seller,
            gig=order.gig,
            title=f"Past order {n}",
            brief="Done.",
            currency="USD",
            status=OrderStatus.COMPLETED,
            completed_at=joined + timedelta(days=1),
        )
        for n in range(orders)
    )
    User.objects.filter(pk=seller.pk).update(date_joined=joined, rating_avg=rating, rating_count=max(orders, 1))


def test_the_sweep_promotes_with_a_notice_and_a_line_of_activity_once():
    seller = UserFactory()
    seed_history(seller, orders=100, earned="20000.00", rating="4.90", joined=NOW - timedelta(days=200))
    result = sweep_seller_levels(now=NOW)
    assert result.done >= 1 and result.failed == 0
    seller.refresh_from_db()
    assert seller.seller_level == L.TOP_RATED and seller.seller_level_since == NOW
    assert seller.seller_evaluated_at == NOW
    change = SellerLevelChange.objects.get(user=seller)
    assert (change.from_level, change.to_level, change.is_promotion) == (L.NEW, L.TOP_RATED, True)
    notice = Notification.objects.get(recipient=seller, event="seller_level")
    assert "You are now Top rated" in notice.message
    # Run again the same night, and the next night on the same record: nothing new.
    assert sweep_seller_levels(now=NOW + timedelta(minutes=5)).done == 0
    sweep_seller_levels(now=NOW + timedelta(days=1))
    seller.refresh_from_db()
    assert seller.seller_level_since == NOW and seller.seller_evaluated_at == NOW + timedelta(days=1)
    assert SellerLevelChange.objects.filter(user=seller).count() == 1
    assert Notification.objects.filter(recipient=seller, event="seller_level").count() == 1


def test_a_seller_whose_record_falls_is_demoted_with_a_notice():
    seller = UserFactory()
    seed_history(seller, orders=12, earned="500.00", rating="4.80", joined=NOW - timedelta(days=90))
    sweep_seller_levels(now=NOW)
    seller.refresh_from_db()
    assert seller.seller_level == L.LEVEL_1
    User.objects.filter(pk=seller.pk).update(rating_avg="4.20")
    night = NOW + timedelta(days=1)
    sweep_seller_levels(now=night)
    seller.refresh_from_db()
    assert seller.seller_level == L.NEW and seller.seller_level_since == night
    latest = SellerLevelChange.objects.filter(user=seller).first()
    assert latest is not None and (latest.from_level, latest.to_level, latest.is_promotion) == (L.LEVEL_1, L.NEW, False)
    messages = list(Notification.objects.filter(recipient=seller, event="seller_level").order_by("id"))
    assert len(messages) == 2
    assert "now New seller (was Level 1)" in messages[1].message


def test_only_sellers_not_judged_since_midnight_are_due():
    buyer_only = UserFactory()
    seller = GigFactory().seller
    due = set(_sellers_due(NOW).values_list("pk", flat=True))
    assert seller.pk in due and buyer_only.pk not in due
    sweep_seller_levels(now=NOW)
    assert seller.pk not in set(_sellers_due(NOW + timedelta(hours=20)).values_list("pk", flat=True))
    assert seller.pk in set(_sellers_due(NOW + timedelta(hours=21)).values_list("pk", flat=True))  # the next midnight


def test_the_sweep_stops_at_its_time_budget_and_the_next_run_goes_on():
    sellers = [GigFactory().seller for _ in range(3)]
    stopped = sweep_seller_levels(now=NOW, until=0.0)
    assert stopped.unfinished and stopped.done == 0
    assert sweep_seller_levels(now=NOW).done == 3
    assert all(User.objects.get(pk=s.pk).seller_evaluated_at == NOW for s in sellers)


# --- clearance by level ---


@pytest.mark.parametrize(
    ("method", "level", "days"),
    [
        (WithdrawalMethod.BANK_TRANSFER, L.TOP_RATED, 7),
        (WithdrawalMethod.BANK_TRANSFER, L.LEVEL_2, 14),
        (WithdrawalMethod.BANK_TRANSFER, L.LEVEL_1, 14),
        (WithdrawalMethod.BANK_TRANSFER, L.NEW, 14),
        (WithdrawalMethod.PAYPAL, L.TOP_RATED, 3),  # the method is the shorter
        (WithdrawalMethod.PAYPAL, L.NEW, 3),
        (WithdrawalMethod.INSTANT, L.TOP_RATED, 0),
    ],
)
def test_clearance_is_the_shorter_of_the_level_and_the_method(method, level, days):
    assert clearance_for(method=method, level=level) == timedelta(days=days)


def approved_for(level: str, method: str = WithdrawalMethod.BANK_TRANSFER) -> Earning:
    seller = UserFactory(withdrawal_method=method)
    User.objects.filter(pk=seller.pk).update(seller_level=level)
    milestone = milestone_in(MilestoneState.APPROVED, order=OrderFactory(seller=seller), amount="100.00")
    return Earning.objects.get(milestone=milestone)


@pytest.mark.django_db(databases=BOTH)
def test_a_top_rated_sellers_release_clears_in_7_days_a_level_1_sellers_in_14(backend):
    assert connection.vendor == backend
    top = approved_for(L.TOP_RATED)
    level_1 = approved_for(L.LEVEL_1)
    assert (top.level, top.clearance_period) == (L.TOP_RATED, timedelta(days=7))
    assert (level_1.level, level_1.clearance_period) == (L.LEVEL_1, timedelta(days=14))
    paypal_top = approved_for(L.TOP_RATED, WithdrawalMethod.PAYPAL)
    assert paypal_top.clearance_period == timedelta(days=3)
    assert ledger_audit().ok


def test_the_date_is_fixed_when_the_earning_is_created():
    earning = approved_for(L.TOP_RATED)
    clears_at = earning.clears_at
    User.objects.filter(pk=earning.seller_id).update(seller_level=L.NEW)
    earning.refresh_from_db()
    assert earning.clears_at == clears_at and earning.level == L.TOP_RATED


def test_sweeps_status_sees_the_sellers_due_since_midnight():
    GigFactory()
    (due,) = seller_levels_due(NOW)
    assert due.count() == 1
    assert due.oldest() == level_night(NOW) == datetime(2026, 12, 7, tzinfo=UTC)
    assert due.count_due_before(NOW) == 1
    sweep_seller_levels(now=NOW)
    assert seller_levels_due(NOW)[0].count() == 0


def test_a_closed_account_is_not_judged():
    seller = GigFactory().seller
    User.objects.filter(pk=seller.pk).update(is_active=False)
    assert seller.pk not in set(_sellers_due(NOW).values_list("pk", flat=True))
