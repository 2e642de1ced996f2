"""A user's calendar feed: only the SHA-256 of its token is stored, so the address is shown once."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CalendarFeed(models.Model):
    """One live feed per user (a partial unique index); "Reset link" revokes it and makes another,
    so an address that leaked stops working. Revoked rows stay, for the record of when."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # When a calendar last fetched it, written at most once per ``READ_MARK_EVERY``: calendar
    # applications poll, and a write per poll would be a write per user per few minutes.
    last_read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(revoked_at__isnull=True), name="calendar_feed_one_live_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"Calendar feed of {self.user_id}" + (" (revoked)" if self.revoked_at else "")
