"""The webhooks' task, on its own ``webhooks`` queue (a slow receiver holds up nothing else); the
retry sweep's task is made by ``marketplace.sweeps.register_sweep`` (``webhooks/sweeps.py``)."""

from __future__ import annotations

from celery import shared_task

from webhooks.services import delivery_attempt


@shared_task(acks_late=True)
def deliver_webhook(delivery_id: int) -> bool | None:
    """Post one delivery if it is due (``delivery_attempt``); a second run is a no-op."""
    return delivery_attempt(delivery_id=delivery_id)
