"""Money that leaves through the provider: payouts and refunds to card.

The rule (docs/ARCHITECTURE.md, "Money that leaves"): a command row is written
in the same transaction as the ledger posting that sets the money aside; a
worker executes it after commit, with no transaction open while the provider
is called:

1. claim: a short transaction takes the row (``SKIP LOCKED``), counts the
   attempt and leases it (``next_attempt_at`` moves ``OUTBOX_LEASE_SECONDS``
   ahead), then commits;
2. call the provider with the command's idempotency key;
3. record: a second transaction locks the row again and, if it is still
   pending, posts the outcome to the ledger.

A worker killed after 1 leaves a pending row whose lease runs out; the sweep
claims it again and calls with the same key, so the provider pays once and
returns its first answer. A provider that does not answer
(``ProviderUnavailable``) is retried with exponential backoff; after
``OUTBOX_MAX_ATTEMPTS`` the command waits for staff (``stuck``) in the admin,
where they can retry it or give up, returning the money to the user.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from accounts.models import User
from marketplace.money import Amount
from marketplace.queue import enqueue_on_commit
from notifications.services import notification_send
from payments.ledger import Line, account_for, ledger_post
from payments.models import (
    AccountKind,
    Checkout,
    CommandKind,
    CommandStatus,
    Entry,
    ProviderCommand,
    TransactionKind,
    Withdrawal,
    WithdrawalStatus,
)
from payments.providers import ProviderResult, ProviderUnavailable, get_provider
from webhooks.payloads import money_data, time_data
from webhooks.services import webhooks_emit

logger = logging.getLogger(__name__)

EXECUTE_TASK = "payments.tasks.execute_command"


# --- writing commands (inside the caller's transaction) ------------------------------------


def command_payout(withdrawal: Withdrawal, *, destination: str) -> ProviderCommand:
    """Pay ``withdrawal`` out to ``destination``, the provider's token for where it goes (the
    withdrawal keeps it as shown, "•••• 4242"; ``payments.connect.payout_destination``)."""
    command = ProviderCommand.objects.create(
        kind=CommandKind.PAYOUT,
        idempotency_key=f"payout:{withdrawal.idempotency_key}",
        amount=withdrawal.amount,
        user=withdrawal.seller,
        withdrawal=withdrawal,
        method=withdrawal.method,
        destination=destination,
        next_attempt_at=timezone.now(),
    )
    enqueue_on_commit(EXECUTE_TASK, command.pk)
    return command


def command_refund(
    *,
    user: User,
    amount: Money,
    payment_reference: str,
    key: str,
    milestone_id: int | None = None,
    checkout: Checkout | None = None,
) -> ProviderCommand:
    """Refund ``amount`` to the card of ``payment_reference``. The caller has
    posted the money into the card-refunds account in this transaction."""
    command = ProviderCommand.objects.create(
        kind=CommandKind.REFUND,
        idempotency_key=key,
        amount=amount,
        user=user,
        milestone_id=milestone_id,
        checkout=checkout,
        payment_reference=payment_reference,
        next_attempt_at=timezone.now(),
    )
    enqueue_on_commit(EXECUTE_TASK, command.pk)
    return command


# --- executing them (no transaction open) ------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    outcome: str  # "not due", "succeeded", "failed", "retry", "stuck", "already settled"

    @property
    def settled(self) -> bool:
        return self.outcome in ("succeeded", "failed")


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at an hour."""
    return timedelta(seconds=min(settings.OUTBOX_RETRY_SECONDS * 2 ** max(attempts - 1, 0), 3600))


