"""The flows that move money for a reason: funding, release and refund,
clearance, withdrawals. Each posts through the ledger (``payments.ledger``).

Each flow is called inside the atomic block of a service that already holds
the order and milestone locks (``lock_order``, ``lock_milestone``); ``ledger_post``
then locks the accounts it touches, in ascending id, and refuses anything that
would leave a guarded balance below zero. Flows with no order (clearance,
withdrawals) open their own atomic block and lock their own row first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.models import User
from marketplace.errors import DuplicateRequest, InvalidInput, PaymentDeclined
from marketplace.money import format_money, round_money, zero
from marketplace.queue import enqueue_on_commit
from notifications.services import Notice, notification_send, notifications_send
from payments.fees import seller_commission
from payments.gateway import get_gateway
from payments.ledger import EscrowSubject, Line, Posting, account_for, accounts_lock, ledger_post, ledger_post_many
from payments.models import (
    Account,
    AccountKind,
    Earning,
    EarningStatus,
    Transaction,
    TransactionKind,
    Withdrawal,
    WithdrawalStatus,
)

logger = logging.getLogger(__name__)


# --- funding, release, refund --------------------------------------------------


@dataclass(frozen=True)
class FundingSource:
    """How the buyer pays: from their balance, or by card through the gateway."""

    method: str  # "balance" or "card"
    card_number: str = ""


def escrow_fund(*, milestone: EscrowSubject, buyer: User, source: FundingSource, key: str) -> Transaction:
    """Charge the buyer the amount plus the service fee; the amount waits in escrow.

    Caller holds the order lock. A declined card raises ``PaymentDeclined`` and,
    the caller's block rolling back, nothing is created.
    """
    currency = milestone.order.currency
    total = milestone.amount + milestone.buyer_fee
    escrow = account_for(kind=AccountKind.ESCROW, currency=currency, milestone=milestone)
    fees = account_for(kind=AccountKind.PLATFORM_FEES, currency=currency)
    if source.method == "balance":
        payer = account_for(kind=AccountKind.BUYER_BALANCE, currency=currency, user=buyer)
        memo = "Paid from balance"
    elif source.method == "card":
        result = get_gateway().charge(amount=total, card_number=source.card_number, idempotency_key=f"charge:{key}")
        if not result.ok:
            raise PaymentDeclined(result.message or "Your card was declined.", field="card_number")
        payer = account_for(kind=AccountKind.GATEWAY, currency=currency)
        memo = f"Card charge {result.reference}"
    else:
        raise InvalidInput(f"Unknown payment method {source.method!r}.", field="method")
    return ledger_post(
        key=f"fund:{key}",
        kind=TransactionKind.FUND,
        lines=[(payer, -total), (escrow, milestone.amount), (fees, milestone.buyer_fee)],
        memo=memo,
        milestone=milestone,
        actor=buyer,
    )


@dataclass(frozen=True)
class Settlement:
    """What emptying an escrow decided: the commission, and the seller's earning if any."""

    fee: Money
    earning: Earning | None


def escrow_settle(
    *,
    milestone: EscrowSubject,
    seller_gross: Money,
    kind: str,
    actor: User | None = None,
    refund_service_fee: bool = False,
    now: datetime | None = None,
) -> Settlement:
    """Empty a milestone's escrow: ``seller_gross`` to the seller less the
    commission, the rest back to the buyer's balance.

    Approval is ``seller_gross = amount``; decline and cancel are zero with the
    service fee refunded too (no work was done); a dispute settles anywhere in
    between, the commission on the seller's part only. Returns the commission
    taken (for the milestone to store) and the seller's ``Earning``, or
    ``None`` if the seller gets nothing. Caller holds the
    order and milestone locks; the key makes a second settlement impossible.
    """
    now = now or timezone.now()
    order = milestone.order
    currency = order.currency
    seller = order.seller
    clears_at = now + seller.clearance_period
    escrow = account_for(kind=AccountKind.ESCROW, currency=currency, milestone=milestone)
    buyer_balance = account_for(kind=AccountKind.BUYER_BALANCE, currency=currency, user=order.buyer)
    to_lock = [escrow, buyer_balance]
    if seller_gross.amount > 0:
        pending = account_for(kind=AccountKind.SELLER_PENDING, currency=currency, user=seller)
        to_lock.append(pending)
        if clears_at <= now:
            # Instant clearance posts again, to the available account: lock it now, in order.
            to_lock.append(account_for(kind=AccountKind.SELLER_AVAILABLE, currency=currency, user=seller))
    held = accounts_lock(to_lock)[escrow.pk].cached_balance
    if seller_gross.amount < 0 or seller_gross > held:
        raise InvalidInput(
            f"The seller's part must be between {format_money(zero(currency))} and {format_money(held)}.",
            field="seller_amount",
        )
    buyer_part = held - seller_gross
    fee = seller_commission(seller_gross)
    net = seller_gross - fee
    lines: list[Line] = [(escrow, -held)]
    if seller_gross.amount > 0:
        lines += [(pending, net), (account_for(kind=AccountKind.PLATFORM_FEES, currency=currency), fee)]
    if buyer_part.amount > 0:
        lines.append((buyer_balance, buyer_part))
    if refund_service_fee and milestone.buyer_fee.amount > 0:
        lines += [
            (account_for(kind=AccountKind.PLATFORM_FEES, currency=currency), -milestone.buyer_fee),
            (buyer_balance, milestone.buyer_fee),
        ]
    ledger_post(
        key=f"settle:{milestone.pk}",
        kind=kind,
        lines=lines,
        memo=f"Milestone “{milestone.title}”",
        milestone=milestone,
        actor=actor,
    )
    if seller_gross.amount <= 0:
        return Settlement(fee=fee, earning=None)
    earning = Earning.objects.create(
        seller=seller,
        milestone=milestone,
        gross=seller_gross,
        fee=fee,
        net=net,
        clears_at=clears_at,
    )
    if earning.clears_at <= now:
        # Instant withdrawal method: no wait, available at once.
        _clear_all([earning], now=now)
    return Settlement(fee=fee, earning=earning)


