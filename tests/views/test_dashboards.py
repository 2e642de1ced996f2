"""The buyer's and the seller's dashboards, and /dashboard/ with both summaries."""

from __future__ import annotations

import itertools
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from djmoney.money import Money

from gigs.models import Gig
from milestones.models import MilestoneState
from orders.models import Activity
from tests.factories import GigFactory, OrderFactory, UserFactory, milestone_in, staff_login
from tests.gig_editor import editor_data

S = MilestoneState
pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def section(html: str, section_id: str) -> str:
    """The HTML of one dashboard section, by its id."""
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    assert match, f"no section {section_id}"
    return match.group(0)


def link(milestone) -> str:
    return f"{reverse('order_detail', args=[milestone.order_id])}#milestone-{milestone.pk}"


@pytest.fixture
def board(buyer, seller):
    """One milestone in each state the dashboards list, all between buyer and seller."""
    return {
        state: milestone_in(state, order=OrderFactory(buyer=buyer, seller=seller), title=f"M {state}")
        for state in (
            S.AWAITING_ACCEPTANCE,
            S.IN_PROGRESS,
            S.IN_REVIEW,
            S.REVISION_REQUESTED,
            S.DISPUTED,
            S.APPROVED,
        )
    }


def test_buyer_dashboard_sections_count_and_link_to_the_order_page(client, buyer, board):
    client.force_login(buyer)
    html = text(client.get(reverse("buyer_dashboard")))
    assert html.count("<h1") == 1
    expected = {
        "buyer-to_review": [S.IN_REVIEW],
        "buyer-in_progress": [S.IN_PROGRESS, S.REVISION_REQUESTED],
        "buyer-awaiting_acceptance": [S.AWAITING_ACCEPTANCE],
        "buyer-disputed": [S.DISPUTED],
    }
    for section_id, states in expected.items():
        part = section(html, section_id)
        assert f'<span class="count-pill">{len(states)}</span>' in part, section_id
        for state in states:
            assert link(board[state]) in part, (section_id, state)
    # Closed milestones are on no list.
    assert link(board[S.APPROVED]) not in html


def test_seller_dashboard_sections(client, seller, board):
    client.force_login(seller)
    html = text(client.get(reverse("seller_dashboard")))
    expected = {
        "seller-to_accept": S.AWAITING_ACCEPTANCE,
        "seller-in_progress": S.IN_PROGRESS,
        "seller-revision_requested": S.REVISION_REQUESTED,
        "seller-in_review": S.IN_REVIEW,
        "seller-disputed": S.DISPUTED,
    }
    for section_id, state in expected.items():
        part = section(html, section_id)
        assert '<span class="count-pill">1</span>' in part, section_id
        assert link(board[state]) in part
        assert f"badge-{state}" in part


def test_the_other_role_sees_its_own_view(client, buyer, board):
    # The buyer has sold nothing: every selling section is empty.
    client.force_login(buyer)
    html = text(client.get(reverse("seller_dashboard")))
    assert html.count('<span class="count-pill">0</span>') == html.count('class="count-pill"')


def test_outsider_sees_none_of_it(client, board):
    client.force_login(UserFactory(username="eve"))
    for name in ("buyer_dashboard", "seller_dashboard", "dashboard"):
        html = text(client.get(reverse(name)))
        for milestone in board.values():
            assert link(milestone) not in html


def test_summary_page_shows_both_roles_with_counts(client, buyer, seller, board):
    client.force_login(seller)
    html = text(client.get(reverse("dashboard")))
    assert html.count("<h1") == 1
    assert reverse("buyer_dashboard") in html and reverse("seller_dashboard") in html
    selling = section(html, "selling")
    assert re.search(r'stat-count">1</span> <span class="stat-label">To accept', selling)
    assert link(board[S.AWAITING_ACCEPTANCE]) in selling
    assert link(board[S.REVISION_REQUESTED]) in selling
    buying = section(html, "buying")
    assert re.search(r'stat-count">0</span> <span class="stat-label">To review', buying)

    client.force_login(buyer)
    buying = section(text(client.get(reverse("dashboard"))), "buying")
    assert re.search(r'stat-count">1</span> <span class="stat-label">To review', buying)
    assert link(board[S.IN_REVIEW]) in buying


