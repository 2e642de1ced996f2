"""Home, the gig page, creating a gig and opening an order from a gig."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from djmoney.money import Money

from gigs.models import Gig
from orders.models import Order
from tests.factories import GigFactory, UserFactory
from tests.gig_editor import editor_data, editor_field

pytestmark = pytest.mark.django_db
XSS = "<script>alert(1)</script>"


def text(response) -> str:
    return response.content.decode()


# --- home ------------------------------------------------------------------------


def test_home_lists_active_gigs_with_seller_price_and_delivery(client, seller):
    gig = GigFactory(
        seller=seller, title="I will design your logo", starting_price=Money("45.00", "EUR"), delivery_days=3
    )
    GigFactory(seller=seller, title="Retired gig", is_active=False)
    html = text(client.get(reverse("home")))
    assert html.count("<h1") == 1
    assert "I will design your logo" in html
    assert reverse("gig_detail", args=[gig.pk]) in html
    assert "bob_seller" in html
    assert "45.00\u00a0EUR" in html
    assert "3 days" in html
    assert "Retired gig" not in html


def test_home_is_paginated(client, seller):
    gigs = [GigFactory(seller=seller, title=f"Gig number {i:02d}") for i in range(14)]
    first = text(client.get(reverse("home")))
    second = text(client.get(reverse("home") + "?page=2"))
    # Newest first: the last created is on page one, the first on page two.
    assert gigs[-1].title in first and gigs[0].title not in first
    assert gigs[0].title in second
    assert 'rel="next"' in first and 'rel="prev"' in second


def test_home_query_count_does_not_grow_with_the_gigs(client, buyer):
    client.force_login(buyer)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("home")).status_code == 200
        return len(queries)

    GigFactory.create_batch(3)
    few = count()
    GigFactory.create_batch(27)
    assert count() == few
    assert few <= 8


# --- the gig page ----------------------------------------------------------------


def test_gig_page_shows_the_seller_and_an_order_button(client, buyer, seller):
    seller.bio = "Ten years of apps."
    seller.save()
    gig = GigFactory(seller=seller, starting_price=Money("100.00", "USD"))
    client.force_login(buyer)
    html = text(client.get(reverse("gig_detail", args=[gig.pk])))
    assert "bob_seller" in html and "Ten years of apps." in html
    assert "100.00\u00a0USD" in html
    assert f'<form method="get" action="{reverse("order_start", args=[gig.pk])}"' in html
    assert ">Order with your own milestones</button>" in html


def test_seller_sees_no_order_button_on_their_own_gig(client, seller):
    gig = GigFactory(seller=seller)
    client.force_login(seller)
    html = text(client.get(reverse("gig_detail", args=[gig.pk])))
    assert reverse("order_start", args=[gig.pk]) not in html
    assert ">Order with your own milestones</button>" not in html
    assert "This is your gig" in html


def test_anonymous_sees_the_gig_and_ordering_asks_to_log_in(client):
    gig = GigFactory()
    assert client.get(reverse("gig_detail", args=[gig.pk])).status_code == 200
    url = reverse("order_start", args=[gig.pk])
    response = client.get(url)
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_inactive_or_missing_gig_is_404_to_others(client, buyer):
    gig = GigFactory(is_active=False)
    client.force_login(buyer)
    assert client.get(reverse("gig_detail", args=[gig.pk])).status_code == 404
    assert client.get(reverse("gig_detail", args=[999999])).status_code == 404
    assert client.post(reverse("order_start", args=[gig.pk]), {"title": "x"}).status_code == 404
    assert not Order.objects.exists()
    client.force_login(gig.seller)
    assert client.get(reverse("gig_detail", args=[gig.pk])).status_code == 200


# --- ordering ---------------------------------------------------------------------


def test_order_form_opens_an_order_with_the_seller(client, buyer, seller):
    gig = GigFactory(seller=seller)
    client.force_login(buyer)
    html = text(client.get(reverse("order_start", args=[gig.pk])))
    assert ">Title</label>" in html and ">Brief <span" in html
    response = client.post(reverse("order_start", args=[gig.pk]), {"title": "Logo for Acme", "brief": "Blue, round."})
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("order_detail", args=[order.pk])
    assert (order.buyer, order.seller, order.gig, order.title, order.currency) == (
        buyer,
        seller,
        gig,
        "Logo for Acme",
        "USD",
    )
    assert seller.notifications.filter(event="order_opened").exists()


def test_ordering_your_own_gig_is_refused_and_creates_nothing(client, seller):
    gig = GigFactory(seller=seller)
    client.force_login(seller)
    response = client.post(reverse("order_start", args=[gig.pk]), {"title": "Self deal", "brief": ""}, follow=True)
    assert "You cannot order your own gig." in text(response)
    assert not Order.objects.exists()
    # The form itself is not offered either.
    response = client.get(reverse("order_start", args=[gig.pk]))
    assert response["Location"] == reverse("gig_detail", args=[gig.pk])


def test_order_without_a_title_shows_the_field_error(client, buyer):
    gig = GigFactory()
    client.force_login(buyer)
    response = client.post(reverse("order_start", args=[gig.pk]), {"title": "   ", "brief": "x"})
    assert response.status_code == 400
    assert 'class="field-error"' in text(response)
    assert not Order.objects.exists()


# --- creating a gig ------------------------------------------------------------------


GIG = {
    "title": "I will write your API",
    "description": "REST, tests, docs.",
    "starting_price": "250.00",
    "currency": "USD",
    "delivery_days": "10",
}


def test_create_gig_form_has_labelled_fields(client, buyer):
    client.force_login(buyer)
    html = text(client.get(reverse("gig_create")))
    assert reverse("gig_create") == "/gigs/new/"
    for label in ("Title", "Description", "Currency", "Package name", "Step title", "Days", "Price"):
        assert f">{label}</label>" in html or f">{label} <span" in html, label


def test_any_logged_in_user_can_create_a_gig(client, buyer):
    client.force_login(buyer)
    response = client.post(reverse("gig_create"), editor_data(GIG))
    gig = Gig.objects.get()
    assert response["Location"] == reverse("gig_detail", args=[gig.pk])
    assert (gig.seller, gig.starting_price, gig.delivery_days) == (buyer, Money("250.00", "USD"), 10)


def test_anonymous_cannot_create_a_gig(client):
    response = client.post(reverse("gig_create"), editor_data(GIG))
    assert response["Location"].startswith("/accounts/login/?next=")
    assert not Gig.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("starting_price", "0"),
        ("starting_price", "-5"),
        ("starting_price", "1.00"),
        ("starting_price", "10.123"),
        ("starting_price", "abc"),
        ("delivery_days", "0"),
        ("title", ""),
        ("description", "   "),
        ("currency", "XYZ"),
    ],
)
def test_bad_gig_input_gets_a_field_error_and_creates_nothing(client, buyer, field, value):
    client.force_login(buyer)
    response = client.post(reverse("gig_create"), editor_data({**GIG, field: value}))
    assert response.status_code == 400
    html = text(response)
    assert f'id="id_{editor_field(field)}_error"' in html, html
    assert not Gig.objects.exists()


# --- escaping ----------------------------------------------------------------------


def test_user_text_is_escaped(client, buyer):
    evil = UserFactory(username="mallory")
    evil.bio = XSS
    evil.save()
    gig = GigFactory(seller=evil, title=XSS, description=XSS)
    client.force_login(buyer)
    for url in (reverse("home"), reverse("gig_detail", args=[gig.pk]), reverse("order_start", args=[gig.pk])):
        html = text(client.get(url))
        assert XSS not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url


# --- display helpers (marketplace_tags) ----------------------------------------------


def test_money_filter_always_shows_the_currency():
    from marketplace.templatetags.marketplace_tags import money

    assert money(Money("1234.5", "USD")) == "1,234.50\u00a0USD"
    assert money(Money("-3", "EUR")) == "−3.00\u00a0EUR"
    assert money(Money("1500", "JPY")) == "1,500\u00a0JPY"
    assert money("12", "GBP") == "12.00\u00a0GBP"
    assert money(None) == ""


def test_when_filter_gives_words_and_the_exact_time():
    from datetime import UTC, timedelta

    from django.utils import timezone

    from marketplace.templatetags.marketplace_tags import when

    now = timezone.now()
    soon = now + timedelta(days=3, minutes=5)
    html = str(when(soon))
    assert html.startswith(f'<time datetime="{soon.astimezone(UTC).replace(microsecond=0).isoformat()}"')
    assert ">in 3 days · " in html and soon.strftime("%-d %b %H:%M") in html
    assert ">2 hours ago · " in str(when(now - timedelta(hours=2)))
    assert ">just now · " in str(when(now))
    assert ">in 15 days · " in str(when(now + timedelta(days=15)))
    assert ">in 4 weeks · " in str(when(now + timedelta(days=30)))
    assert when(None) == ""


def test_times_in_words_round_to_the_nearest_and_never_say_zero():
    """Found as a new user: "in 2 days" for 2 days 23 hours, "cleared after 0
    hours" for a 2-minute period, "in 0 minutes"."""
    from datetime import timedelta

    from django.utils import timezone

    from marketplace.forms import describe_period
    from marketplace.templatetags.marketplace_tags import when
    from marketplace.timewords import iso_time, period_words, relative_words, until_words

    now = timezone.now()
    assert until_words(now + timedelta(days=2, hours=23), now) == "3 days"
    assert until_words(now + timedelta(days=6, hours=23, minutes=59), now) == "7 days"
    assert relative_words(now + timedelta(seconds=20), now) == "in under a minute"
    assert relative_words(now + timedelta(seconds=50), now) == "in 1 minute"
    assert relative_words(now - timedelta(seconds=10), now) == "just now"
    assert ">in under a minute · " in str(when(now + timedelta(seconds=5)))
    assert period_words(timedelta(minutes=2)) == "2 minutes"
    assert describe_period(timedelta(minutes=2)) == "cleared after 2 minutes"
    assert period_words(timedelta(hours=36)) == "36 hours"
    assert period_words(timedelta(days=14)) == "14 days"
    # <time datetime> in whole seconds: the Nu HTML checker rejects six decimal places.
    assert iso_time(now.replace(microsecond=123456)).endswith(f":{now.second:02d}+00:00")


def test_local_url_filter_only_lets_site_paths_through():
    from marketplace.templatetags.marketplace_tags import local_url

    assert local_url("/orders/3/#milestone-4") == "/orders/3/#milestone-4"
    for bad in ("javascript:alert(1)", "//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert local_url(bad) == "", bad


def test_home_search_finds_gigs_by_title_or_description(client):
    logo = GigFactory(title="I will design your logo")
    api = GigFactory(title="Backend work", description="A tested REST API.")
    html = text(client.get(reverse("home") + "?q=logo"))
    assert logo.title in html and api.title not in html
    assert "1 gig matching “logo”" in html
    html = text(client.get(reverse("home") + "?q=rest+api"))
    assert api.title in html and logo.title not in html
    html = text(client.get(reverse("home") + "?q=%3Cscript%3E"))
    assert "No gig matches “&lt;script&gt;”." in html
