"""Hosted checkout: the buyer pays on the provider's page, never on ours.

The life of a ``Checkout``:

1. an app above payments creates it with what it sells (a milestone, in
   ``milestones.services.creation.milestone_create``), in its own transaction;
2. after commit, ``checkout_open`` asks the provider for a session (no
   transaction open) and the buyer is redirected to its page;
3. the provider's signed webhook (``payments.webhooks``), or the buyer's
   return (``checkout_sync`` asks the provider), calls ``checkout_paid``,
   which hands the payment to the purpose that registered for it
   (``register_checkout_purpose``); that purpose funds escrow under its own
   locks. A payment for a checkout that is no longer open (expired,
   cancelled, or paid twice) is refunded to the card (``late_payment_refund``).

Payments sits below the apps that sell things, so they register here
(``AppConfig.ready``) instead of payments importing them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from marketplace.money import Amount
from marketplace.queue import enqueue_on_commit
from notifications.services import notification_send
from payments.ledger import account_for, ledger_post
from payments.models import AccountKind, Checkout, CheckoutStatus, Transaction, TransactionKind
from payments.outbox import command_refund
from payments.providers import CheckoutSession, get_provider, provider_name

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckoutPurpose:
    """What a paid or expired checkout means to the app that sold something.

    ``paid(checkout_id, payment_reference, amount)`` and
    ``expired(checkout_id, now=...)`` (``now``: the sweep's clock, or None for
    the real time) each run in their own transaction, lock what they sell,
    then the checkout row (``lock_checkout``), and return a short outcome for
    the event log; ``expired`` returns "expired" when it closed the checkout.
    """

    description: Callable[[Checkout], str]
    paid: Callable[[int, str, Money], str]
    expired: Callable[..., str]


PURPOSES: dict[str, CheckoutPurpose] = {}


def register_checkout_purpose(name: str, purpose: CheckoutPurpose) -> None:
    PURPOSES[name] = purpose


def lock_checkout(checkout_id: int) -> Checkout:
    return Checkout.objects.select_for_update(of=("self",)).select_related("buyer", "milestone").get(pk=checkout_id)


# --- opening the provider's page -------------------------------------------------------------


def checkout_open(*, checkout: Checkout, success_url: str, cancel_url: str) -> Checkout:
    """Ask the provider for the hosted page (or the one already asked for).

    Called with no transaction open; the provider's own idempotency key makes
    a second call return the same session. Raises ``ProviderUnavailable`` if
    the provider does not answer: the checkout stays open, without a page yet.
    """
    if not checkout.is_open or checkout.url:
        return checkout
    session = get_provider(checkout.provider).checkout_create(
        amount=checkout.amount,
        description=PURPOSES[checkout.purpose].description(checkout),
        reference=f"checkout-{checkout.pk}",
        customer_email=checkout.buyer.email,
        success_url=success_url,
        cancel_url=cancel_url,
        expires_at=checkout.expires_at,
        idempotency_key=checkout.idempotency_key,
    )
    Checkout.objects.filter(pk=checkout.pk, session_id="").update(session_id=session.id, url=session.url)
    checkout.refresh_from_db()
    return checkout


def checkout_sync(*, checkout: Checkout) -> str:
    """The buyer came back from the provider: ask it how the session ended,
    in case its webhook is late or lost. Called with no transaction open."""
    if not checkout.is_open or not checkout.session_id:
        return checkout.status
    session = get_provider(checkout.provider).checkout_retrieve(checkout.session_id)
    return session_apply(provider=checkout.provider, session=session)


def session_apply(*, provider: str, session: CheckoutSession) -> str:
    """Act on what the provider says of a session: funded if paid, closed if expired."""
    checkout = Checkout.objects.filter(provider=provider, session_id=session.id).first()
    if checkout is None:
        return "unknown session"
    if session.paid:
        amount = session.amount or checkout.amount
        return checkout_paid(checkout_id=checkout.pk, payment_reference=session.payment_reference, amount=amount)
    if session.status == "expired":
        return checkout_expired(checkout_id=checkout.pk)
    return "still open"


def checkout_paid(*, checkout_id: int, payment_reference: str, amount: Money) -> str:
    checkout = Checkout.objects.get(pk=checkout_id)
    return PURPOSES[checkout.purpose].paid(checkout.pk, payment_reference, amount)


def checkout_expired(*, checkout_id: int, now: datetime | None = None) -> str:
    """An unpaid checkout ran out: what it sold closes, by its purpose."""
    checkout = Checkout.objects.get(pk=checkout_id)
    return PURPOSES[checkout.purpose].expired(checkout.pk, now=now)


# --- the purposes' helpers (inside their transaction, the checkout locked) ---------------------------


def checkout_mark_paid(checkout: Checkout, *, payment_reference: str) -> None:
    checkout.status = CheckoutStatus.PAID
    checkout.payment_reference = payment_reference
    checkout.paid_at = timezone.now()
    checkout.save(update_fields=["status", "payment_reference", "paid_at"])


def checkout_close(checkout: Checkout, *, status: str) -> None:
    """Expired or cancelled unpaid; the provider's page is closed after commit."""
    checkout.status = status
    checkout.closed_at = timezone.now()
    checkout.save(update_fields=["status", "closed_at"])
    if checkout.session_id:
        enqueue_on_commit("payments.tasks.expire_provider_session", checkout.pk)


