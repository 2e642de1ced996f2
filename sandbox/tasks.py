"""The sandbox's webhook delivery on the queue: the first send right after commit. Beat's
sweep (``sandbox.sweeps``) sends again on the retry schedule (``sandbox.delivery``)."""

from __future__ import annotations

from celery import shared_task

from sandbox.delivery import deliver


@shared_task(acks_late=True)
def deliver_event(event_pk: int) -> bool:
    return deliver(event_pk)
