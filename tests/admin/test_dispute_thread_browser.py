"""Issue 34, in Chromium: staff and both parties write to each other in a dispute, then staff
resolve it by percentage; everyone reads the thread and the outcome."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from milestones.models import Dispute, DisputeState
from milestones.models import MilestoneState as S
from milestones.services.disputes import milestone_open_dispute
from tests.admin.test_dispute_browser import chromium, logged_in  # noqa: F401  (the fixture)
from tests.factories import OrderFactory, StaffFactory, UserFactory, milestone_in


def answer_on_the_order_page(page, order, body: str) -> None:
    page.goto(f"/orders/{order.pk}/")
    page.get_by_role("button", name="Add to dispute").first.click()
    page.get_by_label("Your side").fill(body)
    page.get_by_role("button", name="Add to dispute").click()
    page.wait_for_load_state()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_and_both_parties_exchange_messages_and_staff_resolve_by_percentage(chromium, live_server):  # noqa: F811
    buyer, seller = UserFactory(username="bo_buyer"), UserFactory(username="sal_seller")
    staff = StaffFactory(username="stan_staff")
    order = OrderFactory(buyer=buyer, seller=seller, title="Bakery site")
    milestone = milestone_in(S.IN_PROGRESS, order=order, amount="100.00", title="Menu pages")
    milestone_open_dispute(milestone=milestone, actor=buyer, reason="The menu pages are missing.")
    dispute = Dispute.objects.get(milestone=milestone)
    base = live_server.url

    # Staff see it first on the admin home, open it and ask a question in its thread.
    admin = logged_in(chromium, base, staff.username, "/admin/login/")
    admin.goto("/admin/")
    queue = admin.locator("#open-disputes")
    expect(queue).to_contain_text("Bakery site")
    queue.get_by_role("link", name="Bakery site").click()
    admin.get_by_label("Message to both parties").fill("Seller: how many menu pages are done?")
    admin.get_by_role("button", name="Send message").click()
    expect(admin.get_by_text("Message sent; both parties have been told.")).to_be_visible()

    # The seller reads it on the order page and answers; so does the buyer.
    seller_page = logged_in(chromium, base, seller.username, "/accounts/login/")
    seller_page.goto(f"/orders/{order.pk}/")
    expect(seller_page.locator(".dispute")).to_contain_text("how many menu pages are done?")
    answer_on_the_order_page(seller_page, order, "Two of the five pages are done.")
    buyer_page = logged_in(chromium, base, buyer.username, "/accounts/login/")
    answer_on_the_order_page(buyer_page, order, "Agreed, two of five.")
    expect(buyer_page.locator(".dispute")).to_contain_text("Two of the five pages are done.")

    # Staff read both answers and split 40% to the seller.
    admin.reload()
    thread = admin.locator("#dispute-statements")
    expect(thread).to_contain_text("Two of the five pages are done.")
    expect(thread).to_contain_text("Agreed, two of five.")
    admin.get_by_label("Amount to seller").fill("40%")
    admin.get_by_role("button", name="Split", exact=True).click()
    settlement = admin.locator("#settlement")
    expect(settlement).to_contain_text("40% of 100.00")
    expect(settlement).to_contain_text("60.00")  # the buyer's part
    admin.get_by_label("Note to both parties").fill("Two of five pages: 40%.")
    admin.get_by_role("button", name="Confirm: Split").click()
    expect(admin.get_by_text("Dispute resolved.")).to_be_visible()
    dispute.refresh_from_db()
    assert (dispute.state, dispute.outcome) == (DisputeState.RESOLVED, "split")

    seller_page.goto(f"/orders/{order.pk}/")
    outcome = seller_page.locator(f"#milestone-{milestone.pk} .dispute")
    expect(outcome).to_contain_text("40.00 USD to the seller")
    expect(outcome).to_contain_text("60.00 USD to the buyer")
    expect(outcome).to_contain_text("how many menu pages are done?")
    seller_page.wait_for_load_state("networkidle")
