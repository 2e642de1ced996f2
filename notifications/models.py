"""In-app notices and their e-mail copies: the lowest domain app.

Every other app may send a notice; this app calls none of them. The recipient
is whatever ``AUTH_USER_MODEL`` names, so nothing here imports ``accounts``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from marketplace.bulk import written_by_hand

# The event of a new message: the header counts these apart ("Messages"), and
# opening a conversation reads them (``inbox.services.conversation_read``).
NEW_MESSAGE = "new_message"


class Notification(models.Model):
    """An in-app notice; the e-mail copy goes out after commit (emailed_at)."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=40)
    message = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # A failed send: how many tries so far, the mail server's last answer, and when the e-mail
    # sweep tries again (EMAIL_RETRY_SECONDS, doubling; after EMAIL_MAX_ATTEMPTS it stops and
    # the notice waits for staff: /metrics counts it, the admin lists it).
    # No CHECK (>= 0): adding one scans the whole table under an exclusive lock.
    email_attempts = models.SmallIntegerField(default=0, db_default=0)
    email_last_error = models.CharField(max_length=300, blank=True, default="", db_default="")
    email_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Created by the first layout, when notices lived in ``marketplace``.
        db_table = "marketplace_notification"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="marketplace_recipie_898c6a_idx"),
            models.Index(fields=["created_at"], name="notification_unemailed", condition=Q(emailed_at__isnull=True)),
            # The header's unread counts on every page: only the unread rows, by recipient and kind. Without
            # it PostgreSQL misjudged a recipient's share of the table and scanned all of it (28 ms).
            models.Index(fields=["recipient", "event"], name="notification_unread", condition=Q(read_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.message


# A clearance batch's notices go in a thousand at once, with hand-written SQL
# (``notifications.services.notifications_send``), which sends no save signal and calls no save():
# give this model neither (the system check ``marketplace.E001`` refuses to start if one appears).
written_by_hand(Notification)


class OutgoingEmail(models.Model):
    """An e-mail that is not a notice's copy (allauth's confirmation, reset, security and
    "someone tried to sign up with your address" mails), queued by the request that asked for it
    and sent by a worker (``notifications.services.outgoing_email_send``), so a request never waits
    on the mail server. Same retry and give-up rule as the notices' copies; the e-mail sweep sends
    what the task never reached. Once sent the body is emptied: it may hold a reset link."""

    to = models.CharField(max_length=320)
    from_email = models.CharField(max_length=320)
    subject = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    kind = models.CharField(max_length=80, blank=True, help_text=_("The template it was made from."))
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.SmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True, default="")
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"], name="outgoing_unsent", condition=Q(sent_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"
