"""Conversation in real Chromium, by labels: a buyer contacts a seller from a
gig page, the seller answers, an attachment is downloaded by the other party
and refused to an outsider; and on an order page open in two browsers, what
one party does appears on the other's page without a reload."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.factories import GigFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_a_buyer_contacts_a_seller_who_answers_and_the_file_reaches_only_them(new_page, tmp_path):
    seller = UserFactory(username="sara_seller")
    gig = GigFactory(seller=seller, title="Brand identity")
    buyer = UserFactory(username="ben_buyer")
    outsider = UserFactory(username="eve_outsider")
    buyer_page, seller_page, outsider_page = new_page(), new_page(), new_page()
    for page, user in ((buyer_page, buyer), (seller_page, seller), (outsider_page, outsider)):
        log_in(page, user)

    buyer_page.goto(f"/gigs/{gig.pk}/")
    buyer_page.get_by_role("button", name="Contact seller").click()
    # The first message opens the conversation: an empty one is refused and nothing is made.
    expect(buyer_page.get_by_role("heading", name="Contact sara_seller")).to_be_visible()
    buyer_page.get_by_role("button", name="Send").click()
    expect(buyer_page.locator(".field-error")).to_contain_text("This field is required.")
    brief = tmp_path / "brief.pdf"
    brief.write_bytes(PDF)
    buyer_page.get_by_role("textbox", name="Message").fill("Before I order: could the logo work in one colour?")
    buyer_page.get_by_label("Attach files").set_input_files(str(brief))
    buyer_page.get_by_role("button", name="Send").click()
    expect(buyer_page.get_by_role("heading", name="About “Brand identity”")).to_be_visible()
    expect(buyer_page.locator(".timeline")).to_contain_text("could the logo work in one colour?")
    conversation = buyer_page.url.split("#")[0]

    # The seller sees it in the header and the inbox, and answers.
    seller_page.goto("/")
    messages_link = seller_page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("^Messages"))
    expect(messages_link).to_contain_text("1")
    messages_link.click()
    seller_page.get_by_role("link", name="About “Brand identity”").click()
    with seller_page.expect_download() as download:
        seller_page.get_by_role("link", name="brief.pdf").click()
    assert Path(download.value.path()).read_bytes() == PDF
    seller_page.get_by_role("textbox", name="Message").fill("Yes: a one-colour version is part of the package.")
    seller_page.get_by_role("button", name="Send").click()
    expect(seller_page.locator(".timeline")).to_contain_text("one-colour version")

    buyer_page.goto(conversation)
    expect(buyer_page.locator(".timeline")).to_contain_text("Yes: a one-colour version is part of the package.")

    # Someone else gets nothing: not the conversation, not the file.
    file_url = seller_page.get_by_role("link", name="brief.pdf").get_attribute("href")
    assert outsider_page.goto(conversation).status == 404
    assert outsider_page.goto(file_url).status == 404


def test_the_sellers_submission_appears_on_the_buyers_page_without_a_reload(new_page):
    from milestones.models import MilestoneState
    from tests.factories import OrderFactory, milestone_in

    order = OrderFactory(buyer=UserFactory(username="lia_buyer"), seller=UserFactory(username="max_seller"))
    milestone = milestone_in(MilestoneState.IN_PROGRESS, order=order, title="Wireframes")
    buyer_page, seller_page = new_page(), new_page()
    log_in(buyer_page, order.buyer)
    log_in(seller_page, order.seller)
    # The buyer's page polls every 5 s: on a clock the test moves on, so the next poll comes when
    # the test says, not 5 s later (time still runs by itself, and the polls after it as usual).
    buyer_page.clock.install()
    buyer_page.goto(order.get_absolute_url())
    box = buyer_page.locator(f"#milestone-{milestone.pk}")
    expect(box).to_have_attribute("data-milestone-state", "in_progress")
    buyer_page.evaluate("window.__notReloaded = true")

    seller_page.goto(order.get_absolute_url())
    seller_page.locator(f"#milestone-{milestone.pk}").get_by_role("button", name="Submit for review").click()
    seller_page.get_by_role("textbox", name="Message").fill("All screens are in the Figma file.")
    seller_page.get_by_label("Links").fill("https://www.figma.com/file/wireframes")
    seller_page.get_by_role("button", name="Submit for review").click()
    expect(seller_page.locator(f"#milestone-{milestone.pk}")).to_have_attribute("data-milestone-state", "in_review")

    # The buyer's page, left open, shows it by itself at its next poll: the state, the buttons, the timeline.
    buyer_page.clock.fast_forward(5_000)
    expect(box).to_have_attribute("data-milestone-state", "in_review", timeout=15_000)
    expect(buyer_page.locator(f"#milestone-{milestone.pk}").get_by_role("button", name="Approve")).to_be_visible()
    expect(buyer_page.locator("#order-timeline")).to_contain_text(f"submitted “{milestone.title}” for review")
    assert buyer_page.evaluate("window.__notReloaded") is True, "updated in place, not reloaded"

    # A message from the seller appears too.
    seller_page.get_by_role("textbox", name="Message").fill("Let me know what you think.")
    seller_page.get_by_role("button", name="Send").click()
    expect(seller_page.locator("#order-timeline")).to_contain_text("Let me know what you think.")
    buyer_page.clock.fast_forward(5_000)
    expect(buyer_page.locator("#order-timeline")).to_contain_text("Let me know what you think.", timeout=15_000)
    assert buyer_page.evaluate("window.__notReloaded") is True


def test_a_pasted_message_over_the_limit_is_refused_and_comes_back_whole(page):
    """Issue 34: the box cut a longer paste at 5,000 characters without a word, and a refused
    message lost its text. Now the whole text comes back with the count, to be shortened."""
    gig = GigFactory(seller=UserFactory(username="sara_seller"), title="Brand identity")
    buyer = UserFactory(username="ben_buyer")
    log_in(page, buyer)
    long = ("A question about the scope of the work. " * 20 + "\n") * 7 + "THE END"
    page.goto(f"/gigs/{gig.pk}/")
    page.get_by_role("button", name="Contact seller").click()
    box = page.get_by_role("textbox", name="Message")
    box.fill(long)
    assert box.input_value() == long, "the box takes the whole paste"
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".field-error")).to_contain_text("at most 5000 characters (it has 5614)")
    assert page.get_by_role("textbox", name="Message").input_value() == long
    page.get_by_role("textbox", name="Message").fill("Short and to the point: can you start Monday?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".timeline")).to_contain_text("can you start Monday?")
