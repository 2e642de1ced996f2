"""Stripe: Checkout for card payments, Refunds, and Connect transfers for payouts.

Every call goes through one ``stripe.StripeClient`` built by ``_client()``
(tests replace it, or pass a client with a fake ``http_client``). The rules of
``payments.providers`` hold here: no call with a transaction open, every call
that moves money carries its idempotency key (sent as ``Idempotency-Key``),
and an answer we cannot trust (network, rate limit, 5xx, a key or permission
problem) is ``ProviderUnavailable``, to be tried again later with the same key.

Stripe keeps idempotency keys for 24 hours only, so before a refund or a
transfer is created, the ones already made for the same payment or withdrawal
are searched for our key (kept in their ``metadata``): a retry days later,
by staff in the admin, still moves the money once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from marketplace.errors import InvalidInput
from payments.models import PayoutAccount
from payments.providers import (
    CheckoutSession,
    ProviderEvent,
    ProviderRecord,
    ProviderResult,
    ProviderUnavailable,
    WebhookInvalid,
    assert_no_transaction,
    from_minor_units,
    minor_units,
    parse_stripe_event,
    verify_signature,
)

if TYPE_CHECKING:
    from stripe.params import AccountCreateParams, ChargeListParams, RefundListParams, TransferListParams
    from stripe.params.checkout import SessionCreateParams

logger = logging.getLogger(__name__)

# Stripe accepts a Checkout Session's ``expires_at`` from 30 minutes to 24 hours ahead; a minute's margin each side.
SESSION_MIN_LIFETIME = timedelta(minutes=31)
SESSION_MAX_LIFETIME = timedelta(hours=24) - timedelta(minutes=1)
# How many times the library itself retries a connection error, a 409 or a 5xx (same idempotency key).
NETWORK_RETRIES = 2


def _client(http_client: stripe.HTTPClient | None = None) -> stripe.StripeClient:
    """The Stripe client every call uses; tests replace this function or pass ``http_client``."""
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, http_client=http_client, max_network_retries=NETWORK_RETRIES)


@contextmanager
def _answers(what: str) -> Iterator[None]:
    """Turn the errors that leave the outcome unknown into ``ProviderUnavailable``.

    Card and invalid-request errors pass through: each caller decides whether
    they are a final answer.
    """
    try:
        yield
    except (stripe.CardError, stripe.InvalidRequestError):
        raise
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
        logger.warning("stripe %s: no answer (%r)", what, error)
        raise ProviderUnavailable(
            f"Stripe did not answer ({error.user_message or error.__class__.__name__})."
        ) from error
    except stripe.StripeError as error:
        # Authentication, permission, idempotency conflicts: a configuration or programming error that
        # staff must fix; retrying later with the same key is still the only safe move.
        logger.error("stripe %s: refused (%r)", what, error)
        raise ProviderUnavailable(
            f"Stripe refused the call ({error.user_message or error.__class__.__name__})."
        ) from error


def _refused(error: stripe.StripeError) -> ProviderResult:
    code = error.code or ("card_declined" if isinstance(error, stripe.CardError) else "invalid_request")
    return ProviderResult(ok=False, reference="", failure_code=str(code), message=str(error.user_message or ""))


def _plain(obj: stripe.StripeObject) -> dict[str, Any]:
    """A Stripe object as a dict (a ``StripeObject`` is not one, and has no ``.get``)."""
    return obj.to_dict()


def _each(listing: stripe.ListObject[Any]) -> Iterator[dict[str, Any]]:
    """Every object of a list, page after page."""
    for obj in listing.auto_paging_iter():
        yield _plain(obj)


def _refund_result(refund: dict[str, Any]) -> ProviderResult:
    status = str(refund.get("status") or "")
    if status in ("failed", "canceled"):
        code = str(refund.get("failure_reason") or status)
        return ProviderResult(ok=False, reference=str(refund["id"]), failure_code=code, message=f"Refund {status}.")
    return ProviderResult(ok=True, reference=str(refund["id"]))


def _id(value: Any) -> str:
    """An expandable field's id, whether Stripe sent the id or the object."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return str(value.get("id") or "")


def _metadata(obj: dict[str, Any]) -> dict[str, str]:
    return {str(key): str(value) for key, value in (obj.get("metadata") or {}).items()}


def _session(obj: dict[str, Any]) -> CheckoutSession:
    amount = obj.get("amount_total")
    currency = obj.get("currency") or ""
    return CheckoutSession(
        id=str(obj.get("id") or ""),
        url=str(obj.get("url") or ""),
        status=str(obj.get("status") or ""),
        payment_status=str(obj.get("payment_status") or "unpaid"),
        payment_reference=_id(obj.get("payment_intent")),
        amount=from_minor_units(amount, currency) if amount is not None and currency else None,
        reference=str(obj.get("client_reference_id") or ""),
    )


def session_expires_at(expires_at: datetime, *, now: datetime | None = None) -> int:
    """``expires_at`` as a Unix time within the window Stripe accepts."""
    now = now or timezone.now()
    clamped = min(max(expires_at, now + SESSION_MIN_LIFETIME), now + SESSION_MAX_LIFETIME)
    return int(clamped.timestamp())


