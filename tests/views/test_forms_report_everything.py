"""Issue 34, item 14: every form reports every error at once, with its limits stated in the help,
and amounts are refused in the same words on every form."""

from __future__ import annotations

import pytest
from django.urls import reverse
from djmoney.money import Money

from gigs.models import Gig
from milestones.forms import CancellationForm, ChangesForm, MilestoneTermsForm, TipForm
from tests.factories import OrderFactory, UserFactory
from tests.gig_editor import editor_data

pytestmark = pytest.mark.django_db


def test_the_gig_form_reports_a_negative_price_with_the_other_errors_and_states_the_minimum(client):
    """The negative price was reported only after the title and description were fixed, and the
    5.00 minimum was stated nowhere."""
    client.force_login(UserFactory(username="sam_seller"))
    page = client.get(reverse("gig_create")).content.decode()
    assert "at least 5.00" in page
    data = {"title": "", "description": "", "starting_price": "-5", "currency": "USD", "delivery_days": "0"}
    answer = client.post(reverse("gig_create"), editor_data(data)).content.decode()
    for message in (
        "This field is required.",
        "A step&#x27;s price is at least 5.00.",
        "A step takes between 1 and 365 days.",
    ):
        assert message in answer, message
    assert not Gig.objects.exists()


def test_three_decimals_are_refused_in_the_same_words_on_every_amount_form(client):
    order = OrderFactory()
    seller = order.seller
    client.force_login(seller)
    answer = client.post(
        reverse("gig_create"),
        editor_data(
            {
                "title": "Logos",
                "description": "Logo.",
                "starting_price": "10.005",
                "currency": "USD",
                "delivery_days": "3",
            }
        ),
    ).content.decode()
    assert "Use at most two decimal places." in answer
    forms = [
        MilestoneTermsForm({"amount": "10.005"}, order=order),
        ChangesForm({"amount": "10.005"}),
        CancellationForm({"refund": "10.005"}),
        TipForm({"amount": "10.005", "method": "card"}, most=Money("50", "USD"), balance=Money("0", "USD")),
    ]
    for form in forms:
        form.is_valid()
        field = "refund" if isinstance(form, CancellationForm) else "amount"
        assert form.errors[field] == ["Use at most two decimal places."], type(form).__name__
