"""The provider's webhooks: verified, stored once, then acted on.

One endpoint per provider (``/payments/webhooks/<provider>/``), and only the
configured provider's answers. The order of work, in one transaction: store
the event by its id (a replay finds it and answers 200 having changed
nothing), act on it, record the outcome. An unexpected error rolls back both,
and the 500 makes the provider send it again later.

Events may arrive in any order or long after the fact; each handler asks the
checkout's current state, never assumes it: a ``completed`` for a session we
already expired refunds the payment (``late_payment_refund``), an ``expired``
for one already paid changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.checkout import session_apply
from payments.connect import account_updated
from payments.models import WebhookEvent
from payments.providers import (
    CheckoutSession,
    ProviderEvent,
    WebhookInvalid,
    from_minor_units,
    get_provider,
    provider_name,
)

logger = logging.getLogger(__name__)

MAX_BODY = 256 * 1024


def _session(obj: dict) -> CheckoutSession:
    amount = obj.get("amount_total")
    currency = obj.get("currency") or ""
    return CheckoutSession(
        id=str(obj.get("id") or ""),
        url="",
        status=str(obj.get("status") or ""),
        payment_status=str(obj.get("payment_status") or "unpaid"),
        payment_reference=str(obj.get("payment_intent") or ""),
        amount=from_minor_units(amount, currency) if amount is not None and currency else None,
        reference=str(obj.get("client_reference_id") or ""),
    )


def _checkout_completed(provider: str, event: ProviderEvent) -> str:
    session = _session(event.object)
    if not session.paid:
        return "completed, payment not yet confirmed"  # async methods: wait for async_payment_succeeded
    return session_apply(provider=provider, session=session)


def _checkout_expired(provider: str, event: ProviderEvent) -> str:
    session = _session(event.object)
    return session_apply(provider=provider, session=replace(session, payment_status="unpaid"))


HANDLERS: dict[str, Callable[[str, ProviderEvent], str]] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "checkout.session.expired": _checkout_expired,
    "account.updated": account_updated,  # Stripe Connect: a seller's payout account
}


def webhook_receive(*, provider: str, payload: bytes, signature: str) -> tuple[int, str]:
    """(HTTP status, outcome) for one delivery. Raises nothing for bad input."""
    try:
        event = get_provider(provider).parse_webhook(payload=payload, signature=signature)
    except WebhookInvalid as error:
        logger.warning("webhook from %s refused: %s", provider, error)
        return 400, str(error)
    try:
        with transaction.atomic():
            stored = WebhookEvent.objects.create(
                provider=provider, event_id=event.id, type=event.type, payload=event.payload
            )
            handler = HANDLERS.get(event.type)
            outcome = handler(provider, event) if handler else "ignored: not an event we act on"
            stored.outcome = outcome[:300]
            stored.save(update_fields=["outcome"])
    except IntegrityError:
        if WebhookEvent.objects.filter(provider=provider, event_id=event.id).exists():
            return 200, "duplicate: already received"
        raise
    logger.info("webhook %s %s from %s: %s", event.type, event.id, provider, outcome)
    return 200, outcome


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, provider: str) -> HttpResponse:
    if provider != provider_name():
        return JsonResponse({"error": "no such endpoint"}, status=404)
    if len(request.body) > MAX_BODY:
        return JsonResponse({"error": "too large"}, status=413)
    status, outcome = webhook_receive(
        provider=provider, payload=request.body, signature=request.headers.get("Stripe-Signature", "")
    )
    return JsonResponse({"received": status == 200, "outcome": outcome}, status=status)