class StripeProvider:
    """``PaymentProvider`` on Stripe (see ``payments.providers``)."""

    name = "stripe"

    def __init__(self, client: stripe.StripeClient | None = None) -> None:
        self._stripe = client

    @property
    def client(self) -> stripe.StripeClient:
        """The injected client, or one from ``_client()`` made on first use (and reused: one HTTP session)."""
        if self._stripe is None:
            self._stripe = _client()
        return self._stripe

    # --- hosted checkout -------------------------------------------------------------------

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
    ) -> CheckoutSession:
        """A Checkout Session in payment mode for one line, ``amount`` in minor units.

        ``success_url`` should carry ``{CHECKOUT_SESSION_ID}``, which Stripe fills in.
        """
        assert_no_transaction()
        metadata = {"reference": reference, "idempotency_key": idempotency_key}
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": str(amount.currency).lower(),
                        "unit_amount": minor_units(amount),
                        "product_data": {"name": description[:250] or reference},
                    },
                }
            ],
            "client_reference_id": reference,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "expires_at": session_expires_at(expires_at),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
        }
        if customer_email:
            params["customer_email"] = customer_email
        with _answers("checkout_create"):
            try:
                session = _plain(self.client.v1.checkout.sessions.create(params, {"idempotency_key": idempotency_key}))
            except stripe.InvalidRequestError as error:
                # Nothing was charged; the buyer is told the page could not be opened.
                logger.error("stripe checkout_create refused: %r", error)
                raise ProviderUnavailable(f"Stripe refused the checkout ({error.user_message}).") from error
        return _session(session)

    def checkout_retrieve(self, session_id: str) -> CheckoutSession:
        assert_no_transaction()
        with _answers("checkout_retrieve"):
            try:
                session = _plain(self.client.v1.checkout.sessions.retrieve(session_id))
            except stripe.InvalidRequestError as error:
                raise ProviderUnavailable(f"Stripe does not know session {session_id}: {error.user_message}") from error
        return _session(session)

    def checkout_expire(self, session_id: str) -> None:
        """Close an open session; one already complete or expired is left as it is."""
        assert_no_transaction()
        with _answers("checkout_expire"):
            try:
                self.client.v1.checkout.sessions.expire(session_id)
            except stripe.InvalidRequestError as error:
                # "Only Checkout Sessions with a status in ["open"] can be expired": look before deciding.
                try:
                    status = str(_plain(self.client.v1.checkout.sessions.retrieve(session_id)).get("status") or "")
                except stripe.InvalidRequestError:
                    logger.warning("stripe checkout_expire: no session %s (%s)", session_id, error.user_message)
                    return
                if status == "open":
                    raise ProviderUnavailable(f"Stripe did not expire {session_id}: {error.user_message}") from error

    # --- money that leaves -------------------------------------------------------------------

    def refund(self, *, amount: Money, payment_reference: str, idempotency_key: str) -> ProviderResult:
        """Refund ``amount`` of the PaymentIntent ``payment_reference`` to its card."""
        assert_no_transaction()
        with _answers("refund"):
            try:
                listing: RefundListParams = {"payment_intent": payment_reference, "limit": 100}
                for existing in _each(self.client.v1.refunds.list(listing)):
                    if _metadata(existing).get("idempotency_key") == idempotency_key:
                        return _refund_result(existing)
                refund = self.client.v1.refunds.create(
                    {
                        "payment_intent": payment_reference,
                        "amount": minor_units(amount),
                        "metadata": {"idempotency_key": idempotency_key},
                    },
                    {"idempotency_key": idempotency_key},
                )
            except (stripe.CardError, stripe.InvalidRequestError) as error:
                return _refused(error)
        return _refund_result(_plain(refund))

    def payout(
        self, *, amount: Money, method: str, destination: str, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderResult:
        """Pay a seller: a Transfer from the platform's balance to their Connect Express account.

        ``destination`` is the connected account's id (``acct_...``, see
        ``payments.connect.payout_destination``); ``method`` means nothing to
        Stripe. The transfer is final on our side: Stripe then pays the
        connected account out to the seller's bank on the account's own payout
        schedule, which the seller manages in their Express dashboard.
        """
        assert_no_transaction()
        group = f"withdrawal-{metadata['withdrawal']}" if metadata.get("withdrawal") else idempotency_key
        with _answers("payout"):
            try:
                listing: TransferListParams = {"destination": destination, "transfer_group": group, "limit": 100}
                for existing in _each(self.client.v1.transfers.list(listing)):
                    if _metadata(existing).get("idempotency_key") == idempotency_key:
                        return ProviderResult(ok=True, reference=str(existing["id"]))
                transfer = self.client.v1.transfers.create(
                    {
                        "amount": minor_units(amount),
                        "currency": str(amount.currency).lower(),
                        "destination": destination,
                        "transfer_group": group,
                        "metadata": {**metadata, "idempotency_key": idempotency_key},
                    },
                    {"idempotency_key": idempotency_key},
                )
            except (stripe.CardError, stripe.InvalidRequestError) as error:
                return _refused(error)
        return ProviderResult(ok=True, reference=str(transfer.id))

    # --- webhooks ------------------------------------------------------------------------------

    def parse_webhook(self, *, payload: bytes, signature: str) -> ProviderEvent:
        """Verify with ``STRIPE_WEBHOOK_SECRET``: one secret, or several separated by commas
        (the account's endpoint and the Connect endpoint each have their own)."""
        assert_no_transaction()
        secrets = [s.strip() for s in str(settings.STRIPE_WEBHOOK_SECRET or "").split(",") if s.strip()]
        error = WebhookInvalid("No webhook secret is configured.")
        for secret in secrets:
            try:
                verify_signature(payload, signature, secret)
                break
            except WebhookInvalid as refused:
                error = refused
        else:
            raise error
        return parse_stripe_event(payload)

    # --- Connect onboarding ---------------------------------------------------------------------

    def payout_destination_tokenize(self, *, method: str, number: str) -> str:
        """With Stripe nothing is typed: payouts go to the Connect account set up on Stripe's pages."""
        raise InvalidInput(
            _("With Stripe, withdrawals go to the payout account you set up with Stripe on the Earnings page."),
            field="payout_account",
        )

    def payout_onboarding_url(self, *, user: Any, return_url: str, refresh_url: str) -> str | None:
        """Stripe's onboarding page for the user's Express account, created on first use.

        The account is created with no transaction open (its idempotency key
        makes a double click create one), then its row is saved in a short one.
        """

        assert_no_transaction()
        account = PayoutAccount.objects.filter(user=user).first()
        with _answers("payout_onboarding_url"):
            if account is None:
                params: AccountCreateParams = {
                    "type": "express",
                    "capabilities": {"transfers": {"requested": True}},
                    "metadata": {"user": str(user.pk)},
                }
                if user.email:
                    params["email"] = user.email
                created = _plain(
                    self.client.v1.accounts.create(params, {"idempotency_key": f"connect-account:{user.pk}"})
                )
                with transaction.atomic():
                    account, _ = PayoutAccount.objects.get_or_create(
                        user=user,
                        defaults={
                            "provider": self.name,
                            "account_id": str(created["id"]),
                            "details_submitted": bool(created.get("details_submitted")),
                            "payouts_enabled": bool(created.get("payouts_enabled")),
                        },
                    )
            link = self.client.v1.account_links.create(
                {
                    "account": account.account_id,
                    "type": "account_onboarding",
                    "return_url": return_url,
                    "refresh_url": refresh_url,
                }
            )
        return str(link.url)

    def payout_account_status(self, account_id: str) -> tuple[bool, bool]:
        """(details_submitted, payouts_enabled) of a connected account, as Stripe has it now."""
        assert_no_transaction()
        with _answers("payout_account_status"):
            try:
                account = _plain(self.client.v1.accounts.retrieve(account_id))
            except stripe.InvalidRequestError as error:
                raise ProviderUnavailable(f"Stripe does not know account {account_id}: {error.user_message}") from error
        return bool(account.get("details_submitted")), bool(account.get("payouts_enabled"))

    # --- reconciliation -----------------------------------------------------------------------------

    def records(self, *, since: datetime) -> list[ProviderRecord]:
        """Succeeded charges, refunds and transfers created since ``since``, all pages."""
        assert_no_transaction()
        gte = int(since.timestamp())
        charges: ChargeListParams = {"created": {"gte": gte}, "limit": 100}
        refunds: RefundListParams = {"created": {"gte": gte}, "limit": 100}
        transfers: TransferListParams = {"created": {"gte": gte}, "limit": 100}
        found: list[ProviderRecord] = []
        with _answers("records"):
            for charge in _each(self.client.v1.charges.list(charges)):
                if charge.get("status") != "succeeded":
                    continue
                found.append(
                    ProviderRecord(
                        kind="charge",
                        reference=_id(charge.get("payment_intent")) or str(charge["id"]),
                        amount=from_minor_units(charge["amount"], charge["currency"]),
                        idempotency_key=_metadata(charge).get("idempotency_key", ""),
                    )
                )
            for refund in _each(self.client.v1.refunds.list(refunds)):
                found.append(
                    ProviderRecord(
                        kind="refund",
                        reference=str(refund["id"]),
                        amount=from_minor_units(refund["amount"], refund["currency"]),
                        idempotency_key=_metadata(refund).get("idempotency_key", ""),
                        succeeded=refund.get("status") in ("succeeded", "pending"),
                    )
                )
            for transfer in _each(self.client.v1.transfers.list(transfers)):
                found.append(
                    ProviderRecord(
                        kind="payout",
                        reference=str(transfer["id"]),
                        amount=from_minor_units(transfer["amount"], transfer["currency"]),
                        idempotency_key=_metadata(transfer).get("idempotency_key", ""),
                        succeeded=not transfer.get("reversed"),
                    )
                )
        return found
