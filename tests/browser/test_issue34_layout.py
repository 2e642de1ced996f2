"""Issue 34, what a new user saw in Chromium: the order's long status badge made the page 668 px wide
on a 390 px phone; the milestone card's deadline ran into the next fact at 1280 px ("05:04
UTCauto-approves"); the Brief and Progress cards touched; the inbox list showed a stray bullet."""

from __future__ import annotations

import pytest

from milestones.models import MilestoneState as S
from orders.models import OrderMessage
from tests.browser.conftest import log_in
from tests.factories import OrderFactory, UserFactory, milestone_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# How far the page scrolls sideways (0 when it does not).
SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture
def world():
    buyer, seller = UserFactory(username="ben_buyer"), UserFactory(username="sol_seller")
    # The longest order status: every milestone closed, the order not completed yet.
    closed = OrderFactory(buyer=buyer, seller=seller, title="Shop app", brief="Build the shop app, phase by phase.")
    milestone_in(S.APPROVED, order=closed, title="Design", amount="250.00")
    # Every milestone state's badge (the longest: "Not paid, checkout expired"), one order each:
    # an order runs one milestone at a time.
    by_state = {}
    for state in S:
        order = OrderFactory(buyer=buyer, seller=seller, title=f"Order {state.label}")
        milestone_in(state, order=order, title=f"Phase {state.label}", amount="100.00")
        by_state[state] = order
    OrderMessage.objects.create(order=closed, author=seller, body="Thanks, starting today.")
    return {"buyer": buyer, "seller": seller, "closed": closed, "by_state": by_state}


def test_at_360_px_no_page_scrolls_sideways_with_the_longest_status_of_every_kind(new_page, world):
    page = new_page()
    page.set_viewport_size({"width": 360, "height": 740})
    log_in(page, world["buyer"])
    closed = world["closed"].get_absolute_url()
    page.goto(closed)
    assert page.get_by_text("Every milestone closed: waiting for a new one", exact=False).first.is_visible()
    orders = [order.get_absolute_url() for order in world["by_state"].values()]
    for path in (closed, *orders, "/dashboard/buying/", "/messages/", "/notifications/"):
        page.goto(path)
        sideways = page.evaluate(SIDEWAYS)
        assert sideways <= 0, f"{path} scrolls sideways by {sideways} px at 360 px"


def test_at_1280_px_each_fact_of_a_milestone_card_stays_in_its_own_cell(new_page, world):
    page = new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, world["buyer"])
    page.goto(world["by_state"][S.IN_REVIEW].get_absolute_url())
    overflowing = page.evaluate(
        """[...document.querySelectorAll('.facts > div')].flatMap((cell) => {
             const box = cell.getBoundingClientRect();
             return [...cell.querySelectorAll('*')]
               .filter((el) => el.getBoundingClientRect().right > box.right + 0.5)
               .map((el) => el.textContent.trim());
           })"""
    )
    assert not overflowing, f"facts running past their cell into the next: {overflowing}"
    review = page.locator(".facts").filter(has_text="auto-approves").first
    deadline, clock = review.locator("dd").nth(1), review.locator("dd.clock")
    gap = clock.bounding_box()["x"] - (deadline.bounding_box()["x"] + deadline.bounding_box()["width"])
    assert gap >= 8, f"the deadline and the auto-approve date {gap:.1f} px apart"


def test_the_brief_and_progress_cards_have_a_gap_between_them(new_page, world):
    page = new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, world["buyer"])
    page.goto(world["closed"].get_absolute_url())
    brief = page.locator("section", has=page.locator("#brief-heading")).bounding_box()
    progress = page.locator("section", has=page.locator("#progress-heading")).bounding_box()
    assert progress["y"] - (brief["y"] + brief["height"]) >= 8


def test_the_inbox_list_has_no_bullets(new_page, world):
    page = new_page()
    log_in(page, world["buyer"])
    page.goto("/messages/")
    styles = page.evaluate(
        "[...document.querySelectorAll('.conversation-list > li')].map((li) => getComputedStyle(li).listStyleType)"
    )
    assert styles and set(styles) == {"none"}
