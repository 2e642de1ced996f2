"""The account e-mails (allauth's) are queued by the request and sent by a worker
(``notifications.services.outgoing_email_queue``); a test that reads ``mail.outbox`` after a request
first does what the worker would."""

from __future__ import annotations

from notifications.models import OutgoingEmail
from notifications.services import outgoing_email_send


def deliver_queued_mail() -> int:
    """Send every queued account e-mail now, oldest first, as the worker would; returns how many."""
    pks = OutgoingEmail.objects.filter(sent_at__isnull=True).order_by("pk").values_list("pk", flat=True)
    return sum(outgoing_email_send(email_id=pk) for pk in list(pks))
