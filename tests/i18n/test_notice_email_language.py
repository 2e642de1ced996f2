"""A notice and its e-mail copy are in their recipient's language, not the writer's: a buyer writing
in English to a German seller sends the seller a German notice, and the e-mail copy's dates are
German too; a Spanish user's dashboard is Spanish (issue 38)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from notifications.models import Notification
from notifications.services import notification_email_send, notification_send
from notifications.times import notice_day
from orders.services import order_message_send
from tests.factories import OrderFactory, milestone_in

pytestmark = pytest.mark.django_db


def test_the_email_copy_of_a_notice_to_a_german_user_is_in_german(mailoutbox):
    order = OrderFactory(title="Logo")
    seller = order.seller
    seller.language = "de"
    seller.save(update_fields=["language"])
    order_message_send(order=order, author=order.buyer, body="Hello, here are the files.")
    notice = Notification.objects.get(recipient=seller, event="new_message")
    assert notice.message == f"Neue Nachricht von {order.buyer.username} in „Logo“."
    assert notification_email_send(notification_id=notice.pk) is True
    (mail,) = mailoutbox
    assert mail.subject == notice.message
    assert mail.body.startswith(notice.message) and "New message" not in mail.body


def test_the_dates_framing_a_german_email_are_german(mailoutbox):
    order = OrderFactory(title="Logo")
    buyer = order.buyer
    buyer.language = "de"
    buyer.save(update_fields=["language"])
    day = notice_day(datetime(2026, 12, 9, 12, 0, tzinfo=UTC))
    message = format_lazy(
        gettext_lazy("{name} asks for your review of “{title}”. You can leave one until {day}."),
        name=order.seller.username,
        title=order.title,
        day=day,
    )
    notice = notification_send(recipient=buyer, event="review_requested", message=message, url=order.get_absolute_url())
    assert notification_email_send(notification_id=notice.pk) is True
    (mail,) = mailoutbox
    assert f"{order.seller.username} bittet Sie um eine Bewertung zu „Logo“" in mail.body
    assert "bis zum 09 Dez 2026" in mail.body and "Dec" not in mail.body and "{{" not in mail.body


def test_an_english_email_copy_is_unchanged(mailoutbox):
    order = OrderFactory(title="Logo")
    order_message_send(order=order, author=order.buyer, body="Hello.")
    notice = Notification.objects.get(recipient=order.seller, event="new_message")
    assert notice.message == f"New message from {order.buyer.username} on “Logo”."
    notification_email_send(notification_id=notice.pk)
    (mail,) = mailoutbox
    assert mail.body.startswith(notice.message)


def test_the_dashboard_of_a_spanish_user_is_in_spanish(client):
    milestone = milestone_in("in_review")
    buyer = milestone.order.buyer
    buyer.language = "es"
    buyer.save(update_fields=["language"])
    client.force_login(buyer)
    html = client.get(reverse("buyer_dashboard")).content.decode()
    for words in ("Compras", "Por revisar", "Aprueba el trabajo o pide una revisión.", "Pedidos sin hito"):
        assert words in html
    for words in ("To review", "Orders without a milestone", "Approve the work or ask for a revision."):
        assert words not in html
    summary = client.get(reverse("dashboard")).content.decode()
    assert "Pendientes de tu revisión" in summary and "Waiting for your review" not in summary


def test_the_same_dashboard_in_english_and_then_in_spanish_is_not_served_from_the_other(client):
    """The rendered sections are reused per viewer and version: the language is part of that key."""
    milestone = milestone_in("in_review")
    buyer = milestone.order.buyer
    client.force_login(buyer)
    assert "To review" in client.get(reverse("buyer_dashboard")).content.decode()
    buyer.language = "es"
    buyer.save(update_fields=["language"])
    client.logout()
    client.force_login(buyer)
    assert "Por revisar" in client.get(reverse("buyer_dashboard")).content.decode()
