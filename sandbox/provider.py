"""The sandbox provider: Stripe's behaviour with no network.

Its "API" is this class, working on the sandbox's own tables; its hosted page
is ``sandbox.views``; its webhooks go to the marketplace's endpoint through
Celery (``sandbox.tasks.deliver_event``), signed with Stripe's scheme. So the
demo runs the same code path as production: checkout, webhook, refund, payout.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from djmoney.money import Money

from marketplace.sums import ExactSum
from payments.providers import (
    CheckoutSession,
    ProviderEvent,
    ProviderRecord,
    ProviderResult,
    assert_no_transaction,
    parse_stripe_event,
    verify_signature,
)
from sandbox import cards
from sandbox.models import SandboxOperation, SandboxPayoutDestination, SandboxSession
from sandbox.operations import new_id, record_operation
from sandbox.services import session_expire


def session_view(session: SandboxSession) -> CheckoutSession:
    return CheckoutSession(
        id=session.session_id,
        url=reverse("sandbox_checkout", args=[session.session_id]),
        status=session.status,
        payment_status=session.payment_status,
        payment_reference=session.payment_reference,
        amount=session.amount,
        reference=session.reference,
    )


class SandboxProvider:
    name = "sandbox"

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
        assert_no_transaction()
        session, _ = SandboxSession.objects.get_or_create(
            idempotency_key=idempotency_key,
            defaults={
                "session_id": new_id("cs"),
                "amount": amount,
                "description": description[:500],
                "reference": reference,
                "customer_email": customer_email,
                "success_url": success_url,
                "cancel_url": cancel_url,
                "expires_at": expires_at,
            },
        )
        return session_view(session)

    def checkout_retrieve(self, session_id: str) -> CheckoutSession:
        assert_no_transaction()
        return session_view(SandboxSession.objects.get(session_id=session_id))

    def checkout_expire(self, session_id: str) -> None:
        assert_no_transaction()
        session_expire(session_id=session_id)

    def refund(self, *, amount: Money, payment_reference: str, idempotency_key: str) -> ProviderResult:
        assert_no_transaction()
        with transaction.atomic():
            session = SandboxSession.objects.select_for_update().filter(payment_reference=payment_reference).first()
            failure = ""
            if session is None or session.payment_status != "paid":
                failure = cards.UNKNOWN_PAYMENT[0]
            else:
                refunded = SandboxOperation.objects.filter(
                    kind="refund", target=payment_reference, succeeded=True
                ).aggregate(total=ExactSum("amount"))["total"] or Decimal(0)
                if amount.amount > session.amount.amount - refunded:
                    failure = cards.REFUND_TOO_LARGE[0]
            return record_operation(
                kind="refund",
                key=idempotency_key,
                amount=amount,
                ok=not failure,
                reference=new_id("re"),
                target=payment_reference,
                failure_code=failure,
            )

    def payout_destination_tokenize(self, *, method: str, number: str) -> str:
        """A random token for the account; whether payouts to it fail is recorded now, as the
        number is not kept."""
        assert_no_transaction()
        compact = "".join(char for char in number if char.isalnum())
        destination = SandboxPayoutDestination.objects.create(
            token=new_id("pdt"),
            method=method[:20],
            last4=compact[-4:],
            fails=compact in cards.FAILING_PAYOUT_DESTINATIONS,
        )
        return destination.token

    def payout(
        self, *, amount: Money, method: str, destination: str, idempotency_key: str, metadata: dict[str, str]
    ) -> ProviderResult:
        """Pay out to a token (``payout_destination_tokenize``). A destination it never tokenized
        (test data, a row from before tokens) pays, as the sandbox always did, unless it is one of
        the failing test accounts."""
        assert_no_transaction()
        known = SandboxPayoutDestination.objects.filter(token=destination.strip()).first()
        fails = known.fails if known is not None else destination.strip() in cards.FAILING_PAYOUT_DESTINATIONS
        failure = cards.ACCOUNT_CLOSED[0] if fails else ""
        return record_operation(
            kind="payout",
            key=idempotency_key,
            amount=amount,
            ok=not failure,
            reference=new_id("po"),
            target=destination,
            failure_code=failure,
        )

    def parse_webhook(self, *, payload: bytes, signature: str) -> ProviderEvent:
        verify_signature(payload, signature, settings.SANDBOX_WEBHOOK_SECRET)
        return parse_stripe_event(payload)

    def payout_onboarding_url(self, *, user: Any, return_url: str, refresh_url: str) -> str | None:
        return None  # the sandbox pays to the payout account typed in the profile

    def records(self, *, since: datetime) -> list[ProviderRecord]:
        assert_no_transaction()
        return [
            ProviderRecord(
                kind=op.kind,
                reference=op.reference,
                amount=op.amount,
                idempotency_key=op.idempotency_key,
                succeeded=op.succeeded,
                history=op.imported,
            )
            for op in SandboxOperation.objects.filter(created_at__gte=since, succeeded=True).order_by("pk")
        ]
