"""The gig pages in the reader's language (issue 38): a visitor whose browser asks for Spanish
reads the home page and a gig's page in Spanish, and a German seller types prices as Germans
write them ("12,50", "1.234,50") and the gig editor reads them right."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from djmoney.money import Money

from accounts.levels import SellerLevel
from gigs.models import Gig, PackageStep
from tests.factories import GigFactory, UserFactory, packaged_gig
from tests.gig_editor import editor_data

pytestmark = pytest.mark.django_db


def spanish(client, url: str) -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200
    return response.content.decode()


def test_a_spanish_visitor_reads_the_home_page_in_spanish(client):
    GigFactory(title="I will design your logo", category="design")

    html = spanish(client, reverse("home"))

    for words in (
        "Encuentra un vendedor y paga por hitos",  # the heading
        "Cómo funciona",  # how it works, for visitors
        "Financia un hito.",
        'placeholder="Buscar gigs, p. ej., logotipo, API, app móvil"',
        "Todas las categorías",  # the category filter
        "Más recientes",  # the default order
        "Ordenar por",
        "Diseño",  # the gig card's category
        "Nuevo vendedor",  # the seller's level
        "Aún sin reseñas",
        ">Guardar<",  # the save button
        "Desde",
        "14 días",
    ):
        assert words in html, words
    # The seller's words stay as written.
    assert "I will design your logo" in html
    for english in ("Find a seller, pay by milestone", "How it works", "All categories", "No reviews yet"):
        assert english not in html, english


def test_a_spanish_visitor_reads_a_gig_page_in_spanish(client):
    seller = UserFactory(username="carla", seller_level=SellerLevel.TOP_RATED)
    gig, _package = packaged_gig(seller=seller, extras=(("Source files", "20.00", 1, None),))

    html = spanish(client, gig.get_absolute_url())

    for words in (
        "Paquetes",
        "Pedir con tus propios hitos",
        "Contactar al vendedor",
        "Paso 1: UI/UX design",  # the step's number in Spanish, its title as the seller wrote it
        "3 hitos",
        "10 días en total",
        "Acerca de este gig",
        "Mejor valorado",  # Top rated
        "Nivel de vendedor",
        "Tiempo medio de respuesta",
        "como último paso propio",  # where the extra goes
        "Otros",  # the category "Other"
    ):
        assert words in html, words
    for english in ("About this gig", "Contact seller", "Top rated", "Seller level", " days in all"):
        assert english not in html, english


def test_an_english_visitor_still_reads_english(client):
    gig, _package = packaged_gig()
    html = client.get(gig.get_absolute_url()).content.decode()
    assert "About this gig" in html and "Step 1: UI/UX design" in html and "10 days in all" in html


@pytest.mark.parametrize(
    ("typed", "amount"),
    [("12,50", Decimal("12.50")), ("1.234,50", Decimal("1234.50")), ("1.234", Decimal("1234")), ("99", Decimal("99"))],
)
def test_a_german_seller_types_prices_the_german_way(client, typed, amount):
    seller = UserFactory(username="greta", language="de")
    client.force_login(seller)
    form = client.get(reverse("gig_create")).content.decode()
    assert "Gig erstellen" in form and "Preis" in form
    # The price is a text field with a decimal keypad: a number field cannot hold "12,50".
    assert 'type="text" name="package-1-step-1-price"' in form and 'inputmode="decimal"' in form

    data = editor_data(
        {
            "title": "Ich gestalte Ihr Logo",
            "description": "Drei Entwürfe, zwei Überarbeitungen.",
            "category": "design",
            "currency": "EUR",
            "starting_price": typed,
            "delivery_days": "3",
        }
    )
    response = client.post(reverse("gig_create"), data)

    assert response.status_code == 302, response.content.decode()
    gig = Gig.objects.get(seller=seller)
    assert PackageStep.objects.get(package__gig=gig).price == Money(amount, "EUR")
    assert gig.starting_price == Money(amount, "EUR")
    # The editor shows it back as typed, in German.
    edit = client.get(reverse("gig_edit", args=[gig.pk])).content.decode()
    shown = f"{amount:,.2f}".replace(",", " ").replace(".", ",").replace(" ", "")
    assert f'value="{shown}"' in edit


def test_a_german_seller_is_told_in_german_what_is_wrong_with_a_price(client):
    client.force_login(UserFactory(username="hans", language="de"))
    data = editor_data(
        {
            "title": "Ich gestalte Ihr Logo",
            "description": "Drei Entwürfe.",
            "category": "design",
            "currency": "EUR",
            "starting_price": "2,50",
            "delivery_days": "3",
        }
    )
    html = client.post(reverse("gig_create"), data).content.decode()
    assert "Der Preis eines Schritts beträgt mindestens 5,00." in html
    html = client.post(reverse("gig_create"), {**data, "package-1-step-1-price": "zwölf"}).content.decode()
    assert "Geben Sie den Betrag als Zahl ein, z. B. 20 oder 19,99." in html


def test_an_english_seller_still_types_prices_with_a_point(client, seller):
    client.force_login(seller)
    data = editor_data(
        {
            "title": "I will design your logo",
            "description": "Three drafts.",
            "category": "design",
            "currency": "USD",
            "starting_price": "12.50",
            "delivery_days": "3",
        }
    )
    assert client.post(reverse("gig_create"), data).status_code == 302
    assert Gig.objects.get(seller=seller).starting_price == Money("12.50", "USD")
    html = client.post(reverse("gig_create"), {**data, "package-1-step-1-price": "12,50"}).content.decode()
    assert "Enter the amount as a number, e.g. 20 or 19.99." in html
