"""Notifications: the header count, the list, and "Mark all as read"."""

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
    assert '<a href="/orders/2/#milestone-5">Fresh news</a>' in html
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
