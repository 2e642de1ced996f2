"""The cancellation form says what really happens (issue 32, item 6), in real Chromium: the buyer
of a 100.00 milestone in work types a half refund and sees, before sending, 52.75 back to them
(50.00 and half the 5.50 service fee) and 40.00 to the seller (50.00 less the 20% commission),
the figures the settlement then posts; they choose where their refund goes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from milestones.models import MilestoneState, Proposal
from tests.browser.conftest import log_in
from tests.factories import OrderFactory, UserFactory, milestone_in

S = MilestoneState
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_cancellation_form_shows_52_75_back_and_40_00_to_the_seller_for_half_of_100(page):
    order = OrderFactory(
        buyer=UserFactory(username="erin_buyer"), seller=UserFactory(username="fred_seller"), title="Online shop"
    )
    milestone = milestone_in(S.IN_PROGRESS, order=order, amount="100.00", title="Build")
    log_in(page, order.buyer)
    page.goto(order.get_absolute_url())
    page.locator(f"#milestone-{milestone.pk}").get_by_role("button", name="Request cancellation", exact=True).click()

    figures = page.locator("#live-figures")
    # Rendered with the page (no script needed): the refund left empty is all of it.
    expect(figures.locator("[data-buyer-receives]")).to_have_text("105.50\u00a0USD")
    expect(figures.locator("[data-seller-receives]")).to_have_text("0.00\u00a0USD")

    page.get_by_label("Refund to buyer").press_sequentially("50.00")
    expect(figures.locator("[data-buyer-receives]")).to_have_text("52.75\u00a0USD")
    expect(figures.locator("[data-seller-receives]")).to_have_text("40.00\u00a0USD")
    expect(figures).to_contain_text("50.00 USD and 2.75 USD of the service fee")
    expect(figures).to_contain_text("50.00 USD less the 10.00 USD fee")

    page.get_by_label("Refund to buyer").fill("150")
    expect(figures).to_contain_text("The refund must be between 0.00 USD and 100.00 USD")

    page.get_by_label("Refund to buyer").fill("50.00")
    expect(figures.locator("[data-buyer-receives]")).to_have_text("52.75\u00a0USD")
    page.get_by_label("The card I paid with").check()
    page.get_by_label("Reason").fill("The launch was postponed.")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_text("You asked to cancel")).to_be_visible()
    proposal = Proposal.objects.get(milestone=milestone, kind="cancellation")
    assert proposal.refund_amount.amount == 50 and proposal.refund_to == "card"
