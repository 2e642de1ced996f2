"""Notifications: the header count, the list, opening one (read, then its
target), "Mark all as read", and which of them are e-mailed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def test_header_shows_the_unread_count(client, buyer):
    NotificationFactory.create_batch(3, recipient=buyer)
    NotificationFactory(recipient=buyer, read_at=timezone.now())
    client.force_login(buyer)
    html = text(client.get(reverse("home")))
    assert '<span class="count"><span class="visually-hidden">(</span>3<span class="visually-hidden"> unread)' in html


def test_list_is_newest_first_with_unread_highlighted_and_links(client, buyer, seller):
    old = NotificationFactory(recipient=buyer, message="Old and read", url="/orders/1/", read_at=timezone.now())
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    NotificationFactory(recipient=buyer, message="Fresh news", url="/orders/2/#milestone-5")
    NotificationFactory(recipient=seller, message="Not yours")
    client.force_login(buyer)
    html = text(client.get(reverse("notifications")))
    assert html.count("<h1") == 1
    assert html.index("Fresh news") < html.index("Old and read")
    assert '<li class="notification unread">' in html and html.count('class="notification unread"') == 1
    fresh = Notification.objects.get(message="Fresh news")
    assert (
        f'<form method="post" action="/notifications/{fresh.pk}/open/" class="inline-form">' in html
        and ">Fresh news</button>" in html
    )
    assert "2 days ago · " in html
    assert "Not yours" not in html


def test_mark_all_as_read(client, buyer, seller):
    NotificationFactory.create_batch(2, recipient=buyer)
    NotificationFactory(recipient=seller)
    client.force_login(buyer)
    assert ">Mark all as read</button>" in text(client.get(reverse("notifications")))
    response = client.post(reverse("notifications_read"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("notifications")
    html = text(response)
    assert "Marked 2 notifications as read." in html
    assert 'class="notification unread"' not in html
    assert not Notification.objects.filter(recipient=buyer, read_at__isnull=True).exists()
    # Someone else's stay unread.
    assert Notification.objects.filter(recipient=seller, read_at__isnull=True).count() == 1


def test_mark_all_as_read_is_post_only(client, buyer):
    NotificationFactory(recipient=buyer)
    client.force_login(buyer)
    assert client.get(reverse("notifications_read")).status_code == 405
    assert Notification.objects.filter(read_at__isnull=True).count() == 1


def test_anonymous_goes_to_login(client):
    url = reverse("notifications")
    assert client.get(url)["Location"] == f"/accounts/login/?next={url}"
    response = client.post(reverse("notifications_read"))
    assert response["Location"].startswith("/accounts/login/")


def test_messages_are_escaped_and_only_local_links_are_followed(client, buyer):
    NotificationFactory(recipient=buyer, message="<script>alert(1)</script>", url="javascript:alert(1)")
    client.force_login(buyer)
    html = text(client.get(reverse("notifications")))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html


def test_list_is_paginated(client, buyer):
    NotificationFactory.create_batch(30, recipient=buyer)
    client.force_login(buyer)
    first = text(client.get(reverse("notifications")))
    assert first.count('<li class="notification') == 25
    second = text(client.get(reverse("notifications") + "?page=2"))
    assert second.count('<li class="notification') == 5


def test_query_count_does_not_grow(client, buyer, django_assert_max_num_queries):
    client.force_login(buyer)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("notifications")).status_code == 200
        return len(queries)

    NotificationFactory.create_batch(3, recipient=buyer)
    few = count()
    NotificationFactory.create_batch(27, recipient=buyer)
    assert count() == few
    with django_assert_max_num_queries(6):
        client.get(reverse("notifications"))


def test_unread_filter(client, buyer):
    NotificationFactory(recipient=buyer, message="Already seen", read_at=timezone.now())
    NotificationFactory(recipient=buyer, message="Still new")
    client.force_login(buyer)
    html = text(client.get(reverse("notifications") + "?show=unread"))
    assert "Still new" in html and "Already seen" not in html
    assert "Already seen" in text(client.get(reverse("notifications")))
    client.post(reverse("notifications_read"))
    assert "You are all caught up." in text(client.get(reverse("notifications") + "?show=unread"))


def test_opening_a_notification_marks_it_read_and_goes_to_its_target(client, buyer):
    notice = NotificationFactory(recipient=buyer, message="Milestone submitted", url="/orders/7/#milestone-9")
    other = NotificationFactory(recipient=buyer, message="Still unread")
    client.force_login(buyer)
    response = client.post(reverse("notification_open", args=[notice.pk]))
    assert response.status_code == 302 and response["Location"] == "/orders/7/#milestone-9"
    notice.refresh_from_db()
    assert notice.read_at is not None
    assert Notification.objects.get(pk=other.pk).read_at is None
    # Opening it again goes there again and keeps the first reading time.
    first_read = notice.read_at
    client.post(reverse("notification_open", args=[notice.pk]))
    assert Notification.objects.get(pk=notice.pk).read_at == first_read
    html = text(client.get(reverse("home")))
    assert '<span class="count"><span class="visually-hidden">(</span>1<span class="visually-hidden"> unread)' in html


def test_opening_is_post_only_and_only_ones_own(client, buyer, seller):
    notice = NotificationFactory(recipient=seller, url="/orders/1/")
    client.force_login(buyer)
    assert client.get(reverse("notification_open", args=[notice.pk])).status_code == 405
    assert client.post(reverse("notification_open", args=[notice.pk])).status_code == 404
    assert client.post(reverse("notification_open", args=[987654])).status_code == 404
    assert Notification.objects.get(pk=notice.pk).read_at is None


def test_a_notification_pointing_outside_the_site_opens_the_list(client, buyer):
    notice = NotificationFactory(recipient=buyer, url="https://evil.example/phish")
    client.force_login(buyer)
    response = client.post(reverse("notification_open", args=[notice.pk]))
    assert response["Location"] == reverse("notifications")
    assert Notification.objects.get(pk=notice.pk).read_at is not None


@pytest.mark.parametrize(
    ("preference", "event", "sent"),
    [
        ("all", "money_cleared", True),
        ("all", "milestone_submitted", True),
        ("action", "milestone_submitted", True),
        ("action", "new_message", True),
        ("action", "money_cleared", False),
        ("action", "order_completed", False),
        ("none", "milestone_submitted", False),
        ("none", "money_cleared", False),
    ],
)
def test_email_follows_the_users_preference(buyer, mailoutbox, preference, event, sent):
    from notifications.services import notification_email_send, notification_send

    buyer.email_notifications = preference
    buyer.save(update_fields=["email_notifications"])
    notice = notification_send(recipient=buyer, event=event, message="Something happened", url="/orders/1/")
    assert notification_email_send(notification_id=notice.pk) is True
    assert len(mailoutbox) == (1 if sent else 0)
    # Handled either way: the sweep does not try it again; the notice stays on the site.
    notice.refresh_from_db()
    assert notice.emailed_at is not None and notice.read_at is None


def test_the_email_preference_is_chosen_on_the_profile(client, buyer):
    client.force_login(buyer)
    html = text(client.get(reverse("profile")))
    for label in ("E-mail me", "Every event", "Only those that need my action", "None", "Time zone"):
        assert label in html
    data = {
        "email": buyer.email,
        "bio": "",
        "withdrawal_method": "bank_transfer",
        "payout_account": buyer.payout_account,
        "refund_to": "balance",
        "time_zone": "Asia/Tokyo",
        "email_notifications": "action",
    }
    assert client.post(reverse("profile"), data).status_code == 302
    buyer.refresh_from_db()
    assert (buyer.email_notifications, buyer.time_zone) == ("action", "Asia/Tokyo")
    bad = client.post(reverse("profile"), {**data, "time_zone": "Mars/Olympus", "email_notifications": "sometimes"})
    assert bad.status_code == 200
    assert "Select a valid choice. Mars/Olympus is not one of the available choices." in text(bad)
    buyer.refresh_from_db()
    assert (buyer.email_notifications, buyer.time_zone) == ("action", "Asia/Tokyo")


def test_the_header_counts_stop_past_99_and_show_99_plus(client, buyer):
    from notifications.context_processors import HEADER_COUNT_CAP

    Notification.objects.bulk_create(
        [Notification(recipient=buyer, event="milestone_submitted", message=f"Notice {n}") for n in range(150)]
        + [Notification(recipient=buyer, event="new_message", message=f"Message {n}") for n in range(3)]
    )
    client.force_login(buyer)
    response = client.get("/")
    assert response.context["unread_notifications"] == HEADER_COUNT_CAP + 1, "counting stops there"
    assert response.context["unread_messages"] == 3
    html = response.content.decode()
    assert "Notifications <span" in html and "99+" in html
    assert "(</span>3<span" in html, "a count under the cap as it is"
    Notification.objects.filter(recipient=buyer, event="milestone_submitted").exclude(
        pk__in=Notification.objects.filter(recipient=buyer, event="milestone_submitted").values("pk")[:7]
    ).update(read_at=timezone.now())
    assert client.get("/").context["unread_notifications"] == 7
