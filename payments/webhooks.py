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


def _text(obj: dict, name: str, default: str = "") -> str:
    value = obj.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise WebhookInvalid(f"{name} is not a string.")
    return value


def _session(obj: dict) -> CheckoutSession:
    """A checkout session as the event shows it, read strictly: an amount is a whole
    number of minor units (not "abc", 12.5, true or a numeric string), a currency three
    letters; anything else is refused with a 400 before anything is stored or moved."""
    amount = obj.get("amount_total")
    currency = _text(obj, "currency")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount < 0):
        raise WebhookInvalid("amount_total is not a whole, non-negative number of minor units.")
    if currency and (len(currency) != 3 or not currency.isascii() or not currency.isalpha()):
        raise WebhookInvalid("currency is not a three-letter code.")
    payment_intent = obj.get("payment_intent")
    if isinstance(payment_intent, dict):  # expanded, as Stripe may send it
        payment_intent = payment_intent.get("id")
    return CheckoutSession(
        id=_text(obj, "id"),
        url="",
        status=_text(obj, "status"),
        payment_status=_text(obj, "payment_status", "unpaid") or "unpaid",
        payment_reference=payment_intent if isinstance(payment_intent, str) else "",
        amount=from_minor_units(amount, currency) if amount is not None and currency else None,
        reference=_text(obj, "client_reference_id"),
    )


# The events whose object is read before anything is stored: a malformed one is a 400.
_SESSION_EVENTS = frozenset(
    {"checkout.session.completed", "checkout.session.async_payment_succeeded", "checkout.session.expired"}
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
        if event.type in _SESSION_EVENTS:
            _session(event.object)
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
