"""The sandbox's webhook delivery on the queue: the first send right after commit
(``deliver_event``); beat's sweep sends again on the retry schedule (``sandbox.delivery``)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from marketplace.sweeps import sweep_tick
from sandbox import sweeps
from sandbox.delivery import deliver


@shared_task(acks_late=True)
def deliver_event(event_pk: int) -> bool:
    return deliver(event_pk)


@shared_task(acks_late=True)
def sweep_webhooks() -> dict[str, Any]:
    return sweep_tick(sweep_webhooks, sweeps.sweep_webhooks)
