"""The tip pages, driven by their labels: "Leave a tip" on an approved
milestone (the buyer's only), a form with "Amount" and "Pay with" and a
"Send tip" button; the tip on the order page and the seller's earnings page.
A GET never charges; bad input is a field error and changes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse
from djmoney.money import Money

from milestones.models import MilestoneState
from milestones.services.tips import tip_leave
from payments.models import Checkout, Tip, Transaction
from tests.factories import OrderFactory, UserFactory, milestone_in
from tests.services.test_offers import give_balance
from tests.views.test_offers import field_error, text

S = MilestoneState
pytestmark = pytest.mark.django_db


def usd(amount: str) -> Money:
    return Money(amount, "USD")


@pytest.fixture
def milestone():
    return milestone_in(S.APPROVED, OrderFactory(), amount="80.00")


def tip_url(milestone) -> str:
    return reverse("milestone_tip", args=[milestone.pk])


def test_the_buyer_sees_leave_a_tip_on_an_approved_milestone_and_the_seller_does_not(client, milestone):
    order = milestone.order
    client.force_login(order.buyer)
    page = text(client.get(order.get_absolute_url()))
    assert "Leave a tip" in page and tip_url(milestone) in page
    client.force_login(order.seller)
    assert "Leave a tip" not in text(client.get(order.get_absolute_url()))


def test_the_tip_form_says_the_limit_and_a_get_charges_nothing(client, milestone):
    client.force_login(milestone.order.buyer)
    transactions = Transaction.objects.count()
    response = client.get(tip_url(milestone))
    page = text(response)
    assert response.status_code == 200
    for label in ("Leave a tip", "Amount", "Pay with", "Send tip", "Up to 80.00\u00a0USD"):
        assert label in page
    # An empty balance leaves only the card.
    assert 'value="balance"' not in page and 'value="card"' in page
    assert Transaction.objects.count() == transactions and not Checkout.objects.filter(purpose="tip").exists()


def test_a_tip_from_the_balance_shows_on_the_order_page_and_the_earnings_page(client, milestone):
    order = milestone.order
    give_balance(order.buyer, "50.00")
    client.force_login(order.buyer)
    response = client.post(tip_url(milestone), {"amount": "12.50", "method": "balance"}, follow=True)
    page = text(response)
    assert f"You tipped {order.seller.username} 12.50\u00a0USD" in page
    assert Tip.objects.get(milestone=milestone).amount == usd("12.50")
    assert "Leave a tip" not in page, "one tip per milestone"
    assert "left a tip on" in page, "the timeline says it"

    client.force_login(order.seller)
    page = text(client.get(order.get_absolute_url()))
    assert "12.50\u00a0USD" in page and "10.00\u00a0USD</span> to you, clears on" in page
    earnings = text(client.get(reverse("earnings")))
    assert ">Tip</span>" in earnings and "10.00\u00a0USD" in earnings


def test_a_tip_by_card_goes_to_the_providers_page(client, milestone):
    client.force_login(milestone.order.buyer)
    response = client.post(tip_url(milestone), {"amount": "10", "method": "card"})
    checkout = Checkout.objects.get(purpose="tip")
    assert response.status_code == 302 and response["Location"] == checkout.url
    assert "/sandbox/" in checkout.url
    assert not Tip.objects.exists()
    # Leaving the provider's page charges nothing.
    back = client.get(reverse("tip_checkout_return", args=[milestone.pk]) + "?cancelled=1", follow=True)
    assert "nothing was charged" in text(back)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "80.01", "method": "card"}, "amount", "between 1.00\u00a0USD and 80.00\u00a0USD"),
        ({"amount": "0.5", "method": "card"}, "amount", "between 1.00\u00a0USD and 80.00\u00a0USD"),
        ({"amount": "", "method": "card"}, "amount", "This field is required."),
        ({"amount": "ten", "method": "card"}, "amount", "Enter the amount as a number, e.g. 20 or 19.99."),
        ({"amount": "5", "method": "balance"}, "method", "Select a valid choice."),
    ],
)
def test_bad_input_is_a_field_error_and_changes_nothing(client, milestone, data, field, message):
    client.force_login(milestone.order.buyer)
    transactions = Transaction.objects.count()
    response = client.post(tip_url(milestone), data)
    assert response.status_code == 400
    assert message in (field_error(text(response), field) or "")
    assert Transaction.objects.count() == transactions and not Checkout.objects.filter(purpose="tip").exists()


def test_a_balance_too_small_is_said_next_to_pay_with(client, milestone):
    give_balance(milestone.order.buyer, "5.00")
    client.force_login(milestone.order.buyer)
    response = client.post(tip_url(milestone), {"amount": "40", "method": "balance"})
    assert response.status_code == 400
    assert "does not cover this tip; pay by card" in (field_error(text(response), "method") or "")
    assert not Tip.objects.exists()


@pytest.mark.parametrize("who", ["seller", "outsider"])
def test_only_the_buyer_reaches_the_tip_form(client, milestone, who):
    user = milestone.order.seller if who == "seller" else UserFactory()
    client.force_login(user)
    response = client.get(tip_url(milestone))
    if who == "outsider":
        assert response.status_code == 404
    else:
        assert response.status_code == 302
        assert "Only the buyer" in text(client.get(response["Location"]))
    assert client.post(tip_url(milestone), {"amount": "5", "method": "card"}).status_code in (302, 404)
    assert not Checkout.objects.filter(purpose="tip").exists()


def test_a_second_tip_is_turned_away_with_thanks(client, milestone):
    give_balance(milestone.order.buyer, "50.00")
    tip_leave(milestone=milestone, actor=milestone.order.buyer, amount=usd("5.00"), method="balance")
    client.force_login(milestone.order.buyer)
    response = client.get(tip_url(milestone), follow=True)
    assert "already tipped" in text(response)