# --- clearance -------------------------------------------------------------------


def _seller_accounts(earnings: Sequence[Earning]) -> dict[tuple[str, int | None, str], Account]:
    """The pending and available accounts of the earnings' sellers, in one query."""
    wanted = {
        (kind, e.seller_id, str(e.net.currency))
        for e in earnings
        for kind in (AccountKind.SELLER_PENDING, AccountKind.SELLER_AVAILABLE)
    }
    found = {
        (a.kind, a.user_id, a.currency): a
        for a in Account.objects.filter(
            kind__in=[AccountKind.SELLER_PENDING, AccountKind.SELLER_AVAILABLE],
            user_id__in={e.seller_id for e in earnings},
        )
    }
    sellers = {e.seller_id: e.seller for e in earnings}
    for kind, user_id, currency in wanted - found.keys():
        found[(kind, user_id, currency)] = account_for(kind=kind, currency=currency, user=sellers[user_id])
    return found


def _clear_all(earnings: Sequence[Earning], *, now: datetime) -> None:
    """Pending to available for each earning: one CLEAR transaction each
    (key ``clear:<earning id>``), all posted together. Caller holds the
    earning rows."""
    accounts = _seller_accounts(earnings)
    ledger_post_many(
        [
            Posting(
                key=f"clear:{e.pk}",
                kind=TransactionKind.CLEAR,
                lines=[
                    (accounts[(AccountKind.SELLER_PENDING, e.seller_id, str(e.net.currency))], -e.net),
                    (accounts[(AccountKind.SELLER_AVAILABLE, e.seller_id, str(e.net.currency))], e.net),
                ],
                memo="Cleared, available to withdraw",
                milestone=e.milestone,
            )
            for e in earnings
        ]
    )
    Earning.objects.filter(pk__in=[e.pk for e in earnings]).update(status=EarningStatus.CLEARED, cleared_at=now)
    for earning in earnings:
        earning.status = EarningStatus.CLEARED
        earning.cleared_at = now


def _cleared_notice(earning: Earning) -> Notice:
    return Notice(
        recipient=earning.seller,
        event="money_cleared",
        message=f"{format_money(earning.net)} from “{earning.milestone.title}” has cleared "
        "and is available to withdraw.",
        url=reverse("earnings"),
    )


def earning_clear(*, earning_id: int, now: datetime | None = None) -> bool:
    """Move one earning from pending to available once ``clears_at`` has passed.

    Idempotent: returns False and changes nothing if it is not due or was
    cleared already (a repeated or late task). Locks the earning row, then
    the seller's accounts.
    """
    return bool(earnings_clear_batch(earning_ids=[earning_id], now=now, skip_locked=False))


