"""Double-blind reviews: once per party per completed order with money
released, hidden from the other party until both are in or the window
closes, then published at once; one public reply; staff may hide one; the
seller's rating aggregates are exact after every change."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from marketplace.errors import InvalidInput, InvalidTransition, NotAllowed
from milestones.models import MilestoneState
from milestones.services.completion import order_complete
from notifications.models import Notification
from orders.models import Order
from reviews import services
from reviews.models import Review, ReviewNotice
from reviews.sweeps import sweep_reviews
from tests.factories import GigFactory, OrderFactory, StaffFactory, UserFactory, milestone_in

S = MilestoneState
pytestmark = pytest.mark.django_db


def completed_order(buyer=None, seller=None, state=S.APPROVED) -> Order:
    order: Order = OrderFactory(**({"buyer": buyer} if buyer else {}), **({"seller": seller} if seller else {}))
    milestone_in(state, order=order)
    order_complete(order=order, actor=order.buyer)
    order.refresh_from_db()
    return order


def by_buyer(order, stars=(5, 4, 5), text="Great work, on time."):
    c, s, r = stars
    return services.review_submit(order=order, actor=order.buyer, communication=c, service=s, recommend=r, text=text)


def by_seller(order, rating=5, text="Clear brief, quick answers."):
    return services.review_submit(order=order, actor=order.seller, rating=rating, text=text)


def sql_rating(seller: User) -> tuple[Decimal | None, int]:
    """A fresh average straight from SQL, to compare with the kept aggregate."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT AVG(rating), COUNT(*) FROM reviews_review WHERE subject_id = %s AND role = 'buyer' "
            "AND published_at IS NOT NULL AND hidden_at IS NULL",
            [seller.pk],
        )
        avg, count = cursor.fetchone()
    return (None if avg is None else Decimal(avg).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)), count


def assert_aggregates_exact(seller: User) -> None:
    seller.refresh_from_db()
    assert (seller.rating_avg, seller.rating_count) == sql_rating(seller)


def test_reviews_stay_hidden_until_both_are_in_then_publish_together():
    order = completed_order()
    first = by_buyer(order)
    assert first.published_at is None
    assert_aggregates_exact(order.seller)
    assert order.seller.rating_count == 0
    assert Notification.objects.filter(recipient=order.seller, event="review_received").exists()

    second = by_seller(order)
    first.refresh_from_db()
    assert first.published_at is not None and first.published_at == second.published_at
    assert first.rating == Decimal("4.67")
    assert_aggregates_exact(order.seller)
    assert order.seller.rating_count == 1


def test_the_window_closing_publishes_the_lone_review_once():
    order = completed_order()
    lone = by_seller(order)
    end = services.review_window_end(order)
    sweep_reviews(now=end - timedelta(minutes=1))  # reminds the buyer, publishes nothing
    assert Review.objects.get(pk=lone.pk).published_at is None
    sweep_reviews(now=end)
    lone.refresh_from_db()
    assert lone.published_at == end
    assert sweep_reviews(now=end + timedelta(hours=1)).done == 0
    with time_machine.travel(end + timedelta(hours=1), tick=False), pytest.raises(InvalidTransition, match="closed"):
        by_buyer(order)  # too late for the buyer now


def test_one_review_per_party():
    order = completed_order()
    by_buyer(order)
    with pytest.raises(InvalidTransition, match="already reviewed"):
        by_buyer(order, text="Second thoughts")
    assert Review.objects.filter(order=order).count() == 1


@pytest.mark.parametrize("state", [S.CANCELLED, S.DECLINED])
def test_no_review_of_an_order_where_no_money_was_released(state):
    order = completed_order(state=state)
    with pytest.raises(InvalidTransition, match="money was released"):
        by_buyer(order)
    assert not Review.objects.exists()


