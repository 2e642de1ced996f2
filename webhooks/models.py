"""A user's outgoing webhooks: the endpoints they registered and every delivery of an event to one.

The app sits just above ``notifications``: the domain services above call ``webhooks_emit`` with
plain dicts, and it knows the user only as ``AUTH_USER_MODEL``.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# The event types a user may subscribe to, and their labels on the "Add endpoint" form.
EVENT_TYPES: tuple[tuple[str, Any], ...] = (
    ("milestone.state_changed", _("Milestone state changes")),
    ("proposal.updated", _("Proposals (offers, changes, extensions, cancellations)")),
    ("message.created", _("Messages")),
    ("payment.funded", _("Payments funded into escrow")),
    ("payment.released", _("Payments released to the seller")),
    ("payment.refunded", _("Payments refunded to the buyer")),
    ("payment.tipped", _("Tips paid to the seller")),
    ("payout.paid", _("Payouts sent")),
    ("payout.failed", _("Payouts failed")),
)
EVENT_NAMES = frozenset(name for name, _ in EVENT_TYPES)


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


class WebhookEndpoint(models.Model):
    """Where a user wants their events posted. ``secret`` signs every body; it is stored as is
    (the project has no encryption at rest for secrets) because signing needs it, and shown only
    to its owner on the endpoint's page."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=80, default=new_secret)
    is_active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url

    def get_absolute_url(self) -> str:
        return reverse("webhook_endpoint", args=[self.pk])

    @property
    def event_labels(self) -> list[str]:
        labels = dict(EVENT_TYPES)
        return [labels.get(event, event) for event in self.events]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one endpoint: sent by the ``webhooks`` task after commit, again by the sweep
    at ``next_attempt_at`` until answered 2xx or ``WEBHOOKS_RETRY_PERIOD`` has passed."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40)
    event_id = models.UUIDField()
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_response_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
            models.Index(fields=["next_attempt_at", "id"], name="webhook_delivery_due", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
