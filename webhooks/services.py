"""Writes on outgoing webhooks: a user's endpoints, the events the domain services emit to them
(``webhooks_emit``, in the emitter's transaction; the send after commit), and each delivery.

Lock order: a delivery, then its endpoint (``delivery_attempt``, after the POST); the endpoint's own
writes lock the endpoint alone, and deleting one deletes its deliveries first.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from marketplace.errors import InvalidInput, NotAllowed
from marketplace.queue import enqueue_on_commit
from notifications.services import notification_send
from webhooks.addresses import post, url_target
from webhooks.models import EVENT_NAMES, DeliveryStatus, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.tasks.deliver_webhook"
MAX_ENDPOINTS = 10
MAX_BACKOFF = timedelta(hours=12)


def endpoint_create(*, user: AbstractBaseUser, url: str, events: Sequence[str]) -> WebhookEndpoint:
    """Register an endpoint: an https URL on a public address (``url_target``), at least one event."""
    url = (url or "").strip()
    errors: list[InvalidInput] = []
    if not url:
        errors.append(InvalidInput(_("Enter the URL to post events to."), field="url"))
    elif len(url) > 500:
        errors.append(InvalidInput(_("Keep the URL to 500 characters or fewer."), field="url"))
    else:
        try:
            url_target(url)
        except InvalidInput as exc:
            errors.append(exc)
    chosen = [e for e in dict.fromkeys(events) if e in EVENT_NAMES]
    if not chosen or len(chosen) != len(set(events)):
        errors.append(InvalidInput(_("Choose at least one event from the list."), field="events"))
    if errors:
        raise errors[0] if len(errors) == 1 else InvalidInputs(errors)
    with transaction.atomic():
        get_user_model().objects.select_for_update().get(pk=user.pk)  # two tabs cannot pass the cap together
        if WebhookEndpoint.objects.filter(user=user).count() >= MAX_ENDPOINTS:
            raise NotAllowed(_("You can have at most {count} endpoints; delete one first.").format(count=MAX_ENDPOINTS))
        return WebhookEndpoint.objects.create(user=user, url=url, events=chosen)


class InvalidInputs(InvalidInput):
    """Several fields wrong at once: the form shows every one."""

    def __init__(self, errors: list[InvalidInput]) -> None:
        super().__init__(errors[0].message, field=errors[0].field)
        self.errors = errors


def endpoint_for(*, user: AbstractBaseUser, endpoint_id: int) -> WebhookEndpoint:
    """The user's own endpoint; anyone else's is ``WebhookEndpoint.DoesNotExist`` (a 404)."""
    return WebhookEndpoint.objects.get(pk=endpoint_id, user=user)


def endpoint_delete(*, user: AbstractBaseUser, endpoint_id: int) -> None:
    """Delete the user's endpoint with its log: the deliveries first (lock order: a delivery, then its
    endpoint), waiting for a worker posting one to finish."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id, user=user)
        WebhookDelivery.objects.filter(endpoint=endpoint).delete()
        endpoint.delete()


def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str, notify: bool) -> None:
    """Stop posting to ``endpoint``. Caller holds the endpoint's lock.
    ``notify``: the system disabled it, so the owner is told (in-app and by e-mail)."""
    if not endpoint.is_active:
        return
    endpoint.is_active = False
    endpoint.disabled_at = timezone.now()
    endpoint.disabled_reason = reason[:300]
    endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason"])
    # Its pending deliveries fail when next picked (``delivery_attempt``), not here: updating them
    # would wait on a worker that holds one and waits for this endpoint (lock order: delivery first).
    if notify:
        notification_send(
            recipient=endpoint.user,
            event="webhook_disabled",
            # Lazy, in the owner's language; ``reason`` was written in it (``delivery_attempt``).
            message=format_lazy(
                gettext_lazy("Your webhook endpoint {url} was disabled: {reason}"), url=endpoint.url, reason=reason
            ),
            url=endpoint.get_absolute_url(),
        )


def endpoint_set_active(*, user: AbstractBaseUser, endpoint_id: int, active: bool) -> WebhookEndpoint:
    """The owner disables or enables an endpoint; enabling starts its failure count afresh."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id, user=user)
        if not active:
            endpoint_disable(endpoint=endpoint, reason=_("Disabled by you."), notify=False)
        elif not endpoint.is_active:
            endpoint.is_active = True
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
            endpoint.consecutive_failures = 0
            endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason", "consecutive_failures"])
        return endpoint


def webhooks_emit(*, user: AbstractBaseUser | None, event_type: str, data: dict[str, Any]) -> list[int]:
    """An event for ``user``: one delivery per active endpoint of theirs that asked for it, in the
    caller's transaction; each is sent after commit by the ``webhooks`` task (a request never waits
    on a receiver), or by the sweep if the broker was away. Returns the deliveries' ids."""
    return webhooks_emit_to(users=(user,), event_type=event_type, data=data)