def _claim(command_id: int, now: datetime) -> ProviderCommand | None:
    with transaction.atomic():
        command = (
            ProviderCommand.objects.select_for_update(skip_locked=True)
            .filter(pk=command_id, status=CommandStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if command is None:
            return None
        command.attempts += 1
        command.next_attempt_at = now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
        command.save(update_fields=["attempts", "next_attempt_at"])
    return command


def _call(command: ProviderCommand) -> ProviderResult:
    provider = get_provider()
    if command.kind == CommandKind.PAYOUT:
        return provider.payout(
            amount=command.amount,
            method=command.method,
            destination=command.destination,
            idempotency_key=command.idempotency_key,
            metadata={"withdrawal": str(command.withdrawal_id), "user": str(command.user_id)},
        )
    return provider.refund(
        amount=command.amount, payment_reference=command.payment_reference, idempotency_key=command.idempotency_key
    )


def command_execute(*, command_id: int, now: datetime | None = None) -> Execution:
    """Claim, call, record (see the module docstring). Safe to run twice at once."""
    now = now or timezone.now()
    command = _claim(command_id, now)
    if command is None:
        return Execution("not due")
    try:
        result = _call(command)
    except ProviderUnavailable as error:
        return _record_unavailable(command.pk, str(error) or error.__class__.__name__, now=now)
    return _record(command.pk, result, now=now)


def _record_unavailable(command_id: int, error: str, *, now: datetime) -> Execution:
    with transaction.atomic():
        command = ProviderCommand.objects.select_for_update().get(pk=command_id)
        if command.status != CommandStatus.PENDING:
            return Execution("already settled")
        command.last_error = error[:500]
        if command.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            command.status = CommandStatus.STUCK
            logger.error("provider command %s stuck after %s attempts: %s", command.pk, command.attempts, error)
            outcome = "stuck"
        else:
            command.next_attempt_at = now + backoff(command.attempts)
            logger.warning("provider command %s: %s; retry at %s", command.pk, error, command.next_attempt_at)
            outcome = "retry"
        command.save(update_fields=["status", "last_error", "next_attempt_at"])
    return Execution(outcome)


def _record(command_id: int, result: ProviderResult, *, now: datetime) -> Execution:
    with transaction.atomic():
        command = (
            ProviderCommand.objects.select_for_update(of=("self",))
            .select_related("user", "milestone")
            .get(pk=command_id)
        )
        if command.status not in (CommandStatus.PENDING, CommandStatus.STUCK):
            return Execution("already settled")
        command.failure_code = result.failure_code
        if not result.ok and command.kind == CommandKind.REFUND and result.failure_code in REFUSALS_FOR_STAFF:
            return _hold_for_staff(command, result)
        _settle(
            command, ok=result.ok, reference=result.reference, reason=result.message or result.failure_code, now=now
        )
    return Execution("succeeded" if result.ok else "failed")


# A refund refused because the provider does not know the payment, or has less of it left than
# asked: not a card that cannot take money back (which returns it to the buyer's balance) but a
# sign the payment never happened as recorded. The money stays set aside and staff decide.
REFUSALS_FOR_STAFF = frozenset({"resource_missing", "amount_too_large", "charge_already_refunded"})


def _hold_for_staff(command: ProviderCommand, result: ProviderResult) -> Execution:
    """The refund waits in the admin's stuck list with the provider's reason; nothing is
    credited to anyone until staff retry it or give it up. Caller holds the command row."""
    command.status = CommandStatus.STUCK
    command.last_error = (
        f"The provider refused the refund of payment {command.payment_reference}: "
        f"{result.message or result.failure_code} ({result.failure_code}). Check the payment "
        "with the provider, then retry or give up (which credits the buyer's balance)."
    )[:500]
    command.save(update_fields=["status", "last_error", "failure_code"])
    logger.error("refund command %s held for staff: %s", command.pk, command.last_error)
    return Execution("stuck")


def _settle(command: ProviderCommand, *, ok: bool, reference: str, reason: str, now: datetime) -> None:
    """The ledger side of a final answer. Caller holds the command row."""
    if command.kind == CommandKind.PAYOUT:
        withdrawal = (
            Withdrawal.objects.select_for_update(of=("self",)).select_related("seller").get(pk=command.withdrawal_id)
        )
        withdrawal_settle(withdrawal=withdrawal, ok=ok, reference=reference, reason=reason, now=now)
    else:
        _refund_settle(command, ok=ok, reference=reference, reason=reason)
    command.status = CommandStatus.SUCCEEDED if ok else CommandStatus.FAILED
    command.provider_reference = reference
    command.last_error = "" if ok else reason[:500]
    command.finished_at = now
    command.save(update_fields=["status", "provider_reference", "last_error", "finished_at", "failure_code"])


def _withdrawal_sources(withdrawal: Withdrawal) -> list[Line]:
    """Where a withdrawal's money was taken from (its request's debits), to put it back there."""
    taken = Entry.objects.filter(
        transaction__idempotency_key=f"withdraw:{withdrawal.idempotency_key}", amount__lt=0
    ).select_related("account")
    return [(entry.account, -entry.amount) for entry in taken]


def withdrawal_settle(*, withdrawal: Withdrawal, ok: bool, reference: str, reason: str, now: datetime) -> None:
    """Record the provider's final answer to a payout. Caller holds the
    command and withdrawal rows (``_settle``)."""
    seller = withdrawal.seller
    currency = str(withdrawal.amount.currency)
    withdrawing = account_for(kind=AccountKind.SELLER_WITHDRAWING, currency=currency, user=seller)
    if ok:
        ledger_post(
            key=f"payout:{withdrawal.idempotency_key}",
            kind=TransactionKind.WITHDRAWAL_PAID,
            lines=[
                (withdrawing, -withdrawal.amount),
                (account_for(kind=AccountKind.PAYOUTS, currency=currency), withdrawal.amount),
            ],
            memo=f"Payout {reference}",
            actor=None,
        )
        withdrawal.status = WithdrawalStatus.PAID
        withdrawal.gateway_reference = reference
        message = format_lazy(
            gettext_lazy("Your withdrawal of {amount} has been sent."), amount=Amount(withdrawal.amount)
        )
    else:
        ledger_post(
            key=f"payout:{withdrawal.idempotency_key}",
            kind=TransactionKind.WITHDRAWAL_FAILED,
            lines=[(withdrawing, -withdrawal.amount), *_withdrawal_sources(withdrawal)],
            memo=f"Payout failed: {reason}"[:300],
            actor=None,
        )
        withdrawal.status = WithdrawalStatus.FAILED
        withdrawal.failure_reason = reason[:200]
        message = format_lazy(
            gettext_lazy(
                "Your withdrawal of {amount} failed ({reason}); "
                "the money is back in your balance, available to withdraw again."
            ),
            amount=Amount(withdrawal.amount),
            reason=withdrawal.failure_reason,
        )
    withdrawal.processed_at = now
    withdrawal.save(update_fields=["status", "gateway_reference", "failure_reason", "processed_at"])
    webhooks_emit(
        user=seller,
        event_type="payout.paid" if ok else "payout.failed",
        data={
            "payout": {
                "id": withdrawal.pk,
                "status": withdrawal.status,
                **money_data(withdrawal.amount),
                "method": withdrawal.method,
                "failure_reason": withdrawal.failure_reason,
                "processed_at": time_data(now),
            }
        },
    )
    notification_send(
        recipient=seller, event="withdrawal_" + withdrawal.status, message=message, url=reverse("earnings")
    )


def _refund_settle(command: ProviderCommand, *, ok: bool, reference: str, reason: str) -> None:
    currency = str(command.amount.currency)
    in_flight = account_for(kind=AccountKind.CARD_REFUNDS, currency=currency)
    if ok:
        ledger_post(
            key=f"card_refund:{command.idempotency_key}",
            kind=TransactionKind.CARD_REFUND_PAID,
            lines=[
                (in_flight, -command.amount),
                (account_for(kind=AccountKind.GATEWAY, currency=currency), command.amount),
            ],
            memo=f"Refund {reference} to card (payment {command.payment_reference})",
            milestone=command.milestone,
        )
        message = format_lazy(
            gettext_lazy("{amount} has been refunded to your card; banks take 5–10 days to show it."),
            amount=Amount(command.amount),
        )
    else:
        ledger_post(
            key=f"card_refund:{command.idempotency_key}",
            kind=TransactionKind.CARD_REFUND_FAILED,
            lines=[
                (in_flight, -command.amount),
                (account_for(kind=AccountKind.BUYER_BALANCE, currency=currency, user=command.user), command.amount),
            ],
            memo=f"Refund to card refused ({reason}); credited to balance"[:300],
            milestone=command.milestone,
        )
        message = format_lazy(
            gettext_lazy(
                "The refund of {amount} to your card could not be made ({reason}); it is in your balance instead."
            ),
            amount=Amount(command.amount),
            reason=reason,
        )
    notification_send(
        recipient=command.user,
        event="card_refund_" + ("paid" if ok else "failed"),
        message=message,
        url=reverse("earnings"),
    )


# --- staff (the admin's actions) ------------------------------------------------------------------


def command_retry(*, command_id: int, actor: User) -> bool:
    """Staff send a stuck command again: attempts start over."""
    with transaction.atomic():
        updated = ProviderCommand.objects.filter(pk=command_id, status=CommandStatus.STUCK).update(
            status=CommandStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
        )
        if updated:
            logger.info("staff %s retried provider command %s", actor.username, command_id)
            enqueue_on_commit(EXECUTE_TASK, command_id)
    return bool(updated)


def command_give_up(*, command_id: int, actor: User, reason: str) -> bool:
    """Staff close a stuck command as failed: the money returns to the user
    (the seller's available balance, or the buyer's site balance).

    Only for a command the provider never carried out: staff check the
    provider's dashboard first (``payments_reconcile`` lists what it did).
    """
    with transaction.atomic():
        command = (
            ProviderCommand.objects.select_for_update(of=("self",))
            .select_related("user", "milestone")
            .filter(pk=command_id, status=CommandStatus.STUCK)
            .first()
        )
        if command is None:
            return False
        command.failure_code = "given_up"
        _settle(command, ok=False, reference="", reason=f"given up by staff: {reason}"[:200], now=timezone.now())
        logger.warning("staff %s gave up provider command %s: %s", actor.username, command_id, reason)
    return True
