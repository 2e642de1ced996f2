"""Phones: every main page is laid out on first paint. Each page is loaded in Chromium as a phone
(390×844, touch) and the layout shifts it makes are summed with a PerformanceObserver, as Lighthouse's
cumulative layout shift does; the sum stays under 0.05. At 360 px nothing scrolls sideways, and the
action buttons are at least 44 px tall."""

from __future__ import annotations

import time

import pytest

from gigs.services import gig_update
from milestones.models import MilestoneState as S
from orders.models import OrderMessage
from tests.browser.conftest import log_in
from tests.factories import GigFactory, OrderFactory, UserFactory, milestone_in
from tests.pages import PACKAGES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
OBSERVE_SHIFTS = """
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (!entry.hadRecentInput) window.__shifts.push(entry.value);
  }
}).observe({type: "layout-shift", buffered: true});
"""


@pytest.fixture
def world():
    seller = UserFactory(username="sol_seller", bio="Apps, phase by phase.")
    buyer = UserFactory(username="ben_buyer")
    gig = GigFactory(seller=seller, title="I will build your shop app")
    # Packages side by side (one at a time here), extras and questions: the gig page and the editor in full.
    gig_update(gig=gig, actor=seller, title=gig.title, description=gig.description, category="other", packages=PACKAGES)
    order = OrderFactory(buyer=buyer, seller=seller, gig=gig, title="Shop app")
    for state, title in ((S.APPROVED, "Design"), (S.IN_REVIEW, "Backend"), (S.ACCEPTED, "Launch")):
        milestone_in(state, order=order, title=title, amount="250.00")
    OrderMessage.objects.create(order=order, author=buyer, body="Looking forward to it.")
    OrderMessage.objects.create(order=order, author=seller, body="Thanks, starting today.")
    return {"buyer": buyer, "seller": seller, "gig": gig, "order": order}


def _phone(browser, live_server, user=None, **size):
    context = browser.new_context(base_url=live_server.url, **{**PHONE, **size})
    context.set_default_timeout(10_000)
    context.add_init_script(OBSERVE_SHIFTS)
    page = context.new_page()

    # On a phone's network the page is drawn before its deferred script arrives: hold every script
    # back a moment, so whatever the script changes in the layout shows as a shift (as in Lighthouse).
    def late_script(route):
        time.sleep(0.6)
        route.continue_()

    page.route("**/*.js", late_script)
    if user is not None:
        log_in(page, user)
    return context, page


# After the load event (the held-back scripts have run by then): the fonts, then two frames drawn,
# then a moment for the observer's last entries, which the first page of a fresh context delivers
# late (a 300 px block a script inserts shows on every page with 0.4 s, not on the first with 0.1 s).
SETTLED = """
async () => {
  await document.fonts.ready;
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  await new Promise((done) => setTimeout(done, 400));
  return window.__shifts.reduce((a, b) => a + b, 0);
}
"""


def _shift(page, path: str) -> float:
    page.goto(path, wait_until="load")
    return float(page.evaluate(SETTLED))


def test_no_main_page_moves_after_it_is_drawn_on_a_phone(browser, live_server, world):
    shifts = {}
    context, page = _phone(browser, live_server)
    shifts["home"] = _shift(page, "/")
    shifts["gig"] = _shift(page, f"/gigs/{world['gig'].pk}/")
    shifts["profile"] = _shift(page, f"/users/{world['seller'].username}/")
    context.close()
    order = world["order"].get_absolute_url()
    for who, pages in (
        ("buyer", {"order as buyer": order, "buyer dashboard": "/dashboard/buying/", "inbox": "/messages/"}),
        ("seller", {"order as seller": order, "seller dashboard": "/dashboard/selling/", "earnings": "/earnings/",
                    "own profile": "/accounts/profile/", "new gig": "/gigs/new/",
                    "edit gig": f"/gigs/{world['gig'].pk}/edit/"}),
    ):  # fmt: skip
        context, page = _phone(browser, live_server, world[who])
        for name, path in pages.items():
            shifts[name] = _shift(page, path)
        context.close()
    moved = {name: round(value, 3) for name, value in shifts.items() if value >= 0.05}
    assert not moved, f"layout shift (sum) at 390×844: {moved}; all: {shifts}"


def test_at_360_px_nothing_scrolls_sideways_and_buttons_are_big_enough_to_tap(browser, live_server, world):
    context, page = _phone(browser, live_server, world["buyer"], viewport={"width": 360, "height": 740})
    for path in ("/", f"/gigs/{world['gig'].pk}/", world["order"].get_absolute_url(), "/accounts/profile/",
                 f"/orders/{world['order'].pk}/milestones/new/", "/gigs/new/"):  # fmt: skip
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 360 px"
        small = page.evaluate(
            """[...document.querySelectorAll('main button, main .btn, main input[type=submit], .site-header summary')]
                .filter((el) => el.offsetParent !== null)
                .map((el) => [el.textContent.trim().slice(0, 30), Math.round(el.getBoundingClientRect().height)])
                .filter(([, height]) => height < 44)"""
        )
        assert not small, f"{path}: tap targets under 44 px: {small}"
    context.close()


def test_the_menu_is_collapsed_from_the_first_paint_and_opens_by_touch(browser, live_server, world):
    context, page = _phone(browser, live_server, world["buyer"])
    page.goto("/")
    dashboard = page.get_by_role("link", name="Dashboard")
    assert not dashboard.is_visible(), "collapsed on a phone"
    page.get_by_text("Menu", exact=False).first.click()
    assert dashboard.is_visible()
    page.keyboard.press("Escape")
    assert not dashboard.is_visible()
    context.close()
    wide = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    page = wide.new_page()
    page.goto("/")
    assert page.get_by_role("link", name="Browse gigs").is_visible(), "laid out in the header on a wide screen"
    wide.close()
