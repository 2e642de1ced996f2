"""Buyer requests in real Chromium, driven by the labels of issue 36: a buyer posts a request; two
sellers send proposals (one with a second step through the no-JS "Add step"); the buyer hires the
second and pays its first step by card on the sandbox's page; the order shows the proposed steps;
the other seller sees their proposal declined. A request posted with a file, downloaded by a seller,
then withdrawn by its buyer."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from djmoney.money import Money
from playwright.sync_api import expect

from milestones.models import Milestone, MilestoneState
from orders.models import Order
from requests_board.models import BuyerRequest
from tests.browser.conftest import log_in
from tests.factories import UserFactory

S = MilestoneState
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_step(page, number: int, title: str, deliverables: str, days: str, price: str) -> None:
    step = page.get_by_role("group", name=f"Step {number}")
    step.get_by_label("Step title").fill(title)
    step.get_by_label("Deliverables").fill(deliverables)
    step.get_by_label("Days").fill(days)
    step.get_by_label("Price").fill(price)


def test_post_propose_hire_the_second_and_pay_by_card(new_page, live_server):
    buyer = UserFactory(username="alice_buyer")
    first_seller, second_seller = UserFactory(username="bob_seller"), UserFactory(username="cat_seller")
    buyer_page, bob, cat = new_page(), new_page(), new_page()
    for page, user in ((buyer_page, buyer), (bob, first_seller), (cat, second_seller)):
        log_in(page, user)

    buyer_page.goto(reverse("home"))
    buyer_page.get_by_role("link", name="Requests", exact=True).first.click()
    buyer_page.get_by_role("link", name="Post a request").click()
    buyer_page.get_by_label("Title").fill("Labels for jam jars")
    buyer_page.get_by_label("Description").fill("Three flavours, one style.")
    buyer_page.get_by_label("Category").select_option(label="Design")
    buyer_page.get_by_label("Budget").fill("400")
    buyer_page.get_by_label("Currency").select_option("USD")
    buyer_page.get_by_role("button", name="Post a request").click()
    expect(buyer_page.get_by_role("heading", level=1)).to_have_text("Labels for jam jars")
    wanted = BuyerRequest.objects.get()

    bob.goto(reverse("request_list"))
    bob.get_by_role("link", name="Labels for jam jars").click()
    bob.get_by_label("Message").fill("Bob's plan.")
    fill_step(bob, 1, "All labels", "Three labels", "4", "300")
    bob.get_by_role("button", name="Send a proposal").click()
    expect(bob.get_by_role("heading", name="Your proposal", exact=True)).to_be_visible()

    cat.goto(wanted.get_absolute_url())
    expect(cat.get_by_text("Bob's plan.")).to_have_count(0)
    cat.get_by_label("Message").fill("Cat's plan.")
    fill_step(cat, 1, "Sketches", "Three sketches", "2", "120")
    cat.get_by_role("button", name="Add step").click()
    fill_step(cat, 2, "Final labels", "Print-ready files", "5", "230")
    cat.get_by_role("button", name="Send a proposal").click()
    expect(cat.get_by_role("heading", name="Your proposal", exact=True)).to_be_visible()

    buyer_page.goto(wanted.get_absolute_url())
    cards = buyer_page.locator("article.proposal")
    expect(cards).to_have_count(2)
    cards.filter(has_text="cat_seller").get_by_role("link", name="Hire").click()
    expect(buyer_page.get_by_role("heading", level=1)).to_have_text("Hire cat_seller")
    buyer_page.get_by_role("button", name="Hire").click()
    expect(buyer_page.get_by_text("Sandbox checkout")).to_be_visible()
    buyer_page.get_by_label("Card number").fill("4242 4242 4242 4242")
    buyer_page.get_by_role("button", name="Pay", exact=True).click()

    order = Order.objects.get(buyer=buyer)
    assert order.seller == second_seller
    first, second = Milestone.objects.filter(order=order).order_by("position")
    buyer_page.goto(order.get_absolute_url())
    expect(buyer_page.locator(f"#milestone-{first.pk}")).to_have_attribute(
        "data-milestone-state", S.AWAITING_ACCEPTANCE
    )
    expect(buyer_page.locator(f"#milestone-{second.pk}")).to_contain_text("Final labels")
    expect(buyer_page.locator(f"#milestone-{second.pk}")).to_contain_text("Planned")

    bob.goto(wanted.get_absolute_url())
    expect(bob.get_by_text("Declined")).to_be_visible()
    expect(bob.get_by_role("button", name="Send a proposal")).to_have_count(0)


def test_post_with_a_file_a_seller_downloads_it_then_the_buyer_withdraws(new_page, live_server, tmp_path):
    """A buyer posts a request with a file; a seller downloads it from the request's page and sends a
    proposal; the buyer reads the warning, presses "Withdraw request" and is told; the seller's
    proposal is declined and the button is gone."""
    from gigs.packages import StepInput
    from requests_board.services import ProposalInput, proposal_send

    buyer, seller = UserFactory(username="dora_buyer"), UserFactory(username="eli_seller")
    buyer_page, eli = new_page(), new_page()
    for page, user in ((buyer_page, buyer), (eli, seller)):
        log_in(page, user)
    brief = tmp_path / "flavours.txt"
    brief.write_bytes(b"Plum, fig, quince.")

    buyer_page.goto(reverse("request_new"))
    buyer_page.get_by_label("Title").fill("Labels for jam jars")
    buyer_page.get_by_label("Description").fill("Three flavours, one style.")
    buyer_page.get_by_label("Category").select_option(label="Design")
    buyer_page.get_by_label("Budget").fill("400")
    buyer_page.get_by_label("Files").set_input_files(str(brief))
    buyer_page.get_by_role("button", name="Post a request").click()
    expect(buyer_page.get_by_role("heading", level=1)).to_have_text("Labels for jam jars")
    expect(buyer_page.get_by_role("link", name="flavours.txt")).to_be_visible()
    wanted = BuyerRequest.objects.get()

    eli.goto(wanted.get_absolute_url())
    with eli.expect_download() as download:
        eli.get_by_role("link", name="flavours.txt").click()
    assert download.value.suggested_filename == "flavours.txt"
    assert Path(download.value.path()).read_bytes() == b"Plum, fig, quince."
    steps = (StepInput(title="All labels", deliverables="Three labels", days=4, price=Money("300", "USD")),)
    proposal_send(seller=seller, buyer_request=wanted, data=ProposalInput(message="Eli's plan.", steps=steps))

    buyer_page.reload()
    expect(buyer_page.get_by_role("note")).to_contain_text("the pending proposal is declined (its seller is told)")
    buyer_page.get_by_role("button", name="Withdraw request").click()
    expect(buyer_page.get_by_text("Your request is withdrawn")).to_be_visible()
    expect(buyer_page.get_by_role("button", name="Withdraw request")).to_have_count(0)
    wanted.refresh_from_db()
    assert wanted.state == "withdrawn"

    eli.goto(wanted.get_absolute_url())
    expect(eli.get_by_text("Declined")).to_be_visible()
    expect(eli.get_by_role("button", name="Send a proposal")).to_have_count(0)
