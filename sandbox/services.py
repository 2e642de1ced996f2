"""What happens on the sandbox's side: a card paid on its page, a session
expired, and the webhook it then owes the marketplace."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from marketplace.queue import enqueue_on_commit
from payments.providers import minor_units
from sandbox import cards
from sandbox.models import SandboxEvent, SandboxSession
from sandbox.operations import new_id, record_operation


class CardRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _session_object(session: SandboxSession) -> dict[str, Any]:
    return {
        "id": session.session_id,
        "object": "checkout.session",
        "status": session.status,
        "payment_status": session.payment_status,
        "payment_intent": session.payment_reference or None,
        "amount_total": minor_units(session.amount),
        "currency": str(session.amount.currency).lower(),
        "client_reference_id": session.reference,
        "expires_at": int(session.expires_at.timestamp()),
    }


def event_emit(*, type: str, obj: dict[str, Any], webhook_url: str) -> SandboxEvent:
    """Queue a webhook in Stripe's event shape: sent after commit, sent again by the sweep
    (``sandbox.delivery``) until it is answered 2xx."""
    event_id = f"evt_sandbox_{uuid.uuid4().hex[:24]}"
    payload = {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "type": type,
        "livemode": False,
        "data": {"object": obj},
    }
    event = SandboxEvent.objects.create(
        event_id=event_id,
        type=type,
        payload=payload,
        url=webhook_url,
        next_attempt_at=timezone.now() + settings.SANDBOX_WEBHOOK_RETRY_SCHEDULE[0],
    )
    enqueue_on_commit("sandbox.tasks.deliver_event", event.pk)
    return event


def webhook_url_for(request_url: str) -> str:
    """Where the marketplace listens: the setting, else the URL of the site the buyer paid on."""
    return settings.SANDBOX_WEBHOOK_URL or request_url


def session_pay(*, session_id: str, card_number: str, webhook_url: str) -> SandboxSession:
    """The buyer pays on the sandbox's page. A refused card raises ``CardRefused``."""
    ok, code, message = cards.card_outcome(card_number)
    with transaction.atomic():
        session = SandboxSession.objects.select_for_update().get(session_id=session_id)
        if session.status != "open" or session.payment_status == "paid":
            return session
        if session.expires_at <= timezone.now():
            raise CardRefused("expired", gettext_noop("This checkout has expired."))
        if not ok:
            # The attempt is recorded, as Stripe records a failed PaymentIntent; the session stays open.
            record_operation(
                kind="charge",
                key=f"{session.idempotency_key}:attempt:{uuid.uuid4().hex}",
                amount=session.amount,
                ok=False,
                reference="",
                failure_code=code,
            )
            raise CardRefused(code, message)
        reference = new_id("pi")
        record_operation(
            kind="charge", key=f"{session.idempotency_key}:charge", amount=session.amount, ok=True, reference=reference
        )
        session.status = "complete"
        session.payment_status = "paid"
        session.payment_reference = reference
        session.paid_at = timezone.now()
        session.save(update_fields=["status", "payment_status", "payment_reference", "paid_at"])
        if webhook_url:
            event_emit(type="checkout.session.completed", obj=_session_object(session), webhook_url=webhook_url)
    return session


def session_expire(*, session_id: str, webhook_url: str = "") -> bool:
    """Expire an open, unpaid session (Stripe: ``POST /v1/checkout/sessions/:id/expire``)."""
    with transaction.atomic():
        session = SandboxSession.objects.select_for_update().filter(session_id=session_id).first()
        if session is None or session.status != "open":
            return False
        session.status = "expired"
        session.save(update_fields=["status"])
        url = webhook_url or settings.SANDBOX_WEBHOOK_URL
        if url:
            event_emit(type="checkout.session.expired", obj=_session_object(session), webhook_url=url)
    return True


def event_payload_bytes(event: SandboxEvent) -> bytes:
    return json.dumps(event.payload, separators=(",", ":")).encode()
