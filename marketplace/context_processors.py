from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict:
    """The unread-notification count for the header, one cheap query."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": user.notifications.filter(read_at__isnull=True).count()}
