"""A notice's times are its reader's: written by a seller in Berlin, read by a buyer in UTC (on the
notifications page and in the e-mail), each sees the time in their own zone with the zone named.
Issue 34: the buyer read "answer by 09 Dec 06:08" (Berlin) while their order page said 05:08 UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from milestones.models import MilestoneState as S
from milestones.services.proposals import extension_request
from notifications.models import Notification
from notifications.services import notification_email_send, notification_send
from notifications.times import MESSAGE_LENGTH, clip_message, notice_text, notice_time
from tests.factories import NotificationFactory, milestone_in

pytestmark = pytest.mark.django_db


def _ask_from_berlin(milestone):
    """The seller, in Berlin, asks to move the deadline to 05:08 UTC (06:08 in Berlin in winter)."""
    new_deadline = (
        (milestone.deadline + timedelta(days=5))
        .astimezone(UTC)
        .replace(month=12, day=9, hour=5, minute=8, second=0, microsecond=0)
    )
    if new_deadline <= milestone.deadline:
        new_deadline = new_deadline.replace(year=new_deadline.year + 1)
    seller = milestone.order.seller
    seller.time_zone = "Europe/Berlin"
    seller.save(update_fields=["time_zone"])
    with timezone.override("Europe/Berlin"):
        extension_request(milestone=milestone, actor=seller, new_deadline=new_deadline, reason="Assets are late.")
    return new_deadline, Notification.objects.get(recipient=milestone.order.buyer, event="extension_requested")


def test_notice_times_are_in_the_readers_zone_labelled_on_the_page(client):
    milestone = milestone_in(S.IN_PROGRESS)
    new_deadline, _ = _ask_from_berlin(milestone)
    buyer = milestone.order.buyer
    assert buyer.time_zone == "UTC"
    client.force_login(buyer)
    html = client.get(reverse("notifications")).content.decode()
    assert f"to {new_deadline:%d %b %Y} 05:08 UTC:" in html
    assert "06:08" not in html and "{{t:" not in html

    buyer.time_zone = "America/New_York"
    buyer.save(update_fields=["time_zone"])
    client.logout()
    client.force_login(buyer)
    html = client.get(reverse("notifications")).content.decode()
    assert f"to {new_deadline:%d %b %Y} 00:08 EST:" in html


def test_notice_times_are_in_the_recipients_zone_labelled_in_the_email(mailoutbox):
    milestone = milestone_in(S.IN_PROGRESS)
    buyer = milestone.order.buyer
    buyer.time_zone = "Asia/Tokyo"
    buyer.save(update_fields=["time_zone"])
    new_deadline, notice = _ask_from_berlin(milestone)
    assert notification_email_send(notification_id=notice.pk) is True
    (mail,) = mailoutbox
    assert f"to {new_deadline:%d %b %Y} 14:08 JST:" in mail.body
    assert "06:08" not in mail.body and "{{" not in mail.body and "{{" not in mail.subject


def test_a_zone_without_a_short_name_is_named_by_its_offset():
    moment = datetime(2026, 12, 9, 5, 8, tzinfo=UTC)
    assert notice_text(f"Due {notice_time(moment)}.", ZoneInfo("America/Sao_Paulo")) == "Due 09 Dec 2026 02:08 UTC-03."


def test_notices_written_before_the_tokens_read_as_they_were(client, buyer):
    NotificationFactory(recipient=buyer, message="Answer by 09 Dec 2026 06:08 {{ not a token }}.")
    client.force_login(buyer)
    html = client.get(reverse("notifications")).content.decode()
    assert "Answer by 09 Dec 2026 06:08 {{ not a token }}." in html


def test_a_long_notice_is_cut_before_a_time_never_inside_it(buyer):
    moment = datetime(2026, 12, 9, 5, 8, tzinfo=UTC)
    head = "x" * (MESSAGE_LENGTH - 10)
    notice = notification_send(recipient=buyer, event="x", message=f"{head} {notice_time(moment)} and more")
    assert notice.message == head
    kept = clip_message(f"{'y' * 100} {notice_time(moment)}")
    assert notice_text(kept) == f"{'y' * 100} 09 Dec 2026 05:08 UTC"