def payment_matches(checkout: Checkout, *, payment_reference: str, amount: Money) -> bool:
    return bool(payment_reference) and amount == checkout.amount


def late_payment_refund(checkout: Checkout, *, payment_reference: str, amount: Money, why: str) -> str:
    """A payment that cannot fund anything (its checkout closed, or paid twice,
    or for the wrong amount) goes straight back to the card.

    The money is on the platform's side of the provider, so it is posted in
    (gateway → card refunds) and a refund command takes it out again.
    Idempotent per payment: a replayed event finds the posting's key.
    """

    key = f"late:{checkout.provider}:{payment_reference}"
    if not payment_reference or Transaction.objects.filter(idempotency_key=key).exists():
        return "late payment already refunded"
    currency = str(amount.currency)
    ledger_post(
        key=key,
        kind=TransactionKind.LATE_PAYMENT,
        lines=[
            (account_for(kind=AccountKind.GATEWAY, currency=currency), -amount),
            (account_for(kind=AccountKind.CARD_REFUNDS, currency=currency), amount),
        ],
        memo=f"Payment {payment_reference} for checkout {checkout.pk} arrived {why}; refunding"[:300],
        milestone=checkout.milestone,
    )
    command_refund(
        user=checkout.buyer,
        amount=amount,
        payment_reference=payment_reference,
        key=f"refund:{key}",
        milestone_id=checkout.milestone_id,
        checkout=checkout,
    )
    # An open checkout stays payable: a payment of the wrong amount is refunded, and the
    # buyer's right one still funds it. One that closed unpaid records the refund.
    if checkout.status not in (CheckoutStatus.PAID, CheckoutStatus.OPEN):
        checkout.status = CheckoutStatus.REFUNDED
        checkout.payment_reference = payment_reference
        checkout.save(update_fields=["status", "payment_reference"])
    notification_send(
        recipient=checkout.buyer,
        event="late_payment_refunded",
        message=_late_payment_message(amount, why),
        url=reverse("earnings"),
    )
    logger.warning("late payment %s on checkout %s (%s): refunding", payment_reference, checkout.pk, why)
    return f"refunded: payment arrived {why}"


# The buyer's notice of a late payment, a whole sentence for each reason the apps that sell give
# (``why``, in English: "after the checkout closed"), so it can be said in the buyer's language.
_LATE_PAYMENT_MESSAGES = {
    "after the checkout closed": gettext_lazy(
        "Your payment of {amount} arrived after the checkout closed, so nothing was bought; "
        "it is being refunded to your card."
    ),
    "after the checkout had closed": gettext_lazy(
        "Your payment of {amount} arrived after the checkout had closed, so nothing was bought; "
        "it is being refunded to your card."
    ),
    "after a tip was already given": gettext_lazy(
        "Your payment of {amount} arrived after a tip was already given, so nothing was bought; "
        "it is being refunded to your card."
    ),
    "after the seller closed their account": gettext_lazy(
        "Your payment of {amount} arrived after the seller closed their account, so nothing was bought; "
        "it is being refunded to your card."
    ),
    "for a different amount": gettext_lazy(
        "Your payment of {amount} arrived for a different amount, so nothing was bought; "
        "it is being refunded to your card."
    ),
    "a second time": gettext_lazy(
        "Your payment of {amount} arrived a second time, so nothing was bought; it is being refunded to your card."
    ),
    "after the step could no longer be continued": gettext_lazy(
        "Your payment of {amount} arrived after the step could no longer be continued, so nothing was bought; "
        "it is being refunded to your card."
    ),
    "after the changes could no longer apply": gettext_lazy(
        "Your payment of {amount} arrived after the changes could no longer apply, so nothing was bought; "
        "it is being refunded to your card."
    ),
}


def _late_payment_message(amount: Money, why: str):
    """The notice, made in the buyer's language when it is sent (``notification_send``)."""
    message = _LATE_PAYMENT_MESSAGES.get(why)
    if message is not None:
        return format_lazy(message, amount=Amount(amount))
    return format_lazy(
        gettext_lazy(
            "Your payment of {amount} arrived {why}, so nothing was bought; it is being refunded to your card."
        ),
        amount=Amount(amount),
        why=why,
    )


def new_checkout(*, purpose: str, buyer, amount: Money, key: str, expires_in, milestone=None) -> Checkout:
    """The unpaid checkout row, created in the seller app's transaction."""
    return Checkout.objects.create(
        purpose=purpose,
        milestone=milestone,
        buyer=buyer,
        amount=amount,
        provider=provider_name(),
        idempotency_key=f"checkout:{key}",
        expires_at=timezone.now() + expires_in,
    )
