"""Buyer requests in the reader's language (issue 38): a Spanish seller's "Requests" page is in
Spanish, a budget typed the Spanish way ("12,50") is read as 12.50, and when a German buyer hires,
each other seller's "declined" notice is written in that seller's language, not the buyer's."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from djmoney.money import Money

from gigs.packages import StepInput
from notifications.models import Notification
from requests_board.models import BuyerRequest
from requests_board.services import ProposalInput, RequestInput, proposal_send, request_post
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def a_request(buyer, title="Un logo para una panadería") -> BuyerRequest:
    return request_post(
        buyer=buyer,
        data=RequestInput(title=title, description="Colores cálidos.", category="design", budget=Money("300", "USD")),
    )


def a_proposal(seller, buyer_request):
    steps = (StepInput(title="Boceto", deliverables="Tres bocetos", days=2, price=Money("100", "USD")),)
    return proposal_send(
        seller=seller, buyer_request=buyer_request, data=ProposalInput(message="Puedo hacerlo.", steps=steps)
    )


def test_a_spanish_sellers_requests_page_is_in_spanish(client):
    seller = UserFactory(language="es")
    a_request(UserFactory())
    client.force_login(seller)
    html = client.get(reverse("request_list")).content.decode()
    for words in ("Solicitudes abiertas", "Publicar una solicitud", "Presupuesto desde", "Filtrar", "0 propuestas"):
        assert words in html, words
    for english in ("Open requests", "Post a request", "Budget from", "No open requests match"):
        assert english not in html, english


def test_a_budget_typed_with_a_decimal_comma_is_read_in_spanish_and_german(client):
    for language in ("es", "de"):
        buyer = UserFactory(language=language)
        client.force_login(buyer)
        page = client.get(reverse("request_new")).content.decode()
        assert 'inputmode="decimal"' in page and 'type="number"' not in page
        response = client.post(
            reverse("request_new"),
            {"title": "Logo", "description": "Redondo", "category": "design", "budget": "12,50", "currency": "EUR"},
        )
        made = BuyerRequest.objects.get(buyer=buyer)
        assert response.status_code == 302 and response["Location"] == made.get_absolute_url()
        assert made.budget == Money(Decimal("12.50"), "EUR")


def test_a_german_buyer_hires_and_the_other_seller_is_told_in_their_own_language(client):
    buyer = UserFactory(language="de")
    buyer_request = a_request(buyer, title="Ein Logo")
    spanish_seller = UserFactory(language="es")
    hired_seller = UserFactory(language="en-gb")
    a_proposal(spanish_seller, buyer_request)
    proposal = a_proposal(hired_seller, buyer_request)
    client.force_login(buyer)
    url = reverse("proposal_hire", args=[buyer_request.pk, proposal.pk])
    page = client.get(url).content.decode()
    assert f"{hired_seller.username} beauftragen" in page and "Zurück zur Anfrage" in page
    key = page.split('name="key" value="')[1].split('"')[0]
    assert client.post(url, {"method": "card", "key": key}).status_code == 302

    declined = Notification.objects.get(recipient=spanish_seller, event="proposal_declined")
    assert declined.message == "El comprador contrató a otro vendedor: tu propuesta para «Ein Logo» fue rechazada."
    hired = Notification.objects.get(recipient=hired_seller, event="proposal_hired")
    assert hired.message.startswith(f"{buyer.username} hired you on “Ein Logo” (")
    assert hired.message.endswith(" over 2 days).")
    # The buyer was told of each proposal in German.
    received = Notification.objects.filter(recipient=buyer, event="proposal_received").order_by("pk")
    assert [n.message for n in received] == [
        f"{spanish_seller.username} hat ein Angebot zu „Ein Logo“ gesendet.",
        f"{hired_seller.username} hat ein Angebot zu „Ein Logo“ gesendet.",
    ]
