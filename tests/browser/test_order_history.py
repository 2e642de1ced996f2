"""The order history in real Chromium (issue 34), on a phone and on a laptop: the buyer reaches it
from the site's menu, sees a completed and a cancelled order, and the filters and search work."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from milestones.models import MilestoneState
from milestones.services.completion import order_complete
from tests.browser.conftest import log_in
from tests.factories import OrderFactory, UserFactory, milestone_in

S = MilestoneState
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [(390, 844), (1280, 900)], ids=["phone", "laptop"])
def test_the_order_history_shows_a_completed_and_a_cancelled_order_and_filters_them(new_page, viewport):
    buyer, seller = UserFactory(username="alice_buyer"), UserFactory(username="bob_seller")
    completed = OrderFactory(buyer=buyer, seller=seller, title="Logo, finished")
    milestone_in(S.APPROVED, order=completed)
    order_complete(order=completed, actor=buyer)
    cancelled = OrderFactory(buyer=buyer, seller=seller, title="Website, called off")
    milestone_in(S.CANCELLED, order=cancelled)
    working = OrderFactory(buyer=buyer, seller=UserFactory(username="carol_dev"), title="App, in work")
    milestone_in(S.IN_PROGRESS, order=working)

    page = new_page()
    width, height = viewport
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, buyer)
    orders_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders")
    if not orders_link.is_visible():
        page.locator("summary.nav-toggle").click()  # the phone's menu
    orders_link.click()
    expect(page.get_by_role("heading", level=1, name="Orders")).to_be_visible()

    history = page.locator("#order-history")
    row = history.locator("li").filter(has_text="Logo, finished")
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("Buying from bob_seller")
    expect(history.locator("li").filter(has_text="Website, called off")).to_contain_text("Cancelled")
    expect(history.locator("li")).to_have_count(3)
    # Nothing is wider than the screen.
    wide = page.evaluate(
        "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > innerWidth)"
        ".map(e => e.tagName + '.' + e.className + '#' + e.id + ':' + Math.round(e.getBoundingClientRect().right))"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"wider than the screen: {wide}"

    filters = page.get_by_role("navigation", name="Which orders")
    filters.get_by_role("link", name="Completed").click()
    expect(history.locator("li")).to_have_count(1)
    expect(history).to_contain_text("Logo, finished")
    filters.get_by_role("link", name="Cancelled").click()
    expect(history.locator("li")).to_have_count(1)
    expect(history).to_contain_text("Website, called off")
    filters.get_by_role("link", name="Active").click()
    expect(history.locator("li")).to_have_count(1)
    expect(history).to_contain_text("App, in work")

    filters.get_by_role("link", name="All").click()
    page.get_by_label("Search orders by title or the other party").fill("carol")
    page.get_by_role("button", name="Search").click()
    expect(history.locator("li")).to_have_count(1)
    expect(history).to_contain_text("App, in work")

    history.get_by_role("link", name="App, in work").click()
    expect(page.get_by_role("heading", level=1, name="App, in work")).to_be_visible()
