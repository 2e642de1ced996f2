"""Defects found trying the site as a new user (issue 14), each with the test
that would have caught it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from milestones.models import Milestone, MilestoneState
from milestones.services.lifecycle import (
    milestone_approve,
    milestone_decline,
    milestone_request_revision,
    milestone_submit,
)
from tests.factories import OrderFactory, milestone_in, staff_login

pytestmark = pytest.mark.django_db
S = MilestoneState


def text(response) -> str:
    return response.content.decode()


def field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="id_{field}_error">([^<]*)</p>', html)
    return found.group(1) if found else ""


def test_create_milestone_shows_every_fields_error_at_once(client):
    order = OrderFactory()
    client.force_login(order.buyer)
    response = client.post(
        reverse("milestone_new", args=[order.pk]),
        {"title": "", "description": "Wireframes.", "deadline": "2020-01-01T10:00", "amount": "2.505"},
    )
    html = text(response)
    assert field_error(html, "title") == "This field is required."
    assert field_error(html, "deadline") == "The deadline must be in the future."
    assert "at most" in field_error(html, "amount") or "two decimal places" in field_error(html, "amount")
    assert not Milestone.objects.exists()


def test_a_late_milestone_marks_only_its_deadline_and_badge_and_only_while_open(client):
    order = OrderFactory()
    late = milestone_in(S.IN_PROGRESS, order, title="Late one")
    Milestone.objects.filter(pk=late.pk).update(deadline=timezone.now() - timedelta(days=2))
    client.force_login(order.buyer)
    html = text(client.get(order.get_absolute_url()))
    card = html[html.index(f'id="milestone-{late.pk}"') :][:3000]
    assert 'class="badge badge-late">Late</span>' in card
    assert '<dd class="late">' in card and "late by 2 days" in card
    assert "is-late" not in html, "the card itself is not painted red"

    # Delivered and approved: it is no longer marked, though the record keeps that it was late.
    milestone_submit(milestone=late, actor=order.seller, message="Done.", links=["https://example.com"])
    milestone_approve(milestone=Milestone.objects.get(pk=late.pk), actor=order.buyer)
    html = text(client.get(order.get_absolute_url()))
    card = html[html.index(f'id="milestone-{late.pk}"') :][:3000]
    assert "badge-late" not in card and '<dd class="late">' not in card


def test_deliveries_and_revision_requests_read_as_one_thread_in_time_order(client):
    order = OrderFactory()
    milestone = milestone_in(S.IN_PROGRESS, order, title="Logo")
    milestone_submit(milestone=milestone, actor=order.seller, message="First go.", links=["https://a.example"])
    milestone_request_revision(
        milestone=Milestone.objects.get(pk=milestone.pk), actor=order.buyer, feedback="Bolder, please."
    )
    milestone_submit(milestone=Milestone.objects.get(pk=milestone.pk), actor=order.seller, message="Bolder.", links=[])
    client.force_login(order.buyer)
    html = text(client.get(order.get_absolute_url()))
    first, asked, second = html.index("Delivery 1"), html.index("Revision requested"), html.index("Delivery 2")
    assert first < asked < second, "the request made between delivery 1 and 2 sits between them"


def test_a_reason_that_ends_a_sentence_gets_no_second_full_stop():
    from notifications.models import Notification

    order = OrderFactory()
    milestone = milestone_in(S.AWAITING_ACCEPTANCE, order)
    milestone_decline(milestone=milestone, actor=order.seller, reason="Booked until the store submission.")
    notice = Notification.objects.filter(recipient=order.buyer, event="milestone_declined").latest("pk")
    assert "store submission. " in notice.message and ".." not in notice.message


def test_admin_lists_write_money_the_one_way(client):
    from tests.factories import StaffFactory

    milestone_in(S.APPROVED, OrderFactory(), amount="800.00")
    staff_login(client, StaffFactory())
    for url in ("/admin/milestones/milestone/", "/admin/payments/earning/", "/admin/payments/checkout/"):
        html = text(client.get(url))
        assert "US$" not in html, url
    assert "800.00\u00a0USD" in text(client.get("/admin/milestones/milestone/"))


def test_the_dispute_page_history_link_sits_in_the_flow_not_over_the_resolution_box(client):
    from tests.factories import StaffFactory

    milestone = milestone_in(S.DISPUTED, OrderFactory())
    staff_login(client, StaffFactory())
    html = text(client.get(f"/admin/milestones/dispute/{milestone.dispute.pk}/change/"))
    assert 'class="dispute-history-link"' in html and 'class="object-tools"' not in html


def test_the_order_header_says_what_the_order_waits_for(client):
    order = OrderFactory()
    client.force_login(order.buyer)
    assert "Waiting for the first milestone" in text(client.get(order.get_absolute_url()))
    milestone_in(S.CANCELLED, order)
    html = text(client.get(order.get_absolute_url()))
    assert "Every milestone closed: waiting for a new one, or for the buyer to complete the order" in html
    assert ">Waiting for a milestone<" not in html


def test_a_refused_withdrawal_keeps_the_available_amount_and_the_currencies_one_has():
    from django.test import Client

    from tests.views.test_earnings import withdraw

    order = OrderFactory()
    seller = order.seller
    seller.withdrawal_method = "instant"
    seller.save()
    milestone_in(S.APPROVED, order, amount="50.00")  # 40.00 USD available at once
    client = Client()
    response = withdraw(client, seller, "999.00")
    html = text(response)
    assert response.status_code == 400
    assert "Available: 40.00\u00a0USD" in html
    currencies = re.findall(r'<option value="([A-Z]{3})"', html)
    assert currencies == ["USD"], currencies