def test_orders_waiting_for_a_first_milestone_are_listed(client, buyer, seller):
    order = OrderFactory(buyer=buyer, seller=seller, title="Fresh order")
    client.force_login(buyer)
    part = section(text(client.get(reverse("buyer_dashboard"))), "buyer-orders")
    assert reverse("order_detail", args=[order.pk]) in part


def test_user_text_is_escaped(client, buyer, seller):
    order = OrderFactory(buyer=buyer, seller=seller, title="<b>bold</b>")
    milestone_in(S.IN_REVIEW, order=order, title="<script>alert(1)</script>")
    client.force_login(buyer)
    for name in ("dashboard", "buyer_dashboard"):
        html = text(client.get(reverse(name)))
        assert "<script>alert(1)</script>" not in html and "<b>bold</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


STATES = itertools.cycle([S.AWAITING_ACCEPTANCE, S.IN_PROGRESS, S.IN_REVIEW, S.REVISION_REQUESTED])


def _add(buyer, seller, n: int) -> None:
    for _ in range(n):
        milestone_in(next(STATES), order=OrderFactory(buyer=buyer, seller=seller))
    OrderFactory(buyer=buyer, seller=seller)  # one waiting for its first milestone


def test_query_counts_do_not_grow_with_orders_and_milestones(client, buyer, seller, settings):
    settings.PAGE_CACHE_SECONDS = 0  # every view rendered in full: what a view after a change costs

    def counts(user) -> dict[str, int]:
        client.force_login(user)
        result = {}
        for name in ("dashboard", "buyer_dashboard", "seller_dashboard"):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(reverse(name)).status_code == 200
            result[name] = len(queries)
        return result

    _add(buyer, seller, 3)
    few = {"buyer": counts(buyer), "seller": counts(seller)}
    _add(buyer, seller, 27)
    many = {"buyer": counts(buyer), "seller": counts(seller)}
    assert few == many
    for role in many.values():
        assert max(role.values()) <= 16, role


def test_dashboards_stay_within_a_query_budget(client, buyer, seller, django_assert_max_num_queries):
    _add(buyer, seller, 8)
    client.force_login(buyer)
    for name in ("dashboard", "buyer_dashboard", "seller_dashboard"):
        with django_assert_max_num_queries(16):
            client.get(reverse(name))


def test_seller_dashboard_lists_the_sellers_own_gigs(client, seller):
    mine = GigFactory(seller=seller, title="My logo gig")
    GigFactory(title="Someone else's gig")
    client.force_login(seller)
    part = section(text(client.get(reverse("seller_dashboard"))), "seller-gigs")
    assert reverse("gig_detail", args=[mine.pk]) in part
    assert "Someone else" not in part


def test_long_sections_are_paginated_without_extra_queries(client, buyer, seller):
    orders = [OrderFactory(buyer=buyer, seller=seller) for _ in range(12)]
    milestones = [
        milestone_in(S.AWAITING_ACCEPTANCE, order=order, title=f"Phase {i:02d}") for i, order in enumerate(orders)
    ]
    client.force_login(seller)
    url = reverse("seller_dashboard")
    with CaptureQueriesContext(connection) as first_queries:
        first = section(text(client.get(url)), "seller-to_accept")
    with CaptureQueriesContext(connection) as second_queries:
        second = section(text(client.get(url + "?to_accept_page=2")), "seller-to_accept")
    assert len(first_queries) == len(second_queries)
    assert '<span class="count-pill">12</span>' in first
    # Oldest first: ten on page one, the last two on page two.
    assert all(link(m) in first for m in milestones[:10]) and link(milestones[10]) not in first
    assert all(link(m) in second for m in milestones[10:]) and link(milestones[0]) not in second
    assert "Page 1 of 2" in first and "to_accept_page=2#seller-to_accept" in first
    # A page past the end shows the last one; junk shows the first.
    assert link(milestones[11]) in section(text(client.get(url + "?to_accept_page=99")), "seller-to_accept")
    assert link(milestones[0]) in section(text(client.get(url + "?to_accept_page=x")), "seller-to_accept")


