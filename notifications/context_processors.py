"""The unread count every page's header shows."""

from __future__ import annotations

from django.http import HttpRequest

from notifications.models import Notification


def navigation(request: HttpRequest) -> dict[str, int]:
    """The unread-notification count for the header, one cheap query."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": Notification.objects.filter(recipient=user, read_at__isnull=True).count()}
