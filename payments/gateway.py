"""The payment gateway: an interface and a sandbox that needs no network.

Every call carries an idempotency key; calling again with the same key returns
the first answer and moves no money twice (as Stripe's API does). The sandbox
follows Stripe's test card numbers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string
from djmoney.money import Money


@dataclass(frozen=True)
class GatewayResult:
    ok: bool
    reference: str
    failure_code: str = ""
    message: str = ""


class PaymentGateway(Protocol):
    def charge(self, *, amount: Money, card_number: str, idempotency_key: str) -> GatewayResult: ...

    def refund(self, *, amount: Money, charge_reference: str, idempotency_key: str) -> GatewayResult: ...

    def payout(self, *, amount: Money, method: str, destination: str, idempotency_key: str) -> GatewayResult: ...


# Stripe's test cards (https://docs.stripe.com/testing), by outcome.
SUCCESS_CARDS = {
    "4242424242424242",  # Visa
    "4000056655665556",  # Visa (debit)
    "5555555555554444",  # Mastercard
    "2223003122003222",  # Mastercard (2-series)
    "5200828282828210",  # Mastercard (debit)
    "378282246310005",  # American Express
    "6011111111111117",  # Discover
}
DECLINE_CARDS = {
    "4000000000000002": ("card_declined", "Your card was declined."),
    "4000000000009995": ("insufficient_funds", "Your card has insufficient funds."),
    "4000000000009987": ("lost_card", "Your card was declined."),
    "4000000000009979": ("stolen_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "Your card has expired."),
    "4000000000000127": ("incorrect_cvc", "Your card's security code is incorrect."),
    "4000000000000119": ("processing_error", "An error occurred while processing your card. Try again."),
}
# Stripe's test bank account that fails payouts (account closed).
FAILING_PAYOUT_DESTINATIONS = {"000111111116"}
INCORRECT_NUMBER = ("incorrect_number", "Your card number is incorrect.")
NOT_A_TEST_CARD = (
    "card_declined",
    "Your card was declined. The sandbox accepts only test cards, such as 4242 4242 4242 4242.",
)
ACCOUNT_CLOSED = ("account_closed", "The bank account has been closed.")
# What a replay says for a stored failure: derived from the stored code, because
# the replaying call's own answer (say, a different card) must not leak into it.
FAILURE_MESSAGES = {
    **dict(DECLINE_CARDS.values()),
    INCORRECT_NUMBER[0]: INCORRECT_NUMBER[1],
    ACCOUNT_CLOSED[0]: ACCOUNT_CLOSED[1],
}


def normalise_card_number(raw: str) -> str:
    return "".join(ch for ch in raw if ch.isdigit())


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


class SandboxGateway:
    """Records each operation in ``GatewayOperation``; a replayed key gets the first answer."""

    def _record(self, *, kind: str, key: str, amount: Money, result: GatewayResult) -> GatewayResult:
        from payments.models import GatewayOperation

        existing = GatewayOperation.objects.filter(idempotency_key=key).first()
        if existing is None:
            try:
                with transaction.atomic():
                    GatewayOperation.objects.create(
                        idempotency_key=key,
                        kind=kind,
                        amount=amount,
                        succeeded=result.ok,
                        reference=result.reference,
                        failure_code=result.failure_code,
                    )
                return result
            except IntegrityError:
                existing = GatewayOperation.objects.get(idempotency_key=key)
        # A replay: the first answer stands, whatever this call would have said.
        return GatewayResult(
            ok=existing.succeeded,
            reference=existing.reference,
            failure_code=existing.failure_code,
            message="" if existing.succeeded else FAILURE_MESSAGES.get(existing.failure_code, "Declined."),
        )

    def charge(self, *, amount: Money, card_number: str, idempotency_key: str) -> GatewayResult:
        number = normalise_card_number(card_number)
        if number in SUCCESS_CARDS:
            result = GatewayResult(ok=True, reference=f"ch_sandbox_{uuid.uuid4().hex[:20]}")
        elif number in DECLINE_CARDS:
            code, message = DECLINE_CARDS[number]
            result = GatewayResult(ok=False, reference="", failure_code=code, message=message)
        elif not luhn_valid(number):
            code, message = INCORRECT_NUMBER
            result = GatewayResult(ok=False, reference="", failure_code=code, message=message)
        else:
            code, message = NOT_A_TEST_CARD
            result = GatewayResult(ok=False, reference="", failure_code=code, message=message)
        return self._record(kind="charge", key=idempotency_key, amount=amount, result=result)

    def refund(self, *, amount: Money, charge_reference: str, idempotency_key: str) -> GatewayResult:
        result = GatewayResult(ok=True, reference=f"re_sandbox_{uuid.uuid4().hex[:20]}")
        return self._record(kind="refund", key=idempotency_key, amount=amount, result=result)

    def payout(self, *, amount: Money, method: str, destination: str, idempotency_key: str) -> GatewayResult:
        if destination.strip() in FAILING_PAYOUT_DESTINATIONS:
            code, message = ACCOUNT_CLOSED
            result = GatewayResult(ok=False, reference="", failure_code=code, message=message)
        else:
            result = GatewayResult(ok=True, reference=f"po_sandbox_{uuid.uuid4().hex[:20]}")
        return self._record(kind="payout", key=idempotency_key, amount=amount, result=result)


@cache
def _gateway_class(path: str) -> type:
    return import_string(path)


def get_gateway() -> PaymentGateway:
    return _gateway_class(settings.PAYMENT_GATEWAY)()
