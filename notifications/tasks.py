"""Thin Celery tasks over the notification services and sweep.

Every task is safe to run twice (acks_late: a task whose worker dies is run
again); see ``marketplace/sweeps.py``.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from marketplace.sweeps import sweep_tick
from notifications import sweeps
from notifications.services import notification_email_send

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def send_notification_email(notification_id: int) -> bool:
    """E-mail one notification once; a second run is a no-op."""
    return notification_email_send(notification_id=notification_id)


@shared_task(acks_late=True)
def send_notification_emails(notification_ids: list[int]) -> int:
    """E-mail a batch of notifications, each once and in its own transaction;
    one that fails stays unsent for the e-mail sweep. Returns how many were sent."""
    sent = 0
    for notification_id in notification_ids:
        try:
            sent += notification_email_send(notification_id=notification_id)
        except Exception:
            logger.exception("e-mail of notification %s failed; the e-mail sweep will retry it", notification_id)
    return sent


@shared_task(acks_late=True)
def sweep_emails() -> dict[str, Any]:
    return sweep_tick(sweep_emails, sweeps.sweep_emails)
