"""The home page's search and filters, the rating on cards and gig pages, and
the seller's "Edit gig", "Pause gig" and "Resume gig"."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from djmoney.money import Money

from accounts.models import User
from gigs.models import Gig
from orders.models import Order
from tests.factories import GigFactory, UserFactory
from tests.gig_editor import editor_data, editor_field

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def home(client, **params) -> str:
    response = client.get(reverse("home"), params)
    assert response.status_code == 200
    return text(response)


def listed(html: str) -> list[str]:
    """The titles of the gig cards, in page order."""
    return re.findall(r'<h2 class="card-title"><a href="/gigs/\d+/">([^<]*)</a>', html)


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="id_{field}_error">([^<]*)</p>', html)
    assert match, f"no error next to {field}"
    return match.group(1)


# --- searching and filtering ------------------------------------------------------------------


def test_the_search_box_keeps_its_name_and_label_and_filters_have_labels(client):
    html = home(client)
    assert '<label for="gig-search" class="visually-hidden">Search gigs</label>' in html
    assert 'name="q"' in html and ">Search</button>" in html
    for label in ("Category", "Min price", "Max price", "Price in", "Delivery time", "Sort by"):
        assert re.search(rf"<label for=\"id_\w+\">{re.escape(label)}", html), label


def test_a_search_with_filters_is_a_link(client, seller):
    GigFactory(seller=seller, title="Logo, quick", category="design", delivery_days=2)
    GigFactory(seller=seller, title="Logo, slow", category="design", delivery_days=20)
    GigFactory(seller=seller, title="Logo in code", category="development", delivery_days=2)
    url = reverse("home") + "?q=logo&category=design&delivery=3&sort=relevance"
    html = text(client.get(url))
    assert listed(html) == ["Logo, quick"]
    assert "1 gig matching “logo”" in html
    assert '<option value="design" selected>Design</option>' in html
    assert '<option value="3" selected>Up to 3 days</option>' in html


def test_category_filter(client, seller):
    GigFactory(seller=seller, title="Logo", category="design")
    GigFactory(seller=seller, title="API", category="development")
    assert listed(home(client, category="development")) == ["API"]
    html = home(client, category="video")
    assert listed(html) == [] and "No gig matches these filters." in html


def test_price_range(client, seller):
    for title, price in (("Cheap", "10.00"), ("Mid", "50.00"), ("Dear", "200.00")):
        GigFactory(seller=seller, title=title, starting_price=Money(price, "USD"))
    GigFactory(seller=seller, title="In euros", starting_price=Money("50.00", "EUR"))
    assert listed(home(client, min_price="20", max_price="100", sort="price")) == ["Mid"]
    assert listed(home(client, min_price="20", sort="price")) == ["Mid", "Dear"]
    assert listed(home(client, max_price="50", currency="EUR")) == ["In euros"]


def test_delivery_filter(client, seller):
    for days in (1, 5, 20):
        GigFactory(seller=seller, title=f"In {days}", delivery_days=days)
    assert listed(home(client, delivery="1")) == ["In 1"]
    assert sorted(listed(home(client, delivery="7"))) == ["In 1", "In 5"]


def test_each_sort(client):
    def seller(name, avg, count):
        return UserFactory(username=name, rating_avg=Decimal(avg) if avg else None, rating_count=count)

    GigFactory(title="Oldest, dear, best", seller=seller("a", "4.90", 10), starting_price=Money("300.00", "USD"))
    GigFactory(title="Middle, cheap, unrated", seller=seller("b", None, 0), starting_price=Money("20.00", "USD"))
    GigFactory(title="Newest, mid, good logo", seller=seller("c", "4.20", 3), starting_price=Money("80.00", "USD"))
    assert listed(home(client)) == ["Newest, mid, good logo", "Middle, cheap, unrated", "Oldest, dear, best"]
    assert listed(home(client, sort="newest")) == listed(home(client))
    assert listed(home(client, sort="rating")) == [
        "Oldest, dear, best",
        "Newest, mid, good logo",
        "Middle, cheap, unrated",
    ]
    assert listed(home(client, sort="price")) == [
        "Middle, cheap, unrated",
        "Newest, mid, good logo",
        "Oldest, dear, best",
    ]
    html = home(client)
    assert '<option value="newest" selected>Newest</option>' in html  # what applies without a query
    html = home(client, q="logo")
    assert '<option value="relevance" selected>Best match</option>' in html
    assert listed(html) == ["Newest, mid, good logo"]


def test_relevance_puts_a_title_match_above_a_description_only_match(client, seller):
    GigFactory(seller=seller, title="I will design your logo", description="Three concepts.")
    GigFactory(seller=seller, title="Brand refresh", description="A new logo, colours and type.")
    assert listed(home(client, q="logo")) == ["I will design your logo", "Brand refresh"]


def test_pages_keep_the_search_and_filters(client, seller):
    GigFactory.create_batch(13, seller=seller, category="writing")
    html = home(client, category="writing", sort="price")
    next_link = re.search(r'rel="next" href="([^"]*)"', html).group(1).replace("&amp;", "&")
    assert "category=writing" in next_link and "sort=price" in next_link and "page=2" in next_link
    assert len(listed(text(client.get(reverse("home") + next_link)))) == 1


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"min_price": "abc"}, "min_price", "Enter the minimum price as a number"),
        ({"min_price": "-5"}, "min_price", "cannot be negative"),
        ({"max_price": "1e400"}, "max_price", ""),
        ({"max_price": "NaN"}, "max_price", "Enter the maximum price as a number"),
        ({"min_price": "100", "max_price": "10"}, "max_price", "below the minimum"),
        ({"category": "gardening"}, "category", "Choose one of the categories"),
        ({"delivery": "soon"}, "delivery", "Choose one of the delivery times"),
        ({"delivery": "-1"}, "delivery", "Choose one of the delivery times"),
        ({"currency": "XBT", "min_price": "5"}, "currency", "Choose one of the currencies"),
        ({"sort": "'; DROP TABLE"}, "sort", "Choose one of the orders"),
    ],
)
def test_bad_filter_input_gets_a_message_and_that_filter_is_left_out(client, seller, params, field, message):
    GigFactory(seller=seller, title="Cheap logo", starting_price=Money("10.00", "USD"), delivery_days=3)
    GigFactory(seller=seller, title="Dear logo", starting_price=Money("500.00", "USD"), delivery_days=3)
    response = client.get(reverse("home"), {"q": "logo", **params})
    assert response.status_code == 200
    html = text(response)
    assert message in field_error(html, field)
    assert "could not be read and was left out" in html
    assert sorted(listed(html)) == ["Cheap logo", "Dear logo"]  # the bad filter is ignored, the query is not


def test_a_bad_filter_leaves_the_good_ones_in_place(client, seller):
    GigFactory(seller=seller, title="Design", category="design", starting_price=Money("10.00", "USD"))
    GigFactory(seller=seller, title="Code", category="development", starting_price=Money("10.00", "USD"))
    html = home(client, category="design", min_price="abc")
    assert listed(html) == ["Design"]
    assert "Enter the minimum price as a number" in field_error(html, "min_price")


def test_a_query_with_a_null_byte_is_refused_not_a_500(client, seller):
    GigFactory(seller=seller, title="Logo")
    response = client.get(reverse("home"), {"q": "lo\x00go"})
    assert response.status_code == 200
    assert 'id="gig-search-error"' in text(response)


# --- the query count -------------------------------------------------------------------------


def _bulk_gigs(count: int, start: int) -> None:
    sellers = User.objects.bulk_create(
        [
            User(
                username=f"bulk{start + n}",
                rating_avg=Decimal("4.50") if n % 2 else None,
                rating_count=7 if n % 2 else 0,
                seller_level="top_rated" if n % 2 else "new",
            )
            for n in range(max(count // 10, 2))
        ]
    )
    Gig.objects.bulk_create(
        [
            Gig(
                seller=sellers[n % len(sellers)],
                title=f"I will design logo number {start + n}",
                description="Vector files and a style guide.",
                starting_price=Money("50.00", "USD"),
                delivery_days=3,
                category="design",
            )
            for n in range(count)
        ]
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "logo", "category": "design", "min_price": "10", "max_price": "100", "delivery": "7"},
        {"q": "logo design", "sort": "rating"},
        {"sort": "price", "page": "2"},
        {"q": "desing logo", "min_price": "10"},  # nothing matches: the suggestion, the fallback, the currency count
    ],
    ids=["list", "search-with-filters", "search-by-rating", "price-page-2", "typo-with-price"],
)
def test_the_list_costs_the_same_queries_at_10_and_10000_gigs(client, buyer, params):
    client.force_login(buyer)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            html = home(client, **params)
        assert "★ 4.5 (7)" in html
        assert ">Top rated</span>" in html  # the level, off the seller's row
        return len(queries)

    _bulk_gigs(10, start=0)
    few = count()  # one page of 10 cards
    _bulk_gigs(9_990, start=10)
    assert Gig.objects.count() == 10_000
    assert count() == few  # a full page of 12 cards, out of 10,000: a query per card would show here
    assert few <= 8


# --- the rating on cards and the gig page -------------------------------------------------------


def test_cards_and_the_gig_page_show_the_rating_or_no_reviews_yet(client):
    rated = UserFactory(username="rated", rating_avg=Decimal("4.75"), rating_count=12)
    GigFactory(seller=rated, title="Rated gig")
    fresh = GigFactory(title="Fresh gig")
    html = home(client)
    cards = html.split('<article class="card gig-card">')[1:]
    rated_card = next(card for card in cards if "Rated gig" in card)
    fresh_card = next(card for card in cards if "Fresh gig" in card)
    assert "★ 4.8 (12)" in rated_card and "No reviews yet" not in rated_card
    assert "No reviews yet" in fresh_card and "★" not in fresh_card
    assert "Rated 4.8 out of 5 from 12 reviews" in rated_card  # what a screen reader says
    gig_page = text(client.get(reverse("gig_detail", args=[rated.gigs.get().pk])))
    assert "★ 4.8 (12)" in gig_page
    assert "No reviews yet" in text(client.get(reverse("gig_detail", args=[fresh.pk])))


def test_cards_show_the_category(client, seller):
    GigFactory(seller=seller, category="video")
    assert "Video &amp; Animation" in home(client)


# --- editing ----------------------------------------------------------------------------------

EDIT = {
    "title": "I will animate your logo",
    "description": "A five-second intro.",
    "category": "video",
    "starting_price": "120.00",
    "currency": "GBP",
    "delivery_days": "6",
}


def terms(gig: Gig) -> tuple:
    gig.refresh_from_db()
    return (gig.title, gig.description, gig.category, gig.starting_price, gig.delivery_days)


def test_the_seller_sees_edit_and_pause_on_their_own_gig_only(client, seller, buyer):
    gig = GigFactory(seller=seller)
    client.force_login(seller)
    html = text(client.get(reverse("gig_detail", args=[gig.pk])))
    assert f'<a class="btn btn-secondary" href="{reverse("gig_edit", args=[gig.pk])}">Edit gig</a>' in html
    assert re.search(rf'<form method="post" action="{reverse("gig_pause", args=[gig.pk])}"[^>]*>', html)
    assert ">Pause gig</button>" in html and "Resume gig" not in html
    client.force_login(buyer)
    html = text(client.get(reverse("gig_detail", args=[gig.pk])))
    assert "Edit gig" not in html and "Pause gig" not in html


def test_the_edit_form_is_filled_in_and_saves(client, seller):
    gig = GigFactory(seller=seller, title="Old title", category="design")
    client.force_login(seller)
    html = text(client.get(reverse("gig_edit", args=[gig.pk])))
    assert html.count("<h1") == 1 and "Edit gig" in html
    assert 'value="Old title"' in html and '<option value="design" selected>Design</option>' in html
    for label in ("Title", "Description", "Category", "Currency", "Package name", "Step title", "Price", "Days"):
        assert re.search(rf"<label for=\"id_[\w-]+\">{label}", html), label
    response = client.post(reverse("gig_edit", args=[gig.pk]), editor_data(EDIT))
    assert response["Location"] == reverse("gig_detail", args=[gig.pk])
    assert terms(gig) == ("I will animate your logo", "A five-second intro.", "video", Money("120.00", "GBP"), 6)
    assert "Your gig is updated." in text(client.get(response["Location"]))


def test_no_one_else_can_edit_the_gig(client, seller, buyer, staff):
    gig = GigFactory(seller=seller)
    before = terms(gig)
    for someone in (buyer, staff):
        client.force_login(someone)
        assert client.get(reverse("gig_edit", args=[gig.pk])).status_code == 404
        assert client.post(reverse("gig_edit", args=[gig.pk]), editor_data(EDIT)).status_code == 404
    client.logout()
    response = client.post(reverse("gig_edit", args=[gig.pk]), editor_data(EDIT))
    assert response["Location"].startswith(reverse("login"))
    assert terms(gig) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("description", "   "),
        ("category", "gardening"),
        ("starting_price", "abc"),
        ("starting_price", "1.00"),
        ("currency", "XBT"),
        ("delivery_days", "0"),
    ],
)
def test_a_bad_edit_shows_the_error_next_to_the_field_and_changes_nothing(client, seller, field, value):
    gig = GigFactory(seller=seller)
    before = terms(gig)
    client.force_login(seller)
    response = client.post(reverse("gig_edit", args=[gig.pk]), editor_data({**EDIT, field: value}))
    assert response.status_code == 400
    assert field_error(text(response), editor_field(field))
    assert terms(gig) == before


def test_a_gig_can_be_published_with_a_category(client, seller):
    client.force_login(seller)
    response = client.post(reverse("gig_create"), editor_data(EDIT))
    assert response.status_code == 302
    assert Gig.objects.get().category == "video"


# --- pausing and resuming -------------------------------------------------------------------------


def test_pause_hides_the_gig_from_search_and_ordering_and_resume_brings_it_back(client, seller, buyer):
    gig = GigFactory(seller=seller, title="I will design your logo")
    page = reverse("gig_detail", args=[gig.pk])
    client.force_login(seller)
    response = client.post(reverse("gig_pause", args=[gig.pk]))
    assert response["Location"] == page
    owner_view = text(client.get(page))
    assert "Your gig is paused" in owner_view and ">Resume gig</button>" in owner_view
    assert "Pause gig" not in owner_view and "Edit gig" in owner_view

    client.force_login(buyer)
    assert listed(home(client)) == [] and listed(home(client, q="logo")) == []
    others_view = client.get(page)
    assert others_view.status_code == 200
    assert "has paused this gig: it cannot be ordered for now" in text(others_view)
    assert ">Order with your own milestones</button>" not in text(others_view)
    assert client.post(reverse("order_start", args=[gig.pk]), {"title": "Logo", "brief": ""}).status_code == 404
    assert not Order.objects.exists()

    client.force_login(seller)
    assert client.post(reverse("gig_resume", args=[gig.pk]))["Location"] == page
    assert "Your gig is live again." in text(client.get(page))
    client.force_login(buyer)
    assert listed(home(client, q="logo")) == ["I will design your logo"]
    assert ">Order with your own milestones</button>" in text(client.get(page))


def test_pause_and_resume_are_post_only_and_the_sellers_alone(client, seller, buyer):
    gig = GigFactory(seller=seller)
    client.force_login(seller)
    assert client.get(reverse("gig_pause", args=[gig.pk])).status_code == 405
    assert client.get(reverse("gig_resume", args=[gig.pk])).status_code == 405
    client.force_login(buyer)
    assert client.post(reverse("gig_pause", args=[gig.pk])).status_code == 404
    assert Gig.objects.get(pk=gig.pk).is_active
    client.force_login(seller)
    client.post(reverse("gig_pause", args=[gig.pk]))
    client.force_login(buyer)
    assert client.post(reverse("gig_resume", args=[gig.pk])).status_code == 404
    assert Gig.objects.get(pk=gig.pk).is_paused


def test_a_second_pause_says_so(client, seller):
    gig = GigFactory(seller=seller)
    client.force_login(seller)
    client.post(reverse("gig_pause", args=[gig.pk]))
    response = client.post(reverse("gig_pause", args=[gig.pk]), follow=True)
    assert "This gig is already paused." in text(response)


def test_a_gig_retired_by_staff_stays_hidden_from_others_and_offers_its_seller_no_buttons(client, seller, buyer):
    gig = GigFactory(seller=seller, is_active=False)
    client.force_login(buyer)
    assert client.get(reverse("gig_detail", args=[gig.pk])).status_code == 404
    client.force_login(seller)
    html = text(client.get(reverse("gig_detail", args=[gig.pk])))
    assert "took this gig down" in html
    assert "Edit gig" not in html and "Pause gig" not in html and "Resume gig" not in html
