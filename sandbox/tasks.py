"""The sandbox delivers its webhooks as a provider does: signed, over HTTP, retried."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from payments.providers import sign_payload
from sandbox.models import SandboxEvent
from sandbox.services import event_payload_bytes

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


class DeliveryFailed(Exception):
    pass


def deliver(event_pk: int) -> bool:
    """POST the event to its URL with a fresh ``Stripe-Signature``; True once answered 2xx."""
    event = SandboxEvent.objects.get(pk=event_pk)
    if event.delivered_at is not None:
        return True
    payload = event_payload_bytes(event)
    if not event.url.startswith(("http://", "https://")):
        raise DeliveryFailed(f"not an HTTP URL: {event.url!r}")
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
            status = f"{response.status}"
            ok = 200 <= response.status < 300
    except urllib.error.HTTPError as error:
        status, ok = f"{error.code}", False
    except (urllib.error.URLError, OSError) as error:
        status, ok = f"unreachable: {error}"[:200], False
    SandboxEvent.objects.filter(pk=event.pk).update(
        attempts=event.attempts + 1, last_status=status, delivered_at=timezone.now() if ok else None
    )
    return ok


@shared_task(bind=True, acks_late=True, max_retries=MAX_ATTEMPTS)
def deliver_event(self, event_pk: int) -> bool:
    if deliver(event_pk):
        return True
    logger.warning("sandbox webhook %s not delivered; retrying", event_pk)
    raise self.retry(countdown=min(2**self.request.retries, 300))
