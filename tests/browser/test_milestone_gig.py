"""A milestone gig from end to end in real Chromium, by the labels people see (issue 35): a seller
creates a gig with two packages, the second of three steps with 1 revision on the first, an extra
and one required question; a buyer orders the second package with the extra, answers the question
and pays the first step by card; the seller accepts; the first step is delivered and revised once,
then "Buy a revision" is offered instead of "Request revision"; the buyer approves, presses
"Continue to next milestone" and pays; after the second step the buyer presses "Stop the order
here" and the steps left are cancelled with no money moved.

Amounts: the buyer's service fee is 5.5%, so the first step (200.00) costs 211.00."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from milestones.models import Milestone, MilestoneState
from orders.models import Order, RequirementAnswer
from payments.ledger import escrow_balance
from payments.models import Transaction
from tests.browser.conftest import log_in
from tests.browser.test_gig_editor import create_gig
from tests.factories import UserFactory

S = MilestoneState
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def box(page, milestone):
    return page.locator(f"#milestone-{milestone.pk}")


def click_in(page, milestone, button: str) -> None:
    box(page, milestone).get_by_role("button", name=button, exact=True).click()


def pay_by_card(page) -> None:
    expect(page.get_by_text("Sandbox checkout")).to_be_visible()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Pay", exact=True).click()


def submit(page, order, milestone, message: str) -> None:
    page.goto(order.get_absolute_url())
    click_in(page, milestone, "Submit for review")
    page.get_by_label("Message").fill(message)
    page.get_by_role("button", name="Submit for review").click()
    expect(box(page, milestone)).to_have_attribute("data-milestone-state", S.IN_REVIEW)


def approve(page, order, milestone) -> None:
    page.goto(order.get_absolute_url())
    click_in(page, milestone, "Approve")
    page.get_by_role("button", name="Confirm").click()
    expect(box(page, milestone)).to_have_attribute("data-milestone-state", S.APPROVED)


def test_a_package_ordered_paid_step_by_step_revised_continued_and_stopped(new_page, audit):
    seller, buyer = UserFactory(username="sam_seller"), UserFactory(username="bea_buyer")
    seller_page, buyer_page = new_page(), new_page()
    log_in(seller_page, seller)
    create_gig(seller_page)  # Standard: UI/UX design (200, 1 revision), Backend development (400), Final launch (100)
    gig_url = seller_page.url

    # The buyer orders Standard with the extra, answers the question and pays the first step by card.
    log_in(buyer_page, buyer)
    buyer_page.goto(gig_url)
    buyer_page.get_by_role("button", name="Order Standard").click()
    expect(buyer_page.get_by_role("heading", name="Requirements", level=1)).to_be_visible()
    buyer_page.get_by_role("checkbox", name=re.compile("Documentation")).check()
    buyer_page.get_by_label("Which platforms?").fill("iOS and Android")
    expect(buyer_page.locator(".charged-now")).to_contain_text("211.00 USD")
    buyer_page.get_by_role("radio", name=re.compile("Card")).check()
    buyer_page.get_by_role("button", name="Start order").click()
    pay_by_card(buyer_page)

    order = Order.objects.get(buyer=buyer)
    assert order.package_name == "Standard"
    assert list(RequirementAnswer.objects.filter(order=order).values_list("question", "answer")) == [
        ("Which platforms?", "iOS and Android")
    ]
    steps = list(Milestone.objects.filter(order=order).order_by("position"))
    assert [(m.title, m.state, m.amount.amount) for m in steps] == [
        ("UI/UX design", S.AWAITING_ACCEPTANCE, Decimal("200.00")),
        ("Backend development", S.PLANNED, Decimal("400.00")),
        ("Final launch", S.PLANNED, Decimal("100.00")),
        ("Documentation", S.PLANNED, Decimal("30.00")),
    ]
    first, second, third, extra = steps
    expect(buyer_page.get_by_text("iOS and Android")).to_be_visible()  # the brief, at the top of the order
    expect(box(buyer_page, second)).to_contain_text("Planned")
    assert escrow_balance(first).amount == Decimal("200.00")

    # The seller accepts the order's plan with its first step.
    seller_page.goto(order.get_absolute_url())
    click_in(seller_page, first, "Accept")
    expect(box(seller_page, first)).to_have_attribute("data-milestone-state", S.IN_PROGRESS)

    # Delivered, revised once (the one revision included), delivered again: no more revisions to ask.
    submit(seller_page, order, first, "The first screens.")
    buyer_page.goto(order.get_absolute_url())
    expect(box(buyer_page, first)).to_contain_text("Revisions: 0 of 1 used")
    click_in(buyer_page, first, "Request revision")
    buyer_page.get_by_label("Feedback").fill("A darker palette, please.")
    buyer_page.get_by_role("button", name="Request revision").click()
    expect(box(buyer_page, first)).to_have_attribute("data-milestone-state", S.REVISION_REQUESTED)
    submit(seller_page, order, first, "Darker now.")
    buyer_page.goto(order.get_absolute_url())
    expect(box(buyer_page, first)).to_contain_text("Revisions: 1 of 1 used")
    expect(box(buyer_page, first).get_by_role("button", name="Buy a revision", exact=True)).to_be_visible()
    expect(box(buyer_page, first).get_by_role("button", name="Request revision", exact=True)).to_have_count(0)

    # Approved, the buyer continues to the next milestone and pays it by card: it starts at once.
    approve(buyer_page, order, first)
    expect(box(buyer_page, second)).to_have_attribute("data-milestone-state", S.PLANNED)
    buyer_page.get_by_role("button", name="Continue to next milestone").click()
    expect(buyer_page.get_by_role("heading", name="Continue to next milestone", level=1)).to_be_visible()
    expect(buyer_page.get_by_role("cell", name="422.00 USD")).to_be_visible()  # 400.00 and its 22.00 fee
    buyer_page.get_by_role("radio", name=re.compile("Card")).check()
    buyer_page.get_by_role("button", name="Confirm").click()
    pay_by_card(buyer_page)
    expect(box(buyer_page, second)).to_have_attribute("data-milestone-state", S.IN_PROGRESS)

    # After the second step the buyer stops: the steps left are cancelled, and no money moves.
    submit(seller_page, order, second, "The backend is live on staging.")
    approve(buyer_page, order, second)
    postings = Transaction.objects.count()
    buyer_page.get_by_role("button", name="Stop the order here").click()
    # The page that says what happens before it does.
    expect(buyer_page.get_by_role("heading", name="Stop the order here", level=1)).to_be_visible()
    expect(buyer_page.get_by_role("note")).to_contain_text("“Final launch”, “Documentation”, 130.00 USD in all")
    expect(buyer_page.get_by_role("note")).to_contain_text("No money moves for them")
    buyer_page.get_by_role("button", name="Confirm").click()
    expect(box(buyer_page, third)).to_have_attribute("data-milestone-state", S.CANCELLED)
    expect(box(buyer_page, extra)).to_have_attribute("data-milestone-state", S.CANCELLED)
    assert Transaction.objects.count() == postings, "stopping moved money"
    audit()
