"""Thin Celery tasks over the notification services (the e-mail sweep's own task
is made by ``marketplace.sweeps.register_sweep``, in ``notifications/sweeps.py``).

Every task is safe to run twice (acks_late: a task whose worker dies is run
again); see ``marketplace/sweeps.py``.
"""

from __future__ import annotations

from celery import shared_task

from notifications.services import notification_email_send, notification_emails_send, outgoing_email_send


@shared_task(acks_late=True)
def send_notification_email(notification_id: int) -> bool:
    """E-mail one notification once; a second run is a no-op."""
    return notification_email_send(notification_id=notification_id)


@shared_task(acks_late=True)
def send_notification_emails(notification_ids: list[int]) -> int:
    """E-mail a batch of notifications (``notification_emails_send``); if the
    mail server fails, they stay unsent for the e-mail sweep. Returns how many."""
    return notification_emails_send(notification_ids=notification_ids)


@shared_task(acks_late=True)
def send_outgoing_email(email_id: int) -> bool:
    """Send one queued e-mail (``outgoing_email_send``); a second run is a no-op."""
    return outgoing_email_send(email_id=email_id)