def webhooks_emit_to(*, users: Iterable[AbstractBaseUser | None], event_type: str, data: dict[str, Any]) -> list[int]:
    """``webhooks_emit`` to each of several users (an order's two parties) at once: one query finds
    their endpoints (the one statement an event adds to a service with no endpoint to post to),
    one event id for them all."""
    user_ids = {user.pk for user in users if user is not None}
    if not user_ids or event_type not in EVENT_NAMES:
        return []
    endpoints = [
        pk
        for pk, events in WebhookEndpoint.objects.filter(user_id__in=user_ids, is_active=True)
        .order_by("pk")
        .values_list("pk", "events")
        if event_type in events
    ]
    if not endpoints:
        return []
    now = timezone.now()
    event_id = uuid.uuid4()
    payload = {"id": str(event_id), "type": event_type, "created": now.isoformat(), "data": data}
    ids = []
    for pk in endpoints:
        delivery = WebhookDelivery.objects.create(
            endpoint_id=pk, event_type=event_type, event_id=event_id, payload=payload, next_attempt_at=now
        )
        enqueue_on_commit(DELIVER_TASK, delivery.pk)
        ids.append(delivery.pk)
    return ids


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """``Marketplace-Signature``: ``t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: ``WEBHOOKS_RETRY_BASE`` doubling, at most 12 hours."""
    base: timedelta = settings.WEBHOOKS_RETRY_BASE
    return min(base * (2 ** min(attempts - 1, 20)), MAX_BACKOFF)


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> bool | None:
    """Post one due delivery once: True delivered, False failed this time, None nothing to do (not
    due, done, or another worker has it: ``skip_locked``). Safe to run twice.

    The URL is checked again (``url_target``) and the connection goes to the address checked. A
    failure waits ``backoff``; past ``WEBHOOKS_RETRY_PERIOD`` after the event, or at
    ``WEBHOOKS_DISABLE_AFTER`` failures in a row, the delivery has failed and the endpoint is
    disabled with a notice to its owner. The delivery's row stays locked during the POST (at most
    ``WEBHOOKS_TIMEOUT_SECONDS``), so no two workers post it together; the endpoint's only after it.
    An endpoint disabled or deleted during the POST: its outcome is recorded, nothing more.
    """
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        # Read, not locked, for the POST: the owner's own changes and the endpoint's other deliveries
        # must not wait on a slow receiver. Locked after it, to count the outcome.
        endpoint = WebhookEndpoint.objects.select_related("user").get(pk=delivery.endpoint_id)
        # What is written for the owner to read (the log's errors, why it was disabled) in their language.
        with translation.override(getattr(endpoint.user, "language", "") or settings.LANGUAGE_CODE):
            if not endpoint.is_active:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
                delivery.last_error = _("The endpoint was disabled.")
                delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
                return False
            code, error = _send(endpoint, delivery)
            endpoint = (
                WebhookEndpoint.objects.select_for_update(of=("self",)).select_related("user").get(pk=endpoint.pk)
            )
            delivery.attempts += 1
            delivery.last_response_code = code
            delivery.last_error = error[:300]
            if code is not None and 200 <= code < 300:
                delivery.status = DeliveryStatus.DELIVERED
                delivery.delivered_at = timezone.now()
                delivery.next_attempt_at = None
                delivery.save()
                if endpoint.consecutive_failures:
                    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
                return True
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + 1)
            endpoint.refresh_from_db(fields=["consecutive_failures"])
            retry_at = now + backoff(delivery.attempts)
            window_end = delivery.created_at + settings.WEBHOOKS_RETRY_PERIOD
            # A "Send again" of an event older than the window is one attempt: its failure disables nothing.
            resent_late = now > window_end
            gave_up = retry_at > window_end and not resent_late
            if gave_up or resent_late:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = retry_at
            delivery.save()
            logger.info("webhook delivery %s failed (attempt %d): %s", delivery.pk, delivery.attempts, error or code)
            if gave_up:
                endpoint_disable(
                    endpoint=endpoint,
                    reason=_("a delivery was not accepted (answered 2xx) for 3 days of retries."),
                    notify=True,
                )
            elif endpoint.consecutive_failures >= settings.WEBHOOKS_DISABLE_AFTER:
                endpoint_disable(
                    endpoint=endpoint,
                    reason=ngettext(
                        "{n} deliveries in a row were not accepted (answered 2xx).",
                        "{n} deliveries in a row were not accepted (answered 2xx).",
                        endpoint.consecutive_failures,
                    ).format(n=endpoint.consecutive_failures),
                    notify=True,
                )
            return False


def _send(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the delivery: (status code, "") when the receiver answered, (None or the code, error) when not."""
    try:
        target = url_target(endpoint.url)
    except InvalidInput as exc:
        return None, exc.message
    body = body_bytes(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Marketplace-Webhooks/1",
        "Marketplace-Signature": signature_header(endpoint.secret, int(time.time()), body),
    }
    try:
        code = post(target, body, headers, timeout=settings.WEBHOOKS_TIMEOUT_SECONDS)
    except (OSError, ValueError) as exc:  # refused, timed out, TLS: the receiver did not answer
        return None, f"{type(exc).__name__}: {exc}"
    if 200 <= code < 300:
        return code, ""
    return code, _("Answered {code}.").format(code=code)


def delivery_resend(*, user: AbstractBaseUser, delivery_id: int) -> WebhookDelivery:
    """ "Send again": the same event (same id, same body) queued for a fresh attempt now."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .get(pk=delivery_id, endpoint__user=user)
        )
        if not delivery.endpoint.is_active:
            raise NotAllowed(_("This endpoint is disabled; enable it before sending again."))
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = timezone.now()
        delivery.save(update_fields=["status", "next_attempt_at"])
        enqueue_on_commit(DELIVER_TASK, delivery.pk)
        return delivery


def webhooks_erase_for(user: AbstractBaseUser) -> int:
    """Account deletion: the user's endpoints and their deliveries go. Returns how many endpoints."""
    WebhookDelivery.objects.filter(endpoint__user=user).delete()
    deleted, _ = WebhookEndpoint.objects.filter(user=user).delete()
    return deleted
