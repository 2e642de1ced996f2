"""An ordered package in real Chromium, driven by the labels of issue 35: the buyer ticks an extra,
answers the requirement, presses "Start order" and pays the first step by card on the sandbox's
page; the seller accepts; after one revision "Buy a revision" replaces "Request revision"; the
buyer approves, presses "Continue to next milestone" and pays; after the second step, "Stop the
order here" cancels the third with no money moved. (The gig's packages are written directly:
the gig editor is another page's.)"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from milestones.models import Milestone, MilestoneState
from milestones.services.lifecycle import milestone_approve, milestone_submit
from orders.models import Order, OrderStatus
from payments.models import Transaction
from tests.browser.conftest import log_in
from tests.factories import UserFactory, packaged_gig

S = MilestoneState
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def box(page, milestone):
    return page.locator(f"#milestone-{milestone.pk}")


def pay_on_sandbox(page) -> None:
    expect(page.get_by_text("Sandbox checkout")).to_be_visible()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Pay", exact=True).click()


def test_order_a_package_pay_continue_and_stop(new_page, live_server):
    seller = UserFactory(username="bob_seller")
    buyer = UserFactory(username="alice_buyer")
    gig, package = packaged_gig(
        seller=seller,
        steps=(("Design", "100.00", 3, 1), ("Build", "200.00", 5, 2), ("Test", "50.00", 2, 1)),
        extras=(("Bonus graphics", "30.00", 1, 2),),
        questions=(("What is the app called?", "text", "", True),),
    )
    buyer_page, seller_page = new_page(), new_page()
    log_in(buyer_page, buyer)
    log_in(seller_page, seller)

    buyer_page.goto(reverse("package_order", args=[gig.pk, package.position]))
    expect(buyer_page.get_by_role("heading", level=1)).to_have_text("Requirements")
    expect(buyer_page.get_by_role("rowheader", name="Charged now")).to_be_visible()
    buyer_page.get_by_label("Bonus graphics", exact=False).check()
    buyer_page.get_by_label("What is the app called?").fill("Acme Fit")
    buyer_page.get_by_role("button", name="Start order").click()
    pay_on_sandbox(buyer_page)
    order = Order.objects.get(gig=gig)
    first, second, third = Milestone.objects.filter(order=order).order_by("position")
    expect(box(buyer_page, first)).to_have_attribute("data-milestone-state", S.AWAITING_ACCEPTANCE)
    expect(box(buyer_page, second)).to_contain_text("Planned")
    expect(buyer_page.get_by_text("Acme Fit")).to_be_visible()
    assert second.amount.amount == 230  # the extra is on the step it is attached to

    seller_page.goto(order.get_absolute_url())
    box(seller_page, first).get_by_role("button", name="Accept", exact=True).click()
    expect(box(seller_page, first)).to_have_attribute("data-milestone-state", S.IN_PROGRESS)

    milestone_submit(milestone=first, actor=seller, message="Wireframes.")
    buyer_page.goto(order.get_absolute_url())
    box(buyer_page, first).get_by_role("button", name="Request revision").click()
    buyer_page.get_by_label("Feedback").fill("Bigger buttons.")
    buyer_page.get_by_role("button", name="Request revision").click()
    expect(box(buyer_page, first)).to_have_attribute("data-milestone-state", S.REVISION_REQUESTED)
    milestone_submit(milestone=Milestone.objects.get(pk=first.pk), actor=seller, message="Bigger.")
    buyer_page.goto(order.get_absolute_url())
    expect(box(buyer_page, first)).to_contain_text("Revisions: 1 of 1 used")
    expect(box(buyer_page, first).get_by_role("button", name="Buy a revision")).to_be_visible()
    expect(box(buyer_page, first).get_by_role("button", name="Request revision")).to_have_count(0)

    box(buyer_page, first).get_by_role("button", name="Approve").click()
    buyer_page.get_by_role("button", name="Confirm").click()
    expect(box(buyer_page, first)).to_have_attribute("data-milestone-state", S.APPROVED)
    box(buyer_page, second).get_by_role("button", name="Continue to next milestone").click()
    expect(buyer_page.get_by_role("heading", level=1)).to_have_text("Continue to next milestone")
    buyer_page.get_by_role("button", name="Confirm").click()
    pay_on_sandbox(buyer_page)
    expect(box(buyer_page, second)).to_have_attribute("data-milestone-state", S.IN_PROGRESS)

    milestone_submit(milestone=Milestone.objects.get(pk=second.pk), actor=seller, message="Built.")
    milestone_approve(milestone=Milestone.objects.get(pk=second.pk), actor=buyer)
    transactions = Transaction.objects.count()
    buyer_page.goto(order.get_absolute_url())
    box(buyer_page, third).get_by_role("button", name="Stop the order here").click()
    expect(buyer_page.get_by_text("No money moves")).to_be_visible()
    buyer_page.get_by_role("button", name="Confirm").click()
    expect(box(buyer_page, third)).to_have_attribute("data-milestone-state", S.CANCELLED)
    assert Transaction.objects.count() == transactions
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