def test_counts_stop_at_the_cap_and_the_pages_still_work(client, buyer, seller, monkeypatch):
    """Past ``COUNT_CAP`` a count reads "1,000+" (here the cap is 3): counting a
    long history costs what a page does. The pages up to the cap still page."""
    from dashboards import selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    orders = [OrderFactory(buyer=buyer, seller=seller) for _ in range(5)]
    for i, order in enumerate(orders):
        milestone_in(S.AWAITING_ACCEPTANCE, order=order, title=f"Phase {i:02d}")
    OrderFactory(buyer=buyer, seller=seller)  # waiting for a first milestone
    client.force_login(seller)
    html = text(client.get(reverse("seller_dashboard")))
    assert '<span class="count-pill">3+</span>' in section(html, "seller-to_accept")
    assert '<span class="count-pill">1</span>' in section(html, "seller-orders")
    summary = text(client.get(reverse("dashboard")))
    assert '<span class="stat-count">3+</span> <span class="stat-label">To accept</span>' in summary


# --- the sections are rendered once per change and reused (marketplace.pages) ------------------------


def reads_milestones(queries) -> bool:
    return any("milestones_milestone" in q["sql"] for q in queries.captured_queries)


def test_a_second_view_reuses_the_sections_and_a_change_shows_at_once(client, buyer, seller):
    from milestones.services.lifecycle import milestone_accept

    milestone = milestone_in(S.AWAITING_ACCEPTANCE, order=OrderFactory(buyer=buyer, seller=seller), title="Logo")
    client.force_login(buyer)
    url = reverse("buyer_dashboard")
    assert link(milestone) in section(text(client.get(url)), "buyer-awaiting_acceptance")
    with CaptureQueriesContext(connection) as again:
        assert link(milestone) in section(text(client.get(url)), "buyer-awaiting_acceptance")
    assert not reads_milestones(again), "the second view read the milestones again"

    milestone_accept(milestone=milestone, actor=seller)  # logged on the order: the buyer's version moves
    page = text(client.get(url))
    assert link(milestone) not in section(page, "buyer-awaiting_acceptance")
    assert link(milestone) in section(page, "buyer-in_progress")


def test_an_order_opened_shows_at_once(client, buyer, seller):
    from orders.services import order_create

    client.force_login(seller)
    url = reverse("seller_dashboard")
    assert "Brand refresh" not in text(client.get(url))
    order_create(buyer=buyer, gig=GigFactory(seller=seller), title="Brand refresh", brief="")
    assert "Brand refresh" in section(text(client.get(url)), "seller-orders")


def test_each_user_sees_their_own_dashboard(client, buyer, seller):
    other = UserFactory()
    mine = milestone_in(S.IN_PROGRESS, order=OrderFactory(buyer=buyer, seller=seller), title="Mine")
    theirs = milestone_in(S.IN_PROGRESS, order=OrderFactory(buyer=other, seller=seller), title="Theirs")
    for user, shown, hidden in ((buyer, mine, theirs), (other, theirs, mine)):
        client.force_login(user)
        page = text(client.get(reverse("buyer_dashboard")))
        assert link(shown) in page and link(hidden) not in page


# --- the seller's gigs are reused with the sections, and a change to one shows at once ------------


def reads_gigs(queries) -> list[str]:
    """The statements that read the gigs, but for the version's probe (which counts them and reads
    their latest write, with the latest activity)."""
    gigs, activity = Gig._meta.db_table, Activity._meta.db_table
    return [q["sql"] for q in queries.captured_queries if gigs in q["sql"] and activity not in q["sql"]]


def gigs_part(client) -> str:
    return section(text(client.get(reverse("seller_dashboard"))), "seller-gigs")


def gig_row(part: str, gig) -> str:
    """The gig's line in the gigs section ("" if it is not listed)."""
    match = re.search(
        rf'<li class="list-item">(?:(?!</li>).)*{reverse("gig_detail", args=[gig.pk])}.*?</li>', part, re.S
    )
    return match.group(0) if match else ""


@pytest.fixture
def cached(settings):
    """A window no test outlasts: what shows at once shows because the version moved."""
    settings.PAGE_CACHE_SECONDS = 3600