def earnings_clear_batch(
    *, earning_ids: Sequence[int], now: datetime | None = None, skip_locked: bool = True
) -> list[int]:
    """Clear every due earning among ``earning_ids`` in one transaction.

    The same outcome as clearing them one by one (a CLEAR transaction and a
    notice per earning), with a constant number of queries per batch: the
    clearance sweep's path through 100,000 due earnings. Rows another worker
    holds are skipped (``skip_locked``) and left to it; rows no longer due are
    ignored. Returns the ids it cleared.

    Locks: the earning rows only (``of=self``: the joined seller, milestone
    and order are read, their locks belong to the services that change them),
    then the sellers' accounts in id order inside ``ledger_post_many``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        earnings = list(
            Earning.objects.select_for_update(of=("self",), skip_locked=skip_locked)
            .select_related("seller", "milestone")
            .filter(pk__in=earning_ids, status=EarningStatus.PENDING, clears_at__lte=now)
            .order_by("pk")
        )
        if not earnings:
            return []
        _clear_all(earnings, now=now)
        notifications_send(_cleared_notice(e) for e in earnings)
    return [e.pk for e in earnings]


# --- withdrawals -------------------------------------------------------------------


def withdrawal_request(*, seller: User, amount: Money, key: str) -> Withdrawal:
    """Set aside available money for a payout; the gateway call happens in
    ``withdrawal_process`` (a task), so the page answers at once.

    Two withdrawals at once cannot overdraw: ``ledger_post`` locks the
    seller's available account and the second sees the first's debit.
    """
    # NaN and Infinity are Decimals too; comparing or rounding them raises instead of refusing.
    if not amount.amount.is_finite():
        raise InvalidInput("Enter the amount as a number.", field="amount")
    if amount.amount <= 0:
        raise InvalidInput("Enter an amount greater than zero.", field="amount")
    if round_money(amount) != amount:
        raise InvalidInput("Use at most two decimal places.", field="amount")
    if not seller.payout_account.strip():
        raise InvalidInput(
            "Add where to send your money (payout account) in your profile first.", field="payout_account"
        )
    currency = str(amount.currency)
    with transaction.atomic():
        if Withdrawal.objects.filter(idempotency_key=key).exists():
            raise DuplicateRequest("This withdrawal was already requested.")
        ledger_post(
            key=f"withdraw:{key}",
            kind=TransactionKind.WITHDRAWAL_REQUEST,
            lines=[
                (account_for(kind=AccountKind.SELLER_AVAILABLE, currency=currency, user=seller), -amount),
                (account_for(kind=AccountKind.SELLER_WITHDRAWING, currency=currency, user=seller), amount),
            ],
            memo=f"Withdrawal to {seller.get_withdrawal_method_display()}",
            actor=seller,
        )
        withdrawal = Withdrawal.objects.create(
            seller=seller,
            amount=amount,
            method=seller.withdrawal_method,
            destination=seller.payout_account,
            idempotency_key=key,
        )
        enqueue_on_commit("payments.tasks.process_withdrawal", withdrawal.pk)
    return withdrawal


def withdrawal_process(*, withdrawal_id: int, now: datetime | None = None) -> Withdrawal | None:
    """Send one requested payout through the gateway and record the answer.

    Idempotent: a withdrawal already paid or failed is left alone, and the
    gateway call carries the withdrawal's key, so a retry after a crash gets
    the first answer instead of paying twice.
    """
    now = now or timezone.now()
    with transaction.atomic():
        withdrawal = (
            Withdrawal.objects.select_for_update(of=("self",))
            .select_related("seller")
            .filter(pk=withdrawal_id, status=WithdrawalStatus.REQUESTED)
            .first()
        )
        if withdrawal is None:
            return None
        seller = withdrawal.seller
        currency = str(withdrawal.amount.currency)
        result = get_gateway().payout(
            amount=withdrawal.amount,
            method=withdrawal.method,
            destination=withdrawal.destination,
            idempotency_key=f"payout:{withdrawal.idempotency_key}",
        )
        withdrawing = account_for(kind=AccountKind.SELLER_WITHDRAWING, currency=currency, user=seller)
        if result.ok:
            ledger_post(
                key=f"payout:{withdrawal.idempotency_key}",
                kind=TransactionKind.WITHDRAWAL_PAID,
                lines=[
                    (withdrawing, -withdrawal.amount),
                    (account_for(kind=AccountKind.PAYOUTS, currency=currency), withdrawal.amount),
                ],
                memo=f"Payout {result.reference}",
                actor=None,
            )
            withdrawal.status = WithdrawalStatus.PAID
            withdrawal.gateway_reference = result.reference
            message = f"Your withdrawal of {format_money(withdrawal.amount)} has been sent."
        else:
            ledger_post(
                key=f"payout:{withdrawal.idempotency_key}",
                kind=TransactionKind.WITHDRAWAL_FAILED,
                lines=[
                    (withdrawing, -withdrawal.amount),
                    (account_for(kind=AccountKind.SELLER_AVAILABLE, currency=currency, user=seller), withdrawal.amount),
                ],
                memo=f"Payout failed: {result.failure_code}",
                actor=None,
            )
            withdrawal.status = WithdrawalStatus.FAILED
            withdrawal.failure_reason = result.message or result.failure_code
            message = (
                f"Your withdrawal of {format_money(withdrawal.amount)} failed ({withdrawal.failure_reason}); "
                "the money is back in your available balance."
            )
        withdrawal.processed_at = now
        withdrawal.save(update_fields=["status", "gateway_reference", "failure_reason", "processed_at"])
        notification_send(
            recipient=seller, event="withdrawal_" + withdrawal.status, message=message, url=reverse("earnings")
        )
    return withdrawal