def test_no_review_before_the_order_completes_or_by_an_outsider():
    order = OrderFactory()
    milestone_in(S.APPROVED, order=order)
    with pytest.raises(InvalidTransition, match="complete"):
        by_buyer(order)
    order_complete(order=order, actor=order.buyer)
    with pytest.raises(NotAllowed):
        services.review_submit(order=order, actor=UserFactory(), rating=5, text="Hi")
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"communication": 0, "service": 5, "recommend": 5, "text": "x"}, "communication"),
        ({"communication": 5, "service": 6, "recommend": 5, "text": "x"}, "service"),
        ({"communication": 5, "service": 5, "recommend": "abc", "text": "x"}, "recommend"),
        ({"communication": 5, "service": 5, "recommend": 5, "text": "   "}, "text"),
        ({"communication": 5, "service": 5, "recommend": 5, "text": "x" * 5001}, "text"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(kwargs, field):
    order = completed_order()
    with pytest.raises(InvalidInput) as error:
        services.review_submit(order=order, actor=order.buyer, **kwargs)
    assert error.value.field == field
    assert not Review.objects.exists()


def test_the_seller_replies_once_in_public():
    order = completed_order()
    review = by_buyer(order)
    with pytest.raises(InvalidTransition, match="once the review is public"):
        services.review_reply(review=review, actor=order.seller, text="Thanks!")
    by_seller(order)
    review.refresh_from_db()
    with pytest.raises(NotAllowed):
        services.review_reply(review=review, actor=order.buyer, text="Me too")
    services.review_reply(review=review, actor=order.seller, text="Thanks!")
    with pytest.raises(InvalidTransition, match="already replied"):
        services.review_reply(review=review, actor=order.seller, text="Again")
    review.refresh_from_db()
    assert review.reply == "Thanks!"


def test_staff_hide_a_review_with_a_reason_and_the_rating_follows():
    seller = UserFactory()
    orders = [completed_order(seller=seller) for _ in range(3)]
    reviews = []
    for order, stars in zip(orders, [(5, 5, 5), (1, 2, 1), (4, 4, 5)], strict=True):
        reviews.append(by_buyer(order, stars=stars))
        assert_aggregates_exact(seller)
        by_seller(order)
        assert_aggregates_exact(seller)
    assert seller.rating_count == 3
    with pytest.raises(InvalidInput):
        services.review_hide(review=reviews[1], actor=StaffFactory(), reason="")
    with pytest.raises(NotAllowed):
        services.review_hide(review=reviews[1], actor=seller, reason="I dislike it")
    services.review_hide(review=reviews[1], actor=StaffFactory(), reason="Contains an e-mail address")
    assert_aggregates_exact(seller)
    assert seller.rating_count == 2
    assert reviews[1] not in Review.objects.public()


def test_reminders_before_the_window_closes_go_to_who_has_not_reviewed():
    order = completed_order()
    by_buyer(order)
    end = services.review_window_end(order)
    leads = sorted(settings.REVIEW_WINDOW_REMINDERS)
    sweep_reviews(now=end - leads[-1] + timedelta(minutes=1))
    assert Notification.objects.filter(recipient=order.seller, event="review_reminder").count() == 1
    assert not Notification.objects.filter(recipient=order.buyer, event="review_reminder").exists()
    sweep_reviews(now=end - leads[-1] + timedelta(minutes=2))  # once per lead
    assert Notification.objects.filter(recipient=order.seller, event="review_reminder").count() == 1
    sweep_reviews(now=end - leads[0] + timedelta(minutes=1))
    assert Notification.objects.filter(recipient=order.seller, event="review_reminder").count() == 2


def test_the_seller_may_request_a_review_once():
    order = completed_order()
    with pytest.raises(NotAllowed):
        services.review_request(order=order, actor=order.buyer)
    services.review_request(order=order, actor=order.seller)
    assert Notification.objects.filter(recipient=order.buyer, event="review_requested").count() == 1
    with pytest.raises(InvalidTransition, match="already asked"):
        services.review_request(order=order, actor=order.seller)
    assert ReviewNotice.objects.filter(order=order, kind="nudge").count() == 1


def test_the_order_page_and_profile_show_reviews_only_once_published(client):
    order = completed_order()
    client.force_login(order.buyer)
    page = client.get(order.get_absolute_url()).content.decode()
    assert "Leave a review" in page
    response = client.post(reverse("review_new", args=[order.pk]), {"communication": "9", "text": ""})
    assert response.status_code == 400 and not Review.objects.exists()
    client.post(
        reverse("review_new", args=[order.pk]),
        {"communication": "5", "service": "5", "recommend": "4", "text": "Lovely to work with"},
    )
    profile = reverse("profile_public", args=[order.seller.username])
    assert "Lovely to work with" not in client.get(profile).content.decode()
    by_seller(order)
    body = client.get(profile).content.decode()
    assert "Lovely to work with" in body and "★ 4.7" in body and "(1 review)" in body


def _bulk_reviews(seller: User, count: int, start: int) -> None:
    """``count`` completed orders with the seller, each with a published
    buyer's review, inserted in bulk (10,000 through the services would take minutes)."""
    buyers = User.objects.bulk_create([User(username=f"reviewer{start + n}") for n in range(max(count // 10, 1))])
    gig = GigFactory(seller=seller) if start == 0 else seller.gigs.first()
    now = timezone.now()
    orders = Order.objects.bulk_create(
        [
            Order(
                buyer=buyers[n % len(buyers)],
                seller=seller,
                gig=gig,
                title=f"Order {start + n}",
                currency="USD",
                status="completed",
                completed_at=now,
            )
            for n in range(count)
        ]
    )
    Review.objects.bulk_create(
        [
            Review(
                order=order,
                author=order.buyer,
                subject=seller,
                role="buyer",
                communication=5,
                service=4,
                recommend=5,
                rating=Decimal("4.67"),
                text=f"Review number {n}",
                published_at=now - timedelta(seconds=n),
                reply="Thank you!" if n % 3 == 0 else "",
                replied_at=now if n % 3 == 0 else None,
            )
            for n, order in enumerate(orders)
        ]
    )
    published = Review.objects.filter(subject=seller, role="buyer", published_at__isnull=False).count()
    User.objects.filter(pk=seller.pk).update(rating_avg=Decimal("4.67"), rating_count=published)


def test_the_profile_costs_the_same_queries_at_10_and_10000_reviews(client):
    """The profile pages its reviews and reads the rating off the seller's row:
    its queries do not grow with the reviews it has."""
    from django.test.utils import CaptureQueriesContext

    seller = UserFactory()
    order = completed_order(seller=seller)  # one real order, with a portfolio-able milestone and figures
    by_buyer(order)
    by_seller(order)
    url = reverse("profile_public", args=[seller.username])

    def count() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries), response.content.decode()

    _bulk_reviews(seller, 9, start=0)
    few, html = count()
    assert "(10 reviews)" in html
    _bulk_reviews(seller, 9_990, start=9)
    many, html = count()
    assert Review.objects.filter(subject=seller, role="buyer").count() == 10_000
    assert "(10000 reviews)" in html
    assert "Review number 0" in html, "the newest first"
    assert "Thank you!" in html, "with the seller's reply"
    assert many == few


def test_the_buyers_profile_shows_the_reviews_they_received_as_a_buyer_with_their_average(client):
    """Issue 34: a seller's 5★ for the buyer showed nowhere ("No reviews yet")."""
    buyer = UserFactory(username="bo_buyer")
    first = completed_order(buyer=buyer)
    by_buyer(first)
    by_seller(first, rating=5, text="Paid on time, clear about what they wanted.")
    second = completed_order(buyer=buyer)
    by_seller(second, rating=4, text="Quick to answer.")
    by_buyer(second)
    body = client.get(reverse("profile_public", args=[buyer.username])).content.decode()
    assert "Reviews as a buyer" in body
    assert "Paid on time, clear about what they wanted." in body and "Quick to answer." in body
    assert "★ 4.5</span> (2 reviews)" in body, "their average as a buyer"
    # As a seller they have none: that section says so, on its own.
    assert "No reviews as a seller yet." in body
    seller_body = client.get(reverse("profile_public", args=[first.seller.username])).content.decode()
    assert "★ 4.7</span> (1 review)" in seller_body and "★ 5.0</span> (1 review)" not in seller_body


def test_a_reply_over_the_limit_is_refused_and_its_text_comes_back_in_the_box(client):
    """Issue 34: a message over the limit was refused and its text thrown away; the seller's
    public reply, refused, came back to an empty box."""
    order = completed_order()
    review = by_buyer(order)
    by_seller(order)
    client.force_login(order.seller)
    long = "Thank you for the kind words. " * 170 + "THE END"  # 5,107 characters
    response = client.post(reverse("review_reply", args=[review.pk]), {"text": long})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Your reply was not posted" in page and "at most 5000 characters" in page
    assert long + "</textarea>" in page, "the whole text comes back, to be shortened"
    review.refresh_from_db()
    assert review.reply == "" and review.replied_at is None
    again = client.get(response["Location"]).content.decode()
    assert "THE END" not in again, "once: a reload shows an empty box"
