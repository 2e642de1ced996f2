"""Reputation in real Chromium, by labels: both parties review a completed
order and the seller's profile shows the rating and both reviews only after
the second one; a search with a category filter finds the right gig."""

from __future__ import annotations

import pytest
from django.urls import reverse
from djmoney.money import Money
from playwright.sync_api import expect

from gigs.services import gig_create
from milestones.models import MilestoneState
from milestones.services.completion import order_complete
from tests.browser.conftest import log_in
from tests.factories import OrderFactory, UserFactory, milestone_in

S = MilestoneState
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_both_parties_review_and_the_profile_shows_them_only_after_the_second(new_page):
    order = OrderFactory(buyer=UserFactory(username="alice_buyer"), seller=UserFactory(username="bob_seller"))
    milestone_in(S.APPROVED, order=order, title="Design")
    order_complete(order=order, actor=order.buyer)
    buyer_page, seller_page, visitor = new_page(), new_page(), new_page()
    log_in(buyer_page, order.buyer)
    log_in(seller_page, order.seller)
    profile = reverse("profile_public", args=["bob_seller"])

    buyer_page.goto(order.get_absolute_url())
    buyer_page.get_by_role("button", name="Leave a review").click()
    for group in ("Communication", "Service as described"):
        buyer_page.get_by_role("group", name=group).get_by_label("5 – excellent").check()
    buyer_page.get_by_role("group", name="Would recommend").get_by_label("4 – good").check()
    buyer_page.get_by_label("Review").fill("Thoughtful designs, delivered early.")
    buyer_page.get_by_role("button", name="Submit review").click()
    expect(buyer_page.get_by_text("Thank you: your review is in")).to_be_visible()

    visitor.goto(profile)
    expect(visitor.locator("body")).to_contain_text("No reviews yet")
    expect(visitor.locator("body")).not_to_contain_text("Thoughtful designs")

    seller_page.goto(order.get_absolute_url())
    expect(seller_page.locator("#reviews")).not_to_contain_text("Thoughtful designs")
    seller_page.get_by_role("button", name="Leave a review").click()
    seller_page.get_by_role("group", name="Rating").get_by_label("5 – excellent").check()
    seller_page.get_by_label("Review").fill("A clear brief and quick answers.")
    seller_page.get_by_role("button", name="Submit review").click()
    expect(seller_page.locator("#reviews")).to_contain_text("Thoughtful designs, delivered early.")
    expect(seller_page.locator("#reviews")).to_contain_text("A clear brief and quick answers.")

    visitor.goto(profile)
    expect(visitor.locator("body")).to_contain_text("★ 4.7")
    expect(visitor.locator("body")).to_contain_text("(1 review)")
    expect(visitor.locator("body")).to_contain_text("Thoughtful designs, delivered early.")

    # The buyer's profile shows what the seller said of them as a buyer, with its own average.
    visitor.goto(reverse("profile_public", args=["alice_buyer"]))
    as_buyer = visitor.get_by_role("region", name="Reviews as a buyer")
    expect(as_buyer).to_contain_text("A clear brief and quick answers.")
    expect(as_buyer).to_contain_text("★ 5.0 (1 review)")
    expect(visitor.get_by_role("region", name="Reviews as a seller")).to_contain_text("No reviews as a seller yet.")


def test_a_search_with_a_category_filter_finds_the_right_gig(page):
    seller = UserFactory(username="carol_seller")
    gig_create(
        seller=seller,
        title="Logo design for your shop",
        description="Three logo concepts.",
        starting_price=Money("50.00", "USD"),
        delivery_days=3,
        category="design",
    )
    gig_create(
        seller=seller,
        title="Logo animation",
        description="Your logo, animated.",
        starting_price=Money("80.00", "USD"),
        delivery_days=5,
        category="video",
    )
    page.goto("/")
    page.get_by_label("Search gigs").fill("logo")
    page.get_by_label("Category").select_option(label="Design")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("1 gig matching “logo”")
    expect(page.locator("main")).to_contain_text("Logo design for your shop")
    expect(page.locator("main")).not_to_contain_text("Logo animation")


def test_the_buyer_tips_by_card_and_the_seller_sees_it_pending(new_page):
    order = OrderFactory(buyer=UserFactory(username="erin_buyer"), seller=UserFactory(username="frank_seller"))
    milestone = milestone_in(S.APPROVED, order=order, title="Logo", amount="60.00")
    buyer_page, seller_page = new_page(), new_page()
    log_in(buyer_page, order.buyer)
    log_in(seller_page, order.seller)

    buyer_page.goto(order.get_absolute_url())
    card = buyer_page.locator(f"#milestone-{milestone.pk}")
    card.get_by_role("link", name="Leave a tip").click()
    expect(buyer_page.get_by_role("heading", name="Leave a tip", level=1)).to_be_visible()
    buyer_page.get_by_label("Amount").fill("15")
    # The balance is empty, so the card is the only way to pay.
    expect(buyer_page.get_by_label("Card, on the payment provider's page")).to_be_checked()
    buyer_page.get_by_role("button", name="Send tip").click()
    expect(buyer_page.get_by_text("Sandbox checkout")).to_be_visible()
    buyer_page.get_by_label("Card number").fill("4242 4242 4242 4242")
    buyer_page.get_by_role("button", name="Pay", exact=True).click()
    expect(buyer_page.get_by_text("You tipped 15.00 USD for “Logo”. Thank you!")).to_be_visible()
    expect(card.get_by_role("link", name="Leave a tip")).to_have_count(0)
    expect(card).to_contain_text("15.00 USD")

    # The seller sees it on the order, less the commission and clearing, and on the earnings page.
    seller_page.goto(order.get_absolute_url())
    seller_card = seller_page.locator(f"#milestone-{milestone.pk}")
    expect(seller_card.locator("dd.tip")).to_contain_text("12.00 USD to you, clears on")
    expect(seller_page.get_by_role("region", name="Messages and activity")).to_contain_text("left a tip on")
    seller_page.goto(reverse("earnings"))
    clearing = seller_page.get_by_role("row").filter(has_text="Tip Logo")
    expect(clearing).to_contain_text("12.00 USD")
    expect(seller_page.get_by_role("row").filter(has_text="Tip to seller")).to_contain_text("12.00 USD")
