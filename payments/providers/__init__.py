"""The payment provider: the one door through which money enters and leaves.

A provider hosts the card page (we never see a card number), sends signed
webhooks, refunds card payments and pays sellers out. Two implement this
protocol: the sandbox (``sandbox.provider``, no network, its own hosted page
under ``/sandbox/``) and Stripe (``payments.providers.stripe``); the
``PAYMENT_PROVIDER`` setting chooses.

Rules for callers (docs/ARCHITECTURE.md, "Money that leaves"):

* never call a provider while a database transaction is open
  (``assert_no_transaction`` enforces it in every call of ours);
* every call that moves money carries an idempotency key, and calling again
  with the same key returns the first answer and moves nothing twice;
* ``ProviderUnavailable`` means "we do not know, try again later with the same
  key"; a ``ProviderResult`` with ``ok=False`` is a final answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string
from djmoney.money import Money

# Stripe's scheme: a webhook older than this is refused, so a captured one cannot be replayed later.
SIGNATURE_TOLERANCE_SECONDS = 300

PROVIDERS = {
    "sandbox": "sandbox.provider.SandboxProvider",
    "stripe": "payments.providers.stripe.StripeProvider",
}


class ProviderUnavailable(Exception):
    """The provider did not answer (network, 5xx, rate limit): the outcome is unknown."""


class ProviderInTransaction(RuntimeError):
    """A provider was called with a database transaction open: a programming error."""


class WebhookInvalid(Exception):
    """A webhook whose signature, timestamp or body does not hold up."""


@dataclass(frozen=True)
class CheckoutSession:
    """A hosted checkout page, as the provider sees it."""

    id: str
    url: str
    status: str  # "open", "complete" or "expired" (Stripe's words)
    payment_status: str = "unpaid"  # "unpaid" or "paid"
    payment_reference: str = ""  # the payment (Stripe: PaymentIntent) to refund later
    amount: Money | None = None
    reference: str = ""  # our reference, echoed back (Stripe: client_reference_id)

    @property
    def paid(self) -> bool:
        return self.payment_status == "paid"


@dataclass(frozen=True)
class ProviderResult:
    """A final answer to a refund or a payout."""

    ok: bool
    reference: str
    failure_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook, in Stripe's shape: ``object`` is ``data.object``."""

    id: str
    type: str
    object: dict[str, Any]
    created: int
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderRecord:
    """One movement of money as the provider records it, for reconciliation."""

    kind: str  # "charge", "refund" or "payout"
    reference: str
    amount: Money
    idempotency_key: str = ""
    succeeded: bool = True
    # The provider's history from before the marketplace kept its own side (the sandbox's
    # operations copied at the upgrade from the first layout): reconciliation does not ask
    # our records for it.
    history: bool = False


class PaymentProvider(Protocol):
    name: str

    def checkout_create(
        self,
        *,
        amount: Money,
        description: str,
        reference: str,
        customer_email: str,
        success_url: str,
        cancel_url: str,
        expires_at: datetime,
        idempotency_key: str,
    ) -> CheckoutSession: ...

    def checkout_retrieve(self, session_id: str) -> CheckoutSession: ...

    def checkout_expire(self, session_id: str) -> None: ...

    def refund(self, *, amount: Money, payment_reference: str, idempotency_key: str) -> ProviderResult: ...

    def payout(
        self, *, amount: Money, method: str, destination: str, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderResult: ...

    def parse_webhook(self, *, payload: bytes, signature: str) -> ProviderEvent: ...

    def payout_onboarding_url(self, *, user: Any, return_url: str, refresh_url: str) -> str | None: ...

    def payout_destination_tokenize(self, *, method: str, number: str) -> str:
        """The provider's token for a payout account typed in full (a card, a bank account, a PayPal
        e-mail): payouts go to the token, and the number is never stored on our side."""
        ...

    def records(self, *, since: datetime) -> list[ProviderRecord]: ...


def assert_no_transaction() -> None:
    """Refuse to talk to the provider while a transaction holds locks.

    A charge that succeeds before a failed commit would leave money taken with
    nothing behind it, and a slow provider would hold row locks for seconds.
    The blocks a Django ``TestCase`` opens around each test do not count.
    """
    if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise ProviderInTransaction("A payment provider must not be called inside a database transaction.")


@cache
def _provider_class(path: str) -> type:
    return import_string(path)


def provider_name() -> str:
    return str(settings.PAYMENT_PROVIDER)


def get_provider(name: str | None = None) -> PaymentProvider:
    name = name or provider_name()
    if name not in PROVIDERS:
        raise LookupError(f"Unknown payment provider {name!r}; choose one of {', '.join(PROVIDERS)}.")
    return _provider_class(PROVIDERS[name])()


# --- Stripe's webhook signature (https://docs.stripe.com/webhooks#verify-manually) ------------


def sign_payload(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header for ``payload``: ``t=<unix time>,v1=<hex HMAC-SHA256>``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    payload: bytes, header: str, secret: str, *, tolerance: int = SIGNATURE_TOLERANCE_SECONDS, now: float | None = None
) -> None:
    """Raise ``WebhookInvalid`` unless one ``v1`` signature matches and ``t`` is recent."""
    if not secret:
        raise WebhookInvalid("No webhook secret is configured.")
    parts = [item.split("=", 1) for item in (header or "").split(",") if "=" in item]
    timestamps = [value for key, value in parts if key.strip() == "t"]
    signatures = [value.strip() for key, value in parts if key.strip() == "v1"]
    if len(timestamps) != 1 or not timestamps[0].strip().isdigit() or not signatures:
        raise WebhookInvalid("The signature header is malformed.")
    timestamp = int(timestamps[0])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookInvalid("The signature does not match.")
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise WebhookInvalid("The signature's timestamp is outside the tolerance.")


# Stripe's events nest a few levels (event, data, object, a list, its items); a signed body
# nested thousands deep is not an event, and parsing it would exhaust the stack.
MAX_EVENT_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(payload: bytes) -> int:
    """How deep ``payload``'s arrays and objects nest, counted without parsing it."""
    depth = deepest = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub(b"", payload)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def parse_stripe_event(payload: bytes) -> ProviderEvent:
    """A verified payload in Stripe's event shape (the sandbox sends the same shape),
    checked strictly: a signed body that is not one is refused, never half-read."""
    if json_depth(payload) > MAX_EVENT_DEPTH:
        raise WebhookInvalid(f"The body nests deeper than {MAX_EVENT_DEPTH} levels.")
    try:
        body = json.loads(payload)
    except ValueError as error:
        raise WebhookInvalid("The body is not JSON.") from error
    if not isinstance(body, dict):
        raise WebhookInvalid("The body is not an event.")
    data = body.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    created = body.get("created", 0)
    if not isinstance(body.get("id"), str) or not body["id"] or not isinstance(body.get("type"), str):
        raise WebhookInvalid("The event has no id or type.")
    if not isinstance(obj, dict):
        raise WebhookInvalid("The event has no data.object.")
    if isinstance(created, bool) or not isinstance(created, int):
        raise WebhookInvalid("The event's created is not a whole number.")
    return ProviderEvent(id=body["id"], type=body["type"], object=obj, created=created, payload=body)


def minor_units(amount: Money) -> int:
    """Stripe counts in the currency's smallest unit (cents); our currencies have two decimals."""
    return int((amount.amount * 100).to_integral_value())


def from_minor_units(value: int, currency: str) -> Money:
    return Money(Decimal(int(value)) / 100, currency.upper())
