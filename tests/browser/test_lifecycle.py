"""A buyer and a seller take an order through its whole life in real Chromium,
by labels and button names as people would, paying on the sandbox provider's
hosted checkout; plus a declined card and an outsider who guesses URLs.

Every request the browser sends is recorded: a card number may appear in the
body of requests to the provider's pages under ``/sandbox/`` only, never in
one to the marketplace's own URLs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import expect

from milestones.models import DeliveryFile, Milestone, MilestoneState
from milestones.services.lifecycle import milestone_submit
from tests.browser.conftest import log_in
from tests.factories import OrderFactory, UserFactory, milestone_in

S = MilestoneState
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def order():
    return OrderFactory(
        buyer=UserFactory(username="alice_buyer"), seller=UserFactory(username="bob_seller"), title="Shop redesign"
    )


CARD_DIGITS = re.compile(r"(?:\d[ +%20-]*){13,19}")


@pytest.fixture
def requests_seen():
    return []


def record_requests(page, seen: list) -> None:
    page.on("request", lambda request: seen.append((request.url, request.post_data or "")))


def assert_no_card_number_reached_the_marketplace(seen: list, live_server_url: str) -> None:
    posted = [(url, body) for url, body in seen if url.startswith(live_server_url) and body]
    to_sandbox = [body for url, body in posted if url.startswith(f"{live_server_url}/sandbox/")]
    assert any("card_number=4242" in body for body in to_sandbox), "the card went to the provider's page"
    for url, body in posted:
        if url.startswith(f"{live_server_url}/sandbox/"):
            continue
        assert "card_number" not in body and not CARD_DIGITS.search(body.replace("csrfmiddlewaretoken", "")), (
            f"a card number in a request to {url}: {body[:200]}"
        )


def create_and_fund(page, order, *, title: str, amount: str, card: str = "4242 4242 4242 4242") -> None:
    page.goto(order.get_absolute_url())
    page.get_by_role("button", name="Create milestone").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill(f"{title}: every screen, responsive.")
    deadline = timezone.localtime() + timedelta(days=10)
    page.get_by_label("Deadline").fill(deadline.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Amount").fill(amount)
    page.get_by_role("button", name="Create milestone").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    page.get_by_role("button", name="Pay by card").click()
    # The provider's hosted page.
    expect(page.get_by_text("Sandbox checkout")).to_be_visible()
    assert "/sandbox/checkout/" in page.url
    page.get_by_label("Card number").fill(card)
    page.get_by_role("button", name="Pay", exact=True).click()


def milestone_box(page, milestone):
    return page.locator(f"#milestone-{milestone.pk}")


def click_in(page, milestone, button: str) -> None:
    milestone_box(page, milestone).get_by_role("button", name=button, exact=True).click()


def test_full_lifecycle(new_page, order, live_server, requests_seen):
    buyer_page, seller_page = new_page(), new_page()
    record_requests(buyer_page, requests_seen)
    log_in(buyer_page, order.buyer)
    log_in(seller_page, order.seller)

    create_and_fund(buyer_page, order, title="Wireframes", amount="300.00")
    expect(buyer_page.get_by_text("“Wireframes” is funded")).to_be_visible()
    create_and_fund(buyer_page, order, title="Build", amount="700.00")
    first, second = Milestone.objects.filter(order=order).order_by("position")
    expect(milestone_box(buyer_page, second)).to_have_attribute("data-milestone-state", S.AWAITING_ACCEPTANCE)

    seller_page.goto(order.get_absolute_url())
    click_in(seller_page, first, "Accept")
    expect(milestone_box(seller_page, first)).to_have_attribute("data-milestone-state", S.IN_PROGRESS)
    click_in(seller_page, second, "Accept")
    expect(milestone_box(seller_page, second)).to_have_attribute("data-milestone-state", S.ACCEPTED)

    click_in(seller_page, first, "Submit for review")
    seller_page.get_by_label("Message").fill("First wireframes attached.")
    seller_page.get_by_label("Files").set_input_files(
        [{"name": "wireframes.txt", "mimeType": "text/plain", "buffer": b"home, cart, checkout\n"}]
    )
    seller_page.get_by_label("Links").fill("https://example.com/figma")
    seller_page.get_by_role("button", name="Submit for review").click()
    expect(milestone_box(seller_page, first)).to_have_attribute("data-milestone-state", S.IN_REVIEW)
    expect(milestone_box(seller_page, first).get_by_role("link", name="wireframes.txt")).to_be_visible()

    buyer_page.goto(order.get_absolute_url())
    expect(milestone_box(buyer_page, first)).to_contain_text("if you do nothing")
    click_in(buyer_page, first, "Request revision")
    buyer_page.get_by_label("Feedback").fill("Add a wishlist screen.")
    buyer_page.get_by_role("button", name="Request revision").click()
    expect(milestone_box(buyer_page, first)).to_have_attribute("data-milestone-state", S.REVISION_REQUESTED)

    seller_page.goto(order.get_absolute_url())
    expect(milestone_box(seller_page, first)).to_contain_text("Add a wishlist screen.")
    click_in(seller_page, first, "Submit for review")
    seller_page.get_by_label("Message").fill("Wishlist added.")
    seller_page.get_by_role("button", name="Submit for review").click()
    expect(milestone_box(seller_page, first)).to_have_attribute("data-milestone-state", S.IN_REVIEW)

    buyer_page.goto(order.get_absolute_url())
    click_in(buyer_page, first, "Approve")
    # Money moves only after the page that says where it goes.
    expect(buyer_page.get_by_role("note")).to_contain_text("is released to bob_seller now; bob_seller receives")
    expect(buyer_page.get_by_role("note")).to_contain_text("This cannot be undone.")
    buyer_page.get_by_role("button", name="Confirm").click()
    expect(milestone_box(buyer_page, first)).to_have_attribute("data-milestone-state", S.APPROVED)
    # The next phase starts by itself.
    expect(milestone_box(buyer_page, second)).to_have_attribute("data-milestone-state", S.IN_PROGRESS)
    expect(buyer_page.get_by_text("1 of 2 milestones approved")).to_be_visible()

    seller_page.goto(order.get_absolute_url())
    expect(milestone_box(seller_page, first)).to_contain_text(re.compile(r"clears on \d{1,2} \w{3}"))
    seller_page.goto("/earnings/")
    earning = Milestone.objects.get(pk=first.pk).earning
    clearing = seller_page.get_by_role("table").filter(has=seller_page.get_by_role("columnheader", name="Clears"))
    row = clearing.get_by_role("row").filter(has=seller_page.get_by_role("link", name="Wireframes"))
    expect(row).to_contain_text(f"{earning.net.amount:,.2f}")
    expect(row.locator("time")).to_have_attribute("datetime", re.compile(earning.clears_at.strftime("^%Y-%m-%d")))
    assert_no_card_number_reached_the_marketplace(requests_seen, live_server.url)


def test_a_declined_card_stays_on_the_providers_page_and_funds_nothing(page, order):
    log_in(page, order.buyer)
    create_and_fund(page, order, title="Logo", amount="50.00", card="4000 0000 0000 0002")
    expect(page.get_by_text("Your card was declined.", exact=True)).to_be_visible()
    expect(page.get_by_label("Card number")).to_be_visible()
    milestone = Milestone.objects.get(order=order)
    assert milestone.state == S.AWAITING_PAYMENT and not milestone.ledger_transactions.exists()
    # Leaving the provider's page: back on the order, unpaid, with "Pay now".
    page.get_by_role("link", name="Cancel and return").click()
    expect(page.get_by_text("nothing was charged")).to_be_visible()
    expect(milestone_box(page, milestone)).to_have_attribute("data-milestone-state", S.AWAITING_PAYMENT)
    milestone_box(page, milestone).get_by_role("button", name="Pay now").click()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_text("“Logo” is funded")).to_be_visible()
    expect(milestone_box(page, milestone)).to_have_attribute("data-milestone-state", S.AWAITING_ACCEPTANCE)


def test_an_outsider_gets_404_for_the_order_and_its_files(page, order):
    milestone = milestone_in(S.IN_PROGRESS, order=order)
    milestone_submit(milestone=milestone, actor=order.seller, files=[SimpleUploadedFile("secret.txt", b"top secret\n")])
    item = DeliveryFile.objects.get(delivery__milestone=milestone)
    log_in(page, UserFactory(username="eve_outsider"))
    assert page.goto(order.get_absolute_url()).status == 404
    assert page.goto(f"/deliverables/{item.pk}/").status == 404
    expect(page.locator("body")).not_to_contain_text("top secret")
