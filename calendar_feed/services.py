"""The writes of the calendar feed: create (or reset), revoke, and the throttled mark of a read."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from calendar_feed.models import CalendarFeed, token_hash
from marketplace.http import site_url

READ_MARK_EVERY = timedelta(hours=1)


def feed_url(token: str) -> str:
    """The feed's absolute address: a calendar application fetches it away from any request."""
    return site_url(reverse("calendar_feed_ics", kwargs={"token": token}))


def calendar_feed_create(*, user: User) -> tuple[CalendarFeed, str]:
    """A new feed for ``user``, revoking the live one if any ("Reset link"). Returns the token, which
    is stored nowhere: the caller shows it once. Under the user's row lock, so two clicks at once
    make one live feed rather than an error on the partial unique index."""
    now = timezone.now()
    with transaction.atomic():
        User.objects.select_for_update(of=("self",)).filter(pk=user.pk).values_list("pk", flat=True).get()
        CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
        token = secrets.token_urlsafe(32)
        feed = CalendarFeed.objects.create(user=user, token_hash=token_hash(token))
    return feed, token


def calendar_feed_revoke(*, user: User) -> bool:
    """Revokes the user's live feed; whether there was one."""
    return bool(CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now()))


def calendar_feed_mark_read(*, feed: CalendarFeed, now: datetime) -> None:
    """Notes that a calendar fetched the feed, at most once per ``READ_MARK_EVERY``."""
    if feed.last_read_at is not None and now - feed.last_read_at < READ_MARK_EVERY:
        return
    CalendarFeed.objects.filter(pk=feed.pk).update(last_read_at=now)
    feed.last_read_at = now
