"""Issue 38, payments: a receipt in the reader's words and number format, the sandbox's checkout page
in the visitor's language, and an amount typed with a decimal comma accepted where the language
writes one."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from djmoney.money import Money

from payments.forms import RefundToCardForm, WithdrawForm
from payments.models import Transaction, TransactionKind
from sandbox.models import SandboxSession
from tests.factories import create_milestone

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _back_to_the_default_language():
    """A request activates its reader's language in this thread and leaves it there: the tests
    after these ones expect the default (English) again."""
    yield
    translation.deactivate()


def text(response) -> str:
    return response.content.decode()


def test_a_german_buyers_receipt_is_in_german_with_german_amounts(client, order, buyer):
    milestone = create_milestone(order, amount="1234.50", title="Wireframes")
    funding = Transaction.objects.get(milestone=milestone, kind=TransactionKind.FUND)
    buyer.language = "de"
    buyer.save(update_fields=["language"])
    client.force_login(buyer)
    html = text(client.get(reverse("receipt", args=[funding.pk])))
    assert '<html lang="de"' in html
    assert f"Beleg R-{funding.pk:08d}" in html
    for words in ("Betrag des Meilensteins, treuhänderisch verwahrt", "Servicegebühr", "Belasteter Gesamtbetrag"):
        assert words in html
    assert "Ausgestellt für" in html and "(Käufer)" in html and "Verkäufer" in html and "Drucken" in html
    assert "1.234,50" in html, "the amount is written as German writes it"
    assert "Wireframes" in html, "the user's own words are not translated"
    for english in ("Total charged", "Service fee", "Issued to", "Keep this receipt", "Receipt number"):
        assert english not in html


def test_the_same_receipt_in_english_is_unchanged(client, order, buyer):
    milestone = create_milestone(order, amount="1234.50")
    funding = Transaction.objects.get(milestone=milestone, kind=TransactionKind.FUND)
    client.force_login(buyer)
    html = text(client.get(reverse("receipt", args=[funding.pk])))
    assert "Total charged" in html and "Milestone amount, held in escrow" in html and "1,234.50" in html


def sandbox_session(amount: str = "1234.50") -> SandboxSession:
    return SandboxSession.objects.create(
        session_id=f"cs_sandbox_{uuid.uuid4().hex[:24]}",
        idempotency_key=uuid.uuid4().hex,
        amount=Money(amount, "EUR"),
        description="Milestone “Logo”",
        reference="checkout-1",
        success_url="http://testserver/done/?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="http://testserver/cancelled/",
        expires_at=timezone.now() + timedelta(hours=1),
    )


def test_a_spanish_visitor_pays_on_a_spanish_sandbox_checkout(client):
    session = sandbox_session()
    url = reverse("sandbox_checkout", args=[session.session_id])
    html = text(client.get(url, HTTP_ACCEPT_LANGUAGE="es"))
    assert '<html lang="es"' in html
    assert "Pago de prueba" in html and "Tarjetas de prueba" in html and "Número de tarjeta" in html
    assert ">Pagar</button>" in html and "Cancelar y volver" in html
    assert "Rechazada: Tu tarjeta ha sido rechazada." in html
    assert "1234,50" in html or "1.234,50" in html
    for english in ("Sandbox checkout", "Test cards", "Card number", ">Pay</button>", "Cancel and return", "Declined:"):
        assert english not in html
    declined = client.post(url, {"card_number": "4000 0000 0000 0002"}, HTTP_ACCEPT_LANGUAGE="es")
    assert declined.status_code == 400 and "Tu tarjeta ha sido rechazada." in text(declined)
    session.refresh_from_db()
    assert session.payment_status == "unpaid"


@pytest.mark.parametrize("form_class", [WithdrawForm, RefundToCardForm])
def test_an_amount_typed_with_a_german_decimal_comma_is_accepted(form_class):
    prefix = form_class.prefix
    field = f"{prefix}-amount" if prefix else "amount"
    data = {field: "12,50", (f"{prefix}-currency" if prefix else "currency"): "EUR"}
    data[f"{prefix}-key" if prefix else "key"] = "k" * 32
    with translation.override("de"):
        form = form_class(data, currencies=["EUR"])
        assert form.is_valid(), form.errors
        assert form.cleaned_data["amount"] == Decimal("12.50")
        assert form.money() == Money("12.50", "EUR")
        # A text input (a number input takes no comma) that still brings up the number keypad.
        rendered = str(form["amount"])
        assert 'type="text"' in rendered and 'inputmode="decimal"' in rendered
        assert 'value="12,50"' in rendered
    with translation.override("en-gb"):
        form = form_class({**data, field: "12.50"}, currencies=["EUR"])
        assert form.is_valid() and form.cleaned_data["amount"] == Decimal("12.50")


def test_a_german_seller_withdraws_an_amount_typed_with_a_comma(client, seller):
    """The whole way: the earnings page's form, posted in German, asks the service for 12.50."""
    seller.language = "de"
    seller.save(update_fields=["language"])
    client.force_login(seller)
    page = text(client.get(reverse("earnings")))
    assert "Einnahmen" in page and "Buchungsverlauf" in page and "Earnings</h1>" not in page
    response = client.post(reverse("withdraw"), {"amount": "12,50", "currency": "USD", "key": uuid.uuid4().hex})
    html = text(response)
    # Nothing is available, so the service refuses: but it was asked for 12.50, not refused as a bad number.
    assert response.status_code == 400
    assert "Geben Sie eine Zahl ein" not in html and "Enter a number" not in html
