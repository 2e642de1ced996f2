"""The unread counts every page's header shows."""

from __future__ import annotations

from django.db.models import Count, Q
from django.http import HttpRequest

from notifications.models import NEW_MESSAGE, Notification


def navigation(request: HttpRequest) -> dict[str, int]:
    """Unread notices and unread messages for the header, in one cheap query."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    counts = Notification.objects.filter(recipient=user, read_at__isnull=True).aggregate(
        notices=Count("id", filter=~Q(event=NEW_MESSAGE)), messages=Count("id", filter=Q(event=NEW_MESSAGE))
    )
    return {"unread_notifications": counts["notices"], "unread_messages": counts["messages"]}
