"""The unread counts every page's header shows."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest

from notifications.models import NEW_MESSAGE, Notification

# The header says "99+" past this, so counting stops there: a user with thousands of unread notices
# costs what one with a hundred does (on the index of unread rows, ``notification_unread``).
HEADER_COUNT_CAP = 99

# The limit is written into the statement, not passed as a parameter: the planner must know it is
# small to read the index and stop.
_COUNTS = f"""
SELECT
  (SELECT count(*) FROM (SELECT 1 FROM {Notification._meta.db_table}
    WHERE recipient_id = %(user)s AND read_at IS NULL AND event <> %(message)s LIMIT {HEADER_COUNT_CAP + 1}) AS n),
  (SELECT count(*) FROM (SELECT 1 FROM {Notification._meta.db_table}
    WHERE recipient_id = %(user)s AND read_at IS NULL AND event = %(message)s LIMIT {HEADER_COUNT_CAP + 1}) AS m)
"""  # noqa: S608 - table name and limit are ours; the values are parameters


def unread_counts(request: HttpRequest) -> dict[str, int]:
    """Unread notices and unread messages for the header, in one query, each counted up to
    ``HEADER_COUNT_CAP`` + 1 (the template shows "99+" then). Read once per request: a view that
    needs them first (the order page, to know whether it has notices to mark read) shares them
    with the header."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    counts = getattr(request, "_unread_counts", None)
    if counts is None:
        with connection.cursor() as cursor:
            cursor.execute(_COUNTS, {"user": user.pk, "message": NEW_MESSAGE})
            notices, messages = cursor.fetchone()
        counts = {"unread_notifications": notices, "unread_messages": messages}
        request._unread_counts = counts  # type: ignore[attr-defined]
    return counts


def forget_unread_counts(request: HttpRequest) -> None:
    """After the view marked notices read: the header counts again."""
    request.__dict__.pop("_unread_counts", None)


def navigation(request: HttpRequest) -> dict[str, int]:
    """The context processor: the header's ``unread_counts``."""
    return unread_counts(request)
