"""The e-mail catch-up sweep: notices whose own e-mail task never ran
(broker down, task lost). See ``marketplace/sweeps.py`` for how a sweep
walks and claims its rows."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet

from marketplace.sweeps import DueSet, SweepResult, candidates, now_or, register_sweep, sweep
from notifications.models import Notification, OutgoingEmail
from notifications.services import notification_email_send, outgoing_email_send

# A notification's own e-mail task normally runs within seconds of the commit;
# the catch-up sweep leaves it that long before stepping in.
EMAIL_GRACE = timedelta(minutes=1)


def _emails_due(now: datetime) -> QuerySet[Notification]:
    """Not e-mailed, past the grace, not waiting out a backoff, not given up (EMAIL_MAX_ATTEMPTS)."""
    return Notification.objects.filter(
        Q(email_retry_at__isnull=True) | Q(email_retry_at__lte=now),
        emailed_at__isnull=True,
        created_at__lte=now - EMAIL_GRACE,
        email_attempts__lt=settings.EMAIL_MAX_ATTEMPTS,
    )


def emails_due(now: datetime) -> list[DueSet]:
    return [DueSet("e-mails not sent", _emails_due(now), "created_at", -EMAIL_GRACE)]


@register_sweep("emails", due=emails_due)
def sweep_emails(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """Send the e-mails whose own task never ran (broker down, task lost)."""
    now = now_or(now)
    pks = candidates(_emails_due(now), time_field="created_at")
    return sweep("emails", pks, lambda pk: notification_email_send(notification_id=pk), until=until)


def _outgoing_due(now: datetime) -> QuerySet[OutgoingEmail]:
    """Queued e-mails not sent, past the grace, not waiting out a backoff, not given up."""
    return OutgoingEmail.objects.filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=now),
        sent_at__isnull=True,
        created_at__lte=now - EMAIL_GRACE,
        attempts__lt=settings.EMAIL_MAX_ATTEMPTS,
    )


def outgoing_due(now: datetime) -> list[DueSet]:
    return [DueSet("account e-mails not sent", _outgoing_due(now), "created_at", -EMAIL_GRACE)]


@register_sweep("outgoing_emails", due=outgoing_due)
def sweep_outgoing_emails(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """Send the account e-mails (confirmation, reset, security) whose task never ran or failed."""
    now = now_or(now)
    pks = candidates(_outgoing_due(now), time_field="created_at")
    return sweep("outgoing_emails", pks, lambda pk: outgoing_email_send(email_id=pk), until=until)
