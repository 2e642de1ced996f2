"""Agreeing on terms in real Chromium, by the labels people see: the seller
offers an add-on and the buyer accepts and pays it on the provider's page;
the seller proposes a higher amount and the buyer pays the difference from
the balance; an extension is accepted; a cancellation with half refunded is
asked by the buyer and confirmed by the seller; and one left unanswered is
accepted by the timer.

Two sessions (a buyer's and a seller's page each), since the browser is the
slowest part of the suite: the first agrees on new work, the second stops it.
Amounts: the buyer's service fee is 5.5% and the seller's commission 20%
(settings), so 100.00 costs the buyer 105.50 and earns the seller 80.00.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from milestones.models import Milestone, MilestoneState, Proposal, ProposalState
from milestones.services.lifecycle import milestone_accept, milestone_cancel
from milestones.sweeps import sweep_proposals
from payments.models import Earning
from tests.browser.conftest import log_in
from tests.factories import OrderFactory, UserFactory, create_milestone, milestone_in

S = MilestoneState
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCAL = "%Y-%m-%dT%H:%M"  # what a datetime-local field takes


@pytest.fixture
def order():
    return OrderFactory(
        buyer=UserFactory(username="carol_buyer"), seller=UserFactory(username="dave_seller"), title="Online shop"
    )


def give_balance(buyer, amount: str) -> None:
    """Money in the buyer's balance the way it gets there: a milestone on
    another order, paid by card and cancelled before work (all of it back)."""
    other = OrderFactory(buyer=buyer, title="An earlier idea")
    milestone_cancel(milestone=create_milestone(other, amount=amount, title="Refunded"), actor=buyer)


def box(page, milestone):
    return page.locator(f"#milestone-{milestone.pk}")


def click_in(page, milestone, button: str) -> None:
    box(page, milestone).get_by_role("button", name=button, exact=True).click()


def buyer_balance(page):
    page.goto("/earnings/")
    return page.locator(".balance").filter(has_text="balance as a buyer")


def test_an_add_on_offered_and_paid_a_higher_amount_agreed_and_more_time_given(new_page, order, live_server):
    first = milestone_in(S.APPROVED, order=order, title="Design")
    give_balance(order.buyer, "200.00")  # 211.00 in the balance
    buyer_page, seller_page = new_page(), new_page()
    log_in(buyer_page, order.buyer)
    log_in(seller_page, order.seller)

    # The seller offers an add-on once the first milestone is approved.
    seller_page.goto(order.get_absolute_url())
    expect(box(seller_page, first)).to_have_attribute("data-milestone-state", S.APPROVED)
    seller_page.get_by_role("button", name="Propose a milestone").click()
    seller_page.get_by_label("Title").fill("SEO audit")
    seller_page.get_by_label("Description").fill("An audit of every page, with a list of fixes.")
    seller_page.get_by_label("Deadline").fill((timezone.localtime() + timedelta(days=14)).strftime(LOCAL))
    seller_page.get_by_label("Amount").fill("120.00")
    seller_page.get_by_role("button", name="Send offer").click()
    expect(seller_page.get_by_text("Your offer “SEO audit” is sent")).to_be_visible()
    add_on = Milestone.objects.get(order=order, title="SEO audit")
    expect(box(seller_page, add_on)).to_have_attribute("data-milestone-state", S.OFFERED)
    expect(box(seller_page, add_on).get_by_role("button", name="Withdraw offer")).to_be_visible()

    # The buyer sees it as an offer, reads what is charged, and pays by card on the provider's page.
    buyer_page.goto(order.get_absolute_url())
    expect(box(buyer_page, add_on)).to_have_attribute("data-milestone-state", S.OFFERED)
    expect(box(buyer_page, add_on)).to_contain_text("Offer from dave_seller")
    click_in(buyer_page, add_on, "Accept and pay")
    expect(buyer_page.get_by_role("heading", name="Accept and pay", level=1)).to_be_visible()
    expect(buyer_page.get_by_role("note")).to_contain_text("126.60 USD (120.00 USD and the 6.60 USD service fee)")
    buyer_page.get_by_label("Card, on the payment provider's page").check()
    buyer_page.get_by_role("button", name="Confirm").click()
    expect(buyer_page.get_by_text("Sandbox checkout")).to_be_visible()
    buyer_page.get_by_label("Card number").fill("4242 4242 4242 4242")
    buyer_page.get_by_role("button", name="Pay", exact=True).click()
    # Paid, it starts at once: the seller proposed it, so there is nothing left to accept.
    expect(box(buyer_page, add_on)).to_have_attribute("data-milestone-state", S.IN_PROGRESS)
    expect(box(buyer_page, add_on)).to_contain_text("In progress")
    expect(buyer_balance(buyer_page)).to_contain_text("211.00 USD")  # the card paid, the balance is untouched

    # The buyer funds the next phase; before accepting, the seller asks for more money.
    launch = create_milestone(order, title="Launch", amount="100.00")
    seller_page.goto(order.get_absolute_url())
    click_in(seller_page, launch, "Propose changes")
    seller_page.get_by_label("Amount").fill("150.00")
    seller_page.get_by_role("button", name="Send proposal").click()
    expect(box(seller_page, launch).locator("div.proposal[data-proposal-kind=changes]")).to_be_visible()
    expect(box(seller_page, launch).get_by_role("button", name="Withdraw request")).to_be_visible()

    buyer_page.goto(order.get_absolute_url())
    proposal = box(buyer_page, launch).locator("div.proposal[data-proposal-kind=changes]")
    expect(proposal).to_contain_text("100.00 USD → 150.00 USD")
    proposal.get_by_role("button", name="Accept changes").click()
    expect(buyer_page.get_by_role("heading", name="Accept changes", level=1)).to_be_visible()
    # 50.00 more and its fee (8.25 - 5.50), from the balance, which covers it.
    expect(buyer_page.get_by_role("note")).to_contain_text("52.75 USD more is charged now")
    buyer_page.get_by_label("My site balance").check()
    buyer_page.get_by_role("button", name="Confirm").click()
    expect(buyer_page.get_by_text("You accepted the changes to “Launch”")).to_be_visible()
    expect(box(buyer_page, launch).locator(".amount").first).to_have_text("150.00 USD")
    expect(box(buyer_page, launch)).to_have_attribute("data-milestone-state", S.AWAITING_ACCEPTANCE)
    expect(buyer_balance(buyer_page)).to_contain_text("158.25 USD")  # 211.00 - 52.75

    # The add-on needs more time: the seller asks, the buyer accepts.
    seller_page.goto(order.get_absolute_url())
    click_in(seller_page, add_on, "Request extension")
    new_deadline = timezone.localtime(add_on.deadline) + timedelta(days=7)
    seller_page.get_by_label("New deadline").fill(new_deadline.strftime(LOCAL))
    seller_page.get_by_label("Reason").fill("The analytics access arrives next week.")
    seller_page.get_by_role("button", name="Send request").click()
    expect(seller_page.get_by_text("You asked for a later deadline")).to_be_visible()

    buyer_page.goto(order.get_absolute_url())
    expect(box(buyer_page, add_on)).to_contain_text("The analytics access arrives next week.")
    click_in(buyer_page, add_on, "Accept extension")
    expect(buyer_page.get_by_text(f"You accepted the later deadline on “{add_on.title}”")).to_be_visible()
    expect(box(buyer_page, add_on).locator("time").first).to_contain_text(new_deadline.strftime("%-d %b %Y %H:%M"))
    expect(box(buyer_page, add_on).locator("div.proposal")).to_have_count(0)


def test_a_half_refund_agreed_and_an_unanswered_request_accepted_by_the_timer(new_page, order):
    build = milestone_in(S.IN_PROGRESS, order=order, title="Build", amount="100.00")
    launch = milestone_accept(milestone=create_milestone(order, title="Launch", amount="80.00"), actor=order.seller)
    assert launch.state == S.ACCEPTED  # queued behind "Build"
    buyer_page, seller_page = new_page(), new_page()
    log_in(buyer_page, order.buyer)
    log_in(seller_page, order.seller)

    # The buyer asks to stop "Build" with half of it back; the seller confirms where the money goes.
    buyer_page.goto(order.get_absolute_url())
    click_in(buyer_page, build, "Request cancellation")
    buyer_page.get_by_label("Refund to buyer").fill("50.00")
    buyer_page.get_by_label("Reason").fill("The launch was postponed.")
    buyer_page.get_by_role("button", name="Send request").click()
    expect(buyer_page.get_by_text("You asked to cancel")).to_be_visible()

    seller_page.goto(order.get_absolute_url())
    expect(box(seller_page, build)).to_contain_text("The launch was postponed.")
    click_in(seller_page, build, "Accept cancellation")
    expect(seller_page.get_by_role("note")).to_contain_text(
        "carol_buyer receives 52.75 USD (50.00 USD and 2.75 USD of the service fee) and dave_seller receives "
        "40.00 USD (50.00 USD less the 10.00 USD fee) now"
    )
    seller_page.get_by_role("button", name="Confirm").click()
    expect(box(seller_page, build)).to_have_attribute("data-milestone-state", S.CANCELLED)
    expect(box(seller_page, launch)).to_have_attribute("data-milestone-state", S.IN_PROGRESS)  # the next phase

    # Both sides see the split: half back with half the fee; half to the seller less the commission.
    expect(buyer_balance(buyer_page)).to_contain_text("52.75 USD")
    earning = Earning.objects.get(milestone=build)
    assert earning.net.amount == 40
    expect(box(seller_page, build)).to_contain_text("40.00 USD")  # "Your earning"
    seller_page.goto("/earnings/")
    expect(seller_page.locator(".balance").filter(has_text="Pending clearance")).to_contain_text("40.00 USD")
    clearing = seller_page.get_by_role("table").filter(has=seller_page.get_by_role("columnheader", name="Clears"))
    expect(clearing.get_by_role("row").filter(has=seller_page.get_by_role("link", name="Build"))).to_contain_text(
        "40.00 USD"
    )

    # The seller asks to stop "Launch" (the refund left empty: all of it back); the buyer never answers.
    seller_page.goto(order.get_absolute_url())
    click_in(seller_page, launch, "Request cancellation")
    expect(seller_page.get_by_label("Refund to buyer")).to_have_value("")
    seller_page.get_by_label("Reason").fill("The client's platform was dropped.")
    seller_page.get_by_role("button", name="Send request").click()
    expect(seller_page.get_by_text("You asked to cancel")).to_be_visible()
    request = Proposal.objects.get(milestone=launch, kind="cancellation")

    buyer_page.goto(order.get_absolute_url())
    expect(box(buyer_page, launch)).to_contain_text("Unanswered by")
    expect(box(buyer_page, launch)).to_contain_text("it is accepted.")
    # The sweep's clock, past the time to answer: a full refund asked by the seller is accepted by silence.
    result = sweep_proposals(now=request.respond_by + timedelta(minutes=1))
    assert result.done >= 1
    assert Proposal.objects.get(pk=request.pk).state == ProposalState.ACCEPTED

    buyer_page.reload()
    expect(box(buyer_page, launch)).to_have_attribute("data-milestone-state", S.CANCELLED)
    expect(box(buyer_page, launch).locator("div.proposal")).to_have_count(0)
    expect(buyer_page.locator("#messages")).to_contain_text("the request was not answered in time")
    expect(buyer_balance(buyer_page)).to_contain_text("137.15 USD")  # 52.75 + 80.00 + 4.40


def test_a_sellers_request_to_keep_the_money_lapses_when_the_buyer_stays_silent(new_page, order):
    """The seller asks to stop with 0.00 back; the buyer's page says what silence will do, and
    when the time to answer is over the request lapses: the work goes on, the escrow untouched."""
    from payments.ledger import escrow_balance

    build = milestone_in(S.IN_PROGRESS, order=order, title="Build", amount="10.00")
    buyer_page, seller_page = new_page(), new_page()
    log_in(buyer_page, order.buyer)
    log_in(seller_page, order.seller)

    seller_page.goto(order.get_absolute_url())
    click_in(seller_page, build, "Request cancellation")
    seller_page.get_by_label("Refund to buyer").fill("0.00")
    seller_page.get_by_label("Reason").fill("I would rather stop here.")
    seller_page.get_by_role("button", name="Send request").click()
    expect(seller_page.get_by_text("You asked to cancel")).to_be_visible()
    request = Proposal.objects.get(milestone=build, kind="cancellation")

    buyer_page.goto(order.get_absolute_url())
    expect(box(buyer_page, build)).to_contain_text("it lapses as declined and the escrow stays as it is.")
    # The sweep's clock, past the time to answer: silence never pays the party who asked.
    assert sweep_proposals(now=request.respond_by + timedelta(minutes=1)).done >= 1
    assert Proposal.objects.get(pk=request.pk).state == ProposalState.EXPIRED

    buyer_page.reload()
    expect(box(buyer_page, build)).to_have_attribute("data-milestone-state", S.IN_PROGRESS)
    expect(box(buyer_page, build).locator("div.proposal")).to_have_count(0)
    assert escrow_balance(Milestone.objects.get(pk=build.pk)).amount == 10
