"""The order history, /orders/ (issue 34): every order of the user, buying and selling, after it
has left the dashboards; filters, search, pages, and a cost that does not grow with the orders."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from milestones.models import MilestoneState
from milestones.services.completion import order_complete
from orders.models import Order
from tests.factories import OrderFactory, UserFactory, milestone_in

S = MilestoneState
pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def listed(html: str) -> list[int]:
    """The ids of the orders the history lists, in its order."""
    return [int(pk) for pk in re.findall(r'<li class="list-item" id="order-(\d+)"', html)]


def history(client, **params) -> str:
    response = client.get(reverse("order_list"), params)
    assert response.status_code == 200
    return text(response)


@pytest.fixture
def orders(buyer, seller):
    """One order in each standing the history tells apart, all between buyer and seller."""
    completed = OrderFactory(buyer=buyer, seller=seller, title="Logo, finished")
    milestone_in(S.APPROVED, order=completed)
    order_complete(order=completed, actor=buyer)
    cancelled = OrderFactory(buyer=buyer, seller=seller, title="Website, called off")
    milestone_in(S.CANCELLED, order=cancelled)
    milestone_in(S.DECLINED, order=cancelled)
    working = OrderFactory(buyer=buyer, seller=seller, title="App, in work")
    milestone_in(S.IN_PROGRESS, order=working)
    empty = OrderFactory(buyer=buyer, seller=seller, title="Brochure, just opened")
    return {"completed": completed, "cancelled": cancelled, "working": working, "empty": empty}


def test_no_order_history_a_completed_order_is_listed_under_orders(client, buyer, seller, orders):
    """A completed order left both dashboards and nothing listed it: it is in /orders/, for both
    parties, and the site's navigation links there."""
    completed = orders["completed"]
    for user, words in ((buyer, "Buying from bob_seller"), (seller, "Selling to alice_buyer")):
        client.force_login(user)
        html = history(client)
        assert html.count("<h1") == 1
        assert f'href="{reverse("order_list")}" aria-current="page">Orders</a>' in html
        row = html[html.index(f'id="order-{completed.pk}"') :][:1500]
        assert completed.get_absolute_url() in row and words in row
        assert 'class="badge badge-completed">Completed</span>' in row
        assert set(listed(html)) == {o.pk for o in orders.values()}
    assert f'href="{reverse("order_list")}"' in text(client.get(reverse("dashboard")))


def test_the_orders_link_is_only_for_signed_in_users(client):
    assert f'href="{reverse("order_list")}"' not in text(client.get(reverse("home")))
    response = client.get(reverse("order_list"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_filters_list_active_completed_and_cancelled_orders(client, buyer, orders):
    client.force_login(buyer)
    assert listed(history(client, show="completed")) == [orders["completed"].pk]
    cancelled = history(client, show="cancelled")
    assert listed(cancelled) == [orders["cancelled"].pk]
    assert 'class="badge badge-cancelled">Cancelled</span>' in cancelled
    assert set(listed(history(client, show="active"))) == {orders["working"].pk, orders["empty"].pk}
    assert 'aria-current="page">Active</a>' in history(client, show="active")
    # An unknown filter is "All".
    assert set(listed(history(client, show="junk"))) == {o.pk for o in orders.values()}


def test_an_order_with_a_cancelled_and_an_approved_milestone_is_not_cancelled(client, buyer, seller):
    order = OrderFactory(buyer=buyer, seller=seller)
    milestone_in(S.CANCELLED, order=order)
    milestone_in(S.APPROVED, order=order)
    client.force_login(buyer)
    assert listed(history(client, show="cancelled")) == []
    assert listed(history(client, show="active")) == [order.pk]


def test_an_order_waiting_for_payment_says_so_in_the_history(client, buyer, seller):
    order = OrderFactory(buyer=buyer, seller=seller)
    milestone_in(S.AWAITING_PAYMENT, order=order)
    client.force_login(buyer)
    html = history(client, show="active")
    assert listed(html) == [order.pk]
    assert ">Waiting for payment</span>" in html and ">Active</span>" not in html


def test_search_finds_orders_by_title_or_the_other_party(client, buyer, seller, orders):
    other_seller = UserFactory(username="carol_designer")
    carols = OrderFactory(buyer=buyer, seller=other_seller, title="Poster")
    client.force_login(buyer)
    assert listed(history(client, q="website")) == [orders["cancelled"].pk]
    assert listed(history(client, q="CAROL")) == [carols.pk]
    # The viewer's own name matches nothing: only the other party is searched.
    assert listed(history(client, q="alice")) == []
    # Search and filter together, and the tabs keep the search.
    html = history(client, q="bob", show="completed")
    assert listed(html) == [orders["completed"].pk]
    assert "?show=cancelled&amp;q=bob" in html and 'value="bob"' in html


def test_an_outsider_sees_none_of_the_orders(client, outsider, orders):
    client.force_login(outsider)
    html = history(client)
    assert listed(html) == [] and "No orders yet." in html


def test_user_text_is_escaped(client, buyer, seller):
    OrderFactory(buyer=buyer, seller=seller, title="<script>alert(1)</script>")
    client.force_login(buyer)
    html = history(client, q="<script>")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def _bulk_orders(buyer, seller, n: int) -> None:
    """``n`` orders at once, half as buyer, half as seller (no milestones: a row each)."""
    Order.objects.bulk_create(
        [
            Order(
                buyer=buyer if i % 2 else seller,
                seller=seller if i % 2 else buyer,
                title=f"Bulk order {i}",
                currency="USD",
            )
            for i in range(n)
        ],
        batch_size=2000,
    )


def test_the_history_is_paginated_and_its_queries_do_not_grow_to_ten_thousand_orders(client, buyer, orders):
    seller = orders["working"].seller

    def counts() -> dict[str, int]:
        result = {}
        for params in ({}, {"show": "active"}, {"show": "completed"}, {"show": "cancelled"}, {"q": "bulk"}):
            for page in ("1", "2"):
                with CaptureQueriesContext(connection) as queries:
                    history(client, page=page, **params)
                result[f"{params}{page}"] = len(queries)
        return result

    client.force_login(buyer)
    _bulk_orders(buyer, seller, 6)  # ten orders in all
    few = counts()
    _bulk_orders(buyer, seller, 10_000)
    many = counts()
    assert few == many
    assert max(many.values()) <= 8, many

    first = history(client)
    assert len(listed(first)) == 25 and "Page 1 of 401" in first
    last = history(client, page="401")
    assert len(listed(last)) == 10_010 - 400 * 25, "the four of the fixture, six, then ten thousand"
    assert set(listed(first)).isdisjoint(listed(history(client, page="2")))
    assert re.search(r"10,?010 orders\.", first)