def test_a_second_view_reads_no_gigs(client, seller, cached):
    gigs = [GigFactory(seller=seller, title=f"Gig {i}") for i in range(3)]
    client.force_login(seller)
    url = reverse("seller_dashboard")
    client.get(url)
    with CaptureQueriesContext(connection) as again:
        part = section(text(client.get(url)), "seller-gigs")
    assert all(gig_row(part, gig) for gig in gigs)
    assert "Your gigs" in part and reverse("gig_create") in part
    assert not reads_gigs(again), "the second view read the gigs again"
    assert not reads_milestones(again)


def test_an_edit_on_the_edit_page_shows_at_once(client, seller, cached):
    gig = GigFactory(seller=seller, title="Logo design")
    client.force_login(seller)
    assert "Logo design" in gig_row(gigs_part(client), gig)
    edit = {
        "title": "Logo animation",
        "description": "A five-second intro.",
        "category": "video",
        "starting_price": "120.00",
        "currency": "GBP",
        "delivery_days": "6",
    }
    assert client.post(reverse("gig_edit", args=[gig.pk]), editor_data(edit)).status_code == 302
    row = gig_row(gigs_part(client), gig)
    assert "Logo animation" in row and "120.00\u00a0GBP" in row


def test_an_edit_through_the_service_shows_at_once(client, seller, cached):
    from gigs.services import gig_update

    gig = GigFactory(seller=seller, title="Logo design")
    client.force_login(seller)
    assert "Logo design" in gig_row(gigs_part(client), gig)
    gig_update(gig=gig, actor=seller, title="Brand identity", description=gig.description, category=gig.category)
    assert "Brand identity" in gig_row(gigs_part(client), gig)


def test_pausing_and_resuming_show_at_once(client, seller, cached):
    gig = GigFactory(seller=seller)
    client.force_login(seller)
    assert "badge-active" in gig_row(gigs_part(client), gig)
    client.post(reverse("gig_pause", args=[gig.pk]))
    assert ">Paused<" in gig_row(gigs_part(client), gig)
    client.post(reverse("gig_resume", args=[gig.pk]))
    assert ">Active<" in gig_row(gigs_part(client), gig)


def test_a_new_gig_shows_at_once(client, seller, cached):
    from gigs.services import gig_create

    client.force_login(seller)
    assert "No gigs yet." in gigs_part(client)
    gig = gig_create(
        seller=seller,
        title="Motion design",
        description="Ten seconds.",
        starting_price=Money("80.00", "USD"),
        delivery_days=3,
    )
    assert "Motion design" in gig_row(gigs_part(client), gig)


def test_a_gig_retired_by_staff_in_the_admin_shows_at_once(client, seller, staff, cached):
    gig = GigFactory(seller=seller, title="Logo design")
    client.force_login(seller)
    assert "badge-active" in gig_row(gigs_part(client), gig)
    admin = Client()
    staff_login(admin, staff)
    form = {
        "seller": seller.pk,
        "title": gig.title,
        "description": gig.description,
        "starting_price_0": "100.00",
        "starting_price_1": "USD",
        "delivery_days": gig.delivery_days,
        "category": gig.category,
        # "is_active" left out: unticked, the gig is retired
        # The read-only inlines' management forms (images too), as the page sends them (the gig has none).
        **{
            f"{inline}-{key}": "0"
            for inline in ("packages", "extras", "questions", "images")
            for key in ("TOTAL_FORMS", "INITIAL_FORMS")
        },
    }
    response = admin.post(reverse("admin:gigs_gig_change", args=[gig.pk]), form)
    assert response.status_code == 302, response.content.decode()
    assert ">Retired by staff<" in gig_row(gigs_part(client), gig)


def test_a_deleted_gig_goes_at_once(client, seller, cached):
    # The older one goes: the latest write stays the same, only the count says it.
    deleted, kept = GigFactory(seller=seller, title="Deleted"), GigFactory(seller=seller, title="Kept")
    client.force_login(seller)
    url = reverse("gig_detail", args=[deleted.pk])
    assert url in gigs_part(client)
    deleted.delete()  # as staff delete one in the admin: no row is left to move
    part = gigs_part(client)
    assert gig_row(part, kept) and url not in part
