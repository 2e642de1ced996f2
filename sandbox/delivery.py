"""The sandbox delivers its webhooks as a provider does: signed, over HTTP, and
sent again until answered 2xx.

Stripe retries an unanswered event for up to three days with a growing wait;
the sandbox does the same on ``SANDBOX_WEBHOOK_RETRY_SCHEDULE`` (1 min, 5 min,
30 min, 2 h, … about 2.7 days in all). The database is the clock: each event
carries ``next_attempt_at``, set when it is made, so a delivery lost with a
killed worker (its message unacknowledged in Redis for the broker's visibility
timeout) is sent again by the sweep a minute later, not an hour later.

Two sends of one event at once (the task and the sweep) are harmless: the
marketplace stores events by id and answers a replay 200.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from payments.providers import sign_payload
from sandbox.models import SandboxEvent
from sandbox.services import event_payload_bytes

logger = logging.getLogger(__name__)

# How long one send may take before the sweep may take the event again.
LEASE = timedelta(seconds=30)


def retry_after(attempts: int) -> timedelta | None:
    """The wait after the ``attempts``-th failed send, or None once the schedule is spent."""
    schedule = settings.SANDBOX_WEBHOOK_RETRY_SCHEDULE
    return schedule[attempts - 1] if 0 < attempts <= len(schedule) else None


def _post(event: SandboxEvent) -> tuple[bool, str]:
    payload = event_payload_bytes(event)
    if not event.url.startswith(("http://", "https://")):
        return False, f"not an HTTP URL: {event.url!r}"[:200]
    request = urllib.request.Request(  # noqa: S310 - checked just above
        event.url,
        data=payload,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": sign_payload(payload, settings.SANDBOX_WEBHOOK_SECRET),
            "User-Agent": "Sandbox/1.0 (+webhooks)",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own endpoint
            return 200 <= response.status < 300, f"{response.status}"
    except urllib.error.HTTPError as error:
        return False, f"{error.code}"
    except (urllib.error.URLError, OSError) as error:
        return False, f"unreachable: {error}"[:200]


def deliver(event_pk: int, *, now: datetime | None = None) -> bool:
    """Send the event once with a fresh ``Stripe-Signature``; True once it has been answered
    2xx (now or before). A failed send sets when the next one is due."""
    event = SandboxEvent.objects.get(pk=event_pk)
    if event.delivered_at is not None:
        return True
    ok, status = _post(event)
    now = timezone.now() if now is None else now
    attempts = event.attempts + 1
    wait = None if ok else retry_after(attempts)
    SandboxEvent.objects.filter(pk=event.pk, delivered_at=None).update(
        attempts=attempts,
        last_status=status,
        delivered_at=now if ok else None,
        next_attempt_at=None if wait is None else now + wait,
    )
    if not ok:
        if wait is None:
            logger.error("sandbox webhook %s given up after %s attempts (%s)", event.event_id, attempts, status)
        else:
            logger.warning("sandbox webhook %s answered %s; next attempt in %s", event.event_id, status, wait)
    return ok


def due(now: datetime) -> QuerySet[SandboxEvent]:
    return SandboxEvent.objects.filter(delivered_at=None, next_attempt_at__lte=now)


def deliver_due(pk: int, now: datetime) -> bool:
    """The sweep's step: lease the event (a conditional update, so two sweeps do not
    both take it), then send it. True if it was taken and answered 2xx."""
    taken = due(now).filter(pk=pk).update(next_attempt_at=now + LEASE)
    return bool(taken) and deliver(pk, now=now)
