"""Thin Celery tasks over the notification services and sweep.

Every task is safe to run twice (acks_late: a task whose worker dies is run
again); see ``marketplace/sweeps.py``.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from marketplace.sweeps import task_deadline
from notifications import sweeps
from notifications.services import notification_email_send


@shared_task(acks_late=True)
def send_notification_email(notification_id: int) -> bool:
    """E-mail one notification once; a second run is a no-op."""
    return notification_email_send(notification_id=notification_id)


@shared_task(acks_late=True)
def sweep_emails() -> dict[str, Any]:
    return sweeps.sweep_emails(until=task_deadline()).as_dict()
