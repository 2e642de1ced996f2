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

No amount or reference is taken from the event: a signature proves who signed
it, not that a payment happened (a leaked or derived secret signs anything).
For a session of one of our checkouts, the provider is asked what it says of
it (``checkout_retrieve``) before the transaction opens, and its answer, not
the event's, is what funds, refunds or expires. An event the provider does not
confirm is stored, answered 200 and moves nothing. This is the provider's own
request waiting on the provider: if it does not answer, the 503 makes it send
the event again later.
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
from payments.models import Checkout, WebhookEvent
from payments.providers import (
    CheckoutSession,
    ProviderEvent,
    ProviderUnavailable,
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


def _confirm(provider: str, event: ProviderEvent) -> CheckoutSession | None:
    """What the provider itself says of the event's session, if it is one of our
    checkouts' (None otherwise: nothing to confirm, nothing will move). No
    transaction is open; raises ``ProviderUnavailable`` if the provider does not answer."""
    if event.type not in _SESSION_EVENTS:
        return None
    session = _session(event.object)
    if not session.id or not Checkout.objects.filter(provider=provider, session_id=session.id).exists():
        return None
    return get_provider(provider).checkout_retrieve(session.id)


def _checkout_completed(provider: str, event: ProviderEvent, confirmed: CheckoutSession | None) -> str:
    session = _session(event.object)
    if not session.paid:
        return "completed, payment not yet confirmed"  # async methods: wait for async_payment_succeeded
    if confirmed is None:
        return "unknown session"
    if not confirmed.paid:
        logger.warning(
            "webhook %s says session %s is paid; the provider says %s, %s: nothing moved",
            event.id,
            session.id,
            confirmed.status,
            confirmed.payment_status,
        )
        return f"not confirmed by the provider (the session is {confirmed.status}, {confirmed.payment_status})"
    if (confirmed.payment_reference, confirmed.amount) != (session.payment_reference, session.amount):
        logger.warning(
            "webhook %s disagrees with the provider on session %s (%s %s, provider: %s %s); acting on the provider's",
            event.id,
            session.id,
            session.payment_reference,
            session.amount,
            confirmed.payment_reference,
            confirmed.amount,
        )
    return session_apply(provider=provider, session=confirmed)


def _checkout_expired(provider: str, event: ProviderEvent, confirmed: CheckoutSession | None) -> str:
    if confirmed is None:
        return "unknown session"
    if confirmed.status != "expired":
        return f"nothing to expire: the provider says the session is {confirmed.status}, {confirmed.payment_status}"
    return session_apply(provider=provider, session=replace(confirmed, payment_status="unpaid"))


def _account_updated(provider: str, event: ProviderEvent, confirmed: CheckoutSession | None) -> str:
    return account_updated(provider, event)  # Stripe Connect: a seller's payout account


HANDLERS: dict[str, Callable[[str, ProviderEvent, CheckoutSession | None], str]] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "checkout.session.expired": _checkout_expired,
    "account.updated": _account_updated,
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
    if WebhookEvent.objects.filter(provider=provider, event_id=event.id).exists():
        return 200, "duplicate: already received"
    try:
        confirmed = _confirm(provider, event)
    except ProviderUnavailable as error:
        logger.warning("webhook %s from %s: could not confirm with the provider: %s", event.id, provider, error)
        return 503, "could not confirm with the provider; send it again later"
    try:
        with transaction.atomic():
            stored = WebhookEvent.objects.create(
                provider=provider, event_id=event.id, type=event.type, payload=event.payload
            )
            handler = HANDLERS.get(event.type)
            outcome = handler(provider, event, confirmed) if handler else "ignored: not an event we act on"
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
