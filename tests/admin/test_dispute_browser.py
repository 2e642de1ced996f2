"""A dispute from end to end in Chromium: the buyer opens it on the order
page, staff split it in the admin, both parties see the money."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from milestones.models import Dispute, DisputeState
from milestones.models import MilestoneState as S
from tests.factories import OrderFactory, StaffFactory, UserFactory, milestone_in, totp_code

PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's


@pytest.fixture
def chromium(browser, live_server):
    """The run's Chromium (tests/chromium.py); this test's contexts are closed when it ends."""
    yield browser
    for context in browser.contexts:
        for page in context.pages:
            page.wait_for_load_state("load")  # nothing in flight when the database is flushed
        context.close()


def logged_in(browser: Browser, base: str, username: str, login_path: str) -> Page:
    page = browser.new_context(base_url=base).new_page()
    page.set_default_timeout(15_000)
    page.goto(login_path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    expect(page.get_by_label("Password")).to_have_count(0)
    if page.get_by_label("Authenticator code").count():
        # Staff are enrolled in two-factor: the code their app shows now.
        page.get_by_label("Authenticator code").fill(totp_code())
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_label("Authenticator code")).to_have_count(0)
    return page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_buyer_disputes_staff_split_it_in_the_admin_and_both_parties_see_the_money(chromium, live_server):
    buyer, seller = UserFactory(username="bea_buyer"), UserFactory(username="sid_seller")
    staff = StaffFactory(username="stella_staff")
    order = OrderFactory(buyer=buyer, seller=seller, title="Shop redesign")
    milestone = milestone_in(S.IN_PROGRESS, order=order, amount="100.00", title="Wireframes")
    base = live_server.url

    # The buyer opens the dispute from the order page.
    page = logged_in(chromium, base, buyer.username, "/accounts/login/")
    page.goto(f"/orders/{order.pk}/")
    page.get_by_role("button", name="Open dispute").first.click()
    page.get_by_label("Reason").fill("Only half of the screens were delivered.")
    page.get_by_role("button", name="Open dispute").click()
    page.wait_for_load_state()
    expect(page.get_by_text("Only half of the screens were delivered.").first).to_be_visible()
    dispute = Dispute.objects.get(milestone=milestone)
    assert dispute.state == DisputeState.OPEN

    # Staff find it in the queue and split it.
    admin = logged_in(chromium, base, staff.username, "/admin/login/")
    admin.goto("/admin/milestones/dispute/")
    admin.get_by_role("link", name="Shop redesign").click()
    expect(admin.get_by_text("Only half of the screens were delivered.").first).to_be_visible()
    admin.get_by_label("Amount to seller").fill("30.00")
    admin.get_by_role("button", name="Split", exact=True).click()
    settlement = admin.locator("#settlement")
    expect(settlement).to_contain_text("24.00")  # the seller's net, after the 6.00 fee
    expect(settlement).to_contain_text("6.00")
    expect(settlement).to_contain_text("70.00")  # back to the buyer
    admin.get_by_label("Note to both parties").fill("Half the screens were delivered; half the money.")
    admin.get_by_role("button", name="Confirm: Split").click()
    expect(admin.get_by_text("Dispute resolved.")).to_be_visible()
    dispute.refresh_from_db()
    assert (dispute.state, dispute.outcome) == (DisputeState.RESOLVED, "split")

    # The seller's earnings show 24.00 pending; the buyer's balance shows 70.00 and 70% of the 5.50 fee.
    seller_page = logged_in(chromium, base, seller.username, "/accounts/login/")
    seller_page.goto("/earnings/")
    pending = seller_page.locator(".balance", has_text="Pending clearance")
    expect(pending).to_contain_text("24.00 USD")
    page.goto("/earnings/")
    buyer_balance = page.locator(".balance", has_text="balance as a buyer")
    expect(buyer_balance).to_contain_text("73.85 USD")
    page.goto(f"/orders/{order.pk}/")
    outcome = page.locator(f"#milestone-{milestone.pk} .dispute")
    expect(outcome).to_contain_text("Split")
    expect(outcome).to_contain_text("30.00 USD to the seller")
    expect(outcome).to_contain_text("70.00 USD to the buyer")
    page.wait_for_load_state("networkidle")
