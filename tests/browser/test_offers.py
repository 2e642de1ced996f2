"""Agreeing on terms in real Chromium, by the labels people see: the seller
offers an add-on after the first milestone is approved and the buyer accepts
and pays it on the provider's page; the seller proposes a higher amount and
the buyer accepts, charged the difference; a cancellation request left
unanswered is accepted by the timer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from djmoney.money import Money
from playwright.sync_api import expect

from milestones import services
from milestones.models import Milestone, MilestoneState
from milestones.sweeps import sweep_proposals
from tests.browser.conftest import log_in
from tests.browser.test_lifecycle import click_in, milestone_box
from tests.factories import OrderFactory, UserFactory, milestone_in

S = MilestoneState
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def order():
    return OrderFactory(
        buyer=UserFactory(username="alice_buyer"), seller=UserFactory(username="bob_seller"), title="Shop redesign"
    )


def test_the_seller_offers_an_add_on_and_the_buyer_accepts_and_pays_by_card(new_page, order):
    milestone_in(S.APPROVED, order=order, title="Design")
    seller_page, buyer_page = new_page(), new_page()
    log_in(seller_page, order.seller)
    log_in(buyer_page, order.buyer)

    seller_page.goto(order.get_absolute_url())
    seller_page.get_by_role("button", name="Propose a milestone").click()
    seller_page.get_by_label("Title").fill("SEO audit")
    seller_page.get_by_label("Description").fill("An audit of every page, with a list of fixes.")
    deadline = timezone.localtime() + timedelta(days=14)
    seller_page.get_by_label("Deadline").fill(deadline.strftime("%Y-%m-%dT%H:%M"))
    seller_page.get_by_label("Amount").fill("120.00")
    seller_page.get_by_role("button", name="Send offer").click()
    expect(seller_page.get_by_text("Your offer “SEO audit” is sent")).to_be_visible()
    offer = Milestone.objects.get(order=order, title="SEO audit")
    assert offer.state == S.OFFERED

    buyer_page.goto(order.get_absolute_url())
    expect(milestone_box(buyer_page, offer)).to_contain_text("Offer from bob_seller")
    expect(milestone_box(buyer_page, offer).get_by_role("button", name="Decline offer")).to_be_visible()
    click_in(buyer_page, offer, "Accept and pay")
    expect(buyer_page.get_by_role("heading", level=1)).to_have_text("Accept and pay")
    expect(buyer_page.get_by_role("note")).to_contain_text("is charged now")
    buyer_page.get_by_label("Card, on the payment provider's page").check()
    buyer_page.get_by_role("button", name="Confirm").click()
    expect(buyer_page.get_by_text("Sandbox checkout")).to_be_visible()
    buyer_page.get_by_label("Card number").fill("4242 4242 4242 4242")
    buyer_page.get_by_role("button", name="Pay", exact=True).click()
    # Back on the order: the seller proposed it, so it starts without another acceptance.
    expect(milestone_box(buyer_page, offer)).to_have_attribute("data-milestone-state", S.IN_PROGRESS)
    seller_page.goto(order.get_absolute_url())
    expect(milestone_box(seller_page, offer).get_by_role("button", name="Submit for Review")).to_be_visible()


def test_the_seller_proposes_a_higher_amount_and_the_buyer_accepts_and_pays_the_difference(new_page, order):
    milestone_in(S.CANCELLED, order=OrderFactory(buyer=order.buyer), amount="200.00")  # 211.00 USD on the balance
    milestone = milestone_in(S.AWAITING_ACCEPTANCE, order=order, amount="100.00")
    seller_page, buyer_page = new_page(), new_page()
    log_in(seller_page, order.seller)
    log_in(buyer_page, order.buyer)

    seller_page.goto(order.get_absolute_url())
    click_in(seller_page, milestone, "Propose changes")
    expect(seller_page.get_by_label("Amount")).to_have_value("100.00")
    seller_page.get_by_label("Amount").fill("150.00")
    seller_page.get_by_role("button", name="Send proposal").click()
    expect(seller_page.get_by_text("You proposed changes")).to_be_visible()

    buyer_page.goto(order.get_absolute_url())
    expect(milestone_box(buyer_page, milestone)).to_contain_text("Amount 100.00 USD → 150.00 USD")
    expect(milestone_box(buyer_page, milestone).get_by_role("button", name="Decline changes")).to_be_visible()
    click_in(buyer_page, milestone, "Accept changes")
    expect(buyer_page.get_by_role("note")).to_contain_text("52.75 USD more is charged now")
    buyer_page.get_by_label("My site balance").check()
    buyer_page.get_by_role("button", name="Confirm").click()
    expect(buyer_page.get_by_text("You accepted the changes")).to_be_visible()
    expect(milestone_box(buyer_page, milestone)).to_contain_text("150.00 USD")
    buyer_page.goto("/earnings/")
    # 211.00 less the difference (50.00) and its service fee (2.75).
    expect(buyer_page.locator(".balance").filter(has_text="balance as a buyer")).to_contain_text("158.25 USD")


def test_a_cancellation_left_unanswered_is_accepted_by_the_timer(new_page, order):
    milestone = milestone_in(S.IN_PROGRESS, order=order, amount="100.00")
    buyer_page = new_page()
    log_in(buyer_page, order.buyer)
    buyer_page.goto(order.get_absolute_url())
    click_in(buyer_page, milestone, "Request cancellation")
    buyer_page.get_by_label("Refund to buyer").fill("100.00")
    buyer_page.get_by_label("Reason").fill("We cancelled the launch.")
    buyer_page.get_by_role("button", name="Send request").click()
    expect(milestone_box(buyer_page, milestone)).to_contain_text("Unanswered, it is accepted on")

    # The seller stays silent past the response period; the sweep runs as beat would.
    later = timezone.now() + settings.CANCELLATION_RESPONSE_PERIOD + timedelta(minutes=1)
    assert sweep_proposals(now=later).done >= 1
    buyer_page.reload()
    expect(milestone_box(buyer_page, milestone)).to_have_attribute("data-milestone-state", S.CANCELLED)
    expect(buyer_page.locator("#messages")).to_contain_text("automatically: the request was not answered in time")
    assert services.escrow_balance(milestone) == Money("0.00", "USD")
