"""Notices of the milestone services are written by one party and read by the other: they are made
in the RECIPIENT's language (``User.language``), amounts as that language writes them, whatever the
language of the request that sent them. Errors go to the one who acted, in the request's language."""

from __future__ import annotations

import pytest
from django.utils import translation
from djmoney.money import Money

from marketplace.errors import NotAllowed
from marketplace.money import format_money
from milestones.services.lifecycle import milestone_accept
from notifications.models import Notification
from tests.factories import OrderFactory, UserFactory, create_milestone

pytestmark = pytest.mark.django_db


def _created_notice(seller_language: str) -> tuple[Notification, str]:
    """An English-speaking buyer, in an English request, creates and pays a milestone of an order
    whose seller reads in ``seller_language``; the seller's notice, and the amount as that language
    writes it."""
    buyer = UserFactory(username="anna")
    seller = UserFactory(username="bruno", language=seller_language)
    order = OrderFactory(buyer=buyer, seller=seller)
    with translation.override("en-gb"):
        create_milestone(order, title="Logo", amount="12345.50")
    notice = Notification.objects.get(recipient=seller, event="milestone_created")
    with translation.override(seller_language):
        amount = format_money(Money("12345.50", "USD"))
    return notice, amount


def test_a_german_seller_reads_the_english_buyers_notice_in_german_with_a_german_amount():
    notice, amount = _created_notice("de")

    assert "12.345,50" in amount
    assert notice.message == f"anna hat „Logo“ erstellt und bezahlt ({amount}). " + (
        "Nehmen Sie den Meilenstein an, um zu beginnen."
    )


def test_a_spanish_seller_reads_it_in_spanish_with_a_spanish_amount():
    notice, amount = _created_notice("es")

    assert "12.345,50" in amount
    assert notice.message == f"anna creó y pagó “Logo” ({amount}). Acéptalo para empezar."


def test_the_english_reader_keeps_the_english_words():
    buyer = UserFactory(username="carla", language="de")
    seller = UserFactory(username="dan", language="en-gb")
    order = OrderFactory(buyer=buyer, seller=seller)
    with translation.override("de"):
        milestone = create_milestone(order, title="Logo", amount="1234.50")

    notice = Notification.objects.get(recipient=seller, event="milestone_created")
    with translation.override("en-gb"):
        amount = format_money(Money("1234.50", "USD"))
    assert notice.message == f"carla created and funded “Logo” ({amount}). Accept it to start."

    # The seller accepts (their notice goes to the German buyer, in German) ...
    with translation.override("en-gb"):
        milestone_accept(milestone=milestone, actor=seller)
    accepted = Notification.objects.get(recipient=buyer, event="milestone_accepted")
    assert accepted.message == "dan hat „Logo“ angenommen. Die Arbeit hat begonnen."


def test_an_error_is_in_the_language_of_the_one_who_acted():
    order = OrderFactory()
    milestone = create_milestone(order)
    with translation.override("de"), pytest.raises(NotAllowed) as refused:
        milestone_accept(milestone=milestone, actor=order.buyer)
    assert str(refused.value) == "Nur der Verkäufer dieses Auftrags kann einen Meilenstein annehmen."
