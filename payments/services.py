"""Every movement of money: the ledger and the flows built on it.

Each flow is called inside the atomic block of a service that already holds
the order and milestone locks (see ``marketplace/locks.py``); ``ledger_post``
then locks the accounts it touches, in ascending id, and refuses anything that
would leave a guarded balance below zero. Flows with no order (clearance,
withdrawals) open their own atomic block and lock their own row first.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from djmoney.money import Money

from marketplace.errors import DuplicateRequest, InsufficientFunds, InvalidInput, PaymentDeclined
from payments.gateway import get_gateway
from payments.models import (
    Account,
    AccountKind,
    Earning,
    EarningStatus,
    Entry,
    Transaction,
    TransactionKind,
    Withdrawal,
    WithdrawalStatus,
)
from payments.money import format_money, round_money, seller_commission, zero

logger = logging.getLogger(__name__)


# --- accounts and the ledger -------------------------------------------------


def account_for(*, kind: str, currency: str, user=None, milestone=None) -> Account:
    """The account of that kind for that owner, created on first use."""
    if kind == AccountKind.ESCROW:
        account, _ = Account.objects.get_or_create(kind=kind, milestone=milestone, defaults={"currency": currency})
        return account
    if user is not None:
        account, _ = Account.objects.get_or_create(kind=kind, user=user, currency=currency)
        return account
    account, _ = Account.objects.get_or_create(kind=kind, currency=currency, user=None, milestone=None)
    return account


Line = tuple[Account, Money]


def accounts_lock(accounts: Sequence[Account]) -> dict[int, Account]:
    """``SELECT ... FOR UPDATE`` the guarded ones among ``accounts``, in ascending id.

    ``ledger_post`` calls it for its own lines. A flow that posts more than once
    in one transaction calls it first with *every* account it will touch:
    approval with instant clearance posts the release (locking the seller's
    pending account) and then the clearance (locking the available one); taken
    post by post, that holds pending while waiting for available, while a
    clearance task for the same seller takes them the other way round whenever
    the available account has the lower id. PostgreSQL then kills one of the
    two with a deadlock error. One sorted lock up front keeps the order global.
    """
    ids = sorted({account.pk for account in accounts if account.is_guarded})
    return {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


@dataclass(frozen=True)
class Posting:
    """One balanced ledger transaction to post."""

    key: str
    kind: str
    lines: Sequence[Line]
    memo: str = ""
    milestone: Any = None
    actor: Any = None


def _checked_lines(posting: Posting) -> list[Line]:
    lines = [(account, money) for account, money in posting.lines if money.amount != 0]
    if not lines:
        raise ValueError("a ledger transaction needs at least one non-zero line")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for account, money in lines:
        currency = str(money.currency)
        if currency != account.currency:
            raise ValueError(f"{money} cannot be posted to a {account.currency} account")
        if round_money(money) != money:
            raise ValueError(f"{money.amount} has more decimal places than {currency} allows")
        totals[currency] += money.amount
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        raise ValueError(f"unbalanced ledger transaction {posting.key}: {unbalanced}")
    return lines


def ledger_post_many(postings: Sequence[Posting]) -> list[Transaction]:
    """Post balanced transactions, one INSERT per table for all of them.
    With ``ledger_post`` (its one-posting case), the only code that writes entries.

    Takes ``SELECT ... FOR UPDATE`` on the guarded accounts among the lines,
    in ascending id (the last step of the lock order), so two posts that
    touch the same seller's balance queue up and the second sees the first's
    result. Platform and outside-world accounts are not locked: they may take
    any value, and locking them would make every payment on the site queue
    behind one row.

    Raises ``DuplicateRequest`` if any key was posted before (the money moved
    once, the first time) and ``InsufficientFunds`` if a guarded balance would
    go negative. On PostgreSQL a deferred trigger checks every zero sum again
    at COMMIT.
    """
    checked = [(posting, _checked_lines(posting)) for posting in postings]
    keys = [posting.key for posting in postings]
    if len(set(keys)) != len(keys):
        raise ValueError("two postings share an idempotency key")
    deltas: dict[int, Decimal] = defaultdict(Decimal)
    for _, lines in checked:
        for account, money in lines:
            deltas[account.pk] += money.amount

    locked = accounts_lock([account for _, lines in checked for account, _ in lines])
    # The keys are checked after the locks, not before: a replay that queued
    # behind the first post (two tabs withdrawing everything) must hear
    # "already done", not "not enough money" from the balance the first post
    # just spent.
    if Transaction.objects.filter(idempotency_key__in=keys).exists():
        raise DuplicateRequest("This payment was already processed.")
    for pk, account in locked.items():
        if account.balance + deltas[pk] < 0:
            raise InsufficientFunds(
                f"Not enough money: the balance is {format_money(Money(account.balance, account.currency))}.",
            )

    try:
        with transaction.atomic():
            txns = Transaction.objects.bulk_create(
                Transaction(
                    idempotency_key=posting.key,
                    kind=posting.kind,
                    memo=posting.memo[:300],
                    milestone=posting.milestone,
                    actor=posting.actor,
                )
                for posting in postings
            )
    except IntegrityError:
        # Another transaction posted the same key between our check and our
        # insert; the unique index made us wait for it, then refused.
        raise DuplicateRequest("This payment was already processed.") from None
    Entry.objects.bulk_create(
        Entry(transaction=txn, account=account, amount=money)
        for txn, (_, lines) in zip(txns, checked, strict=True)
        for account, money in lines
    )
    for pk in locked:
        Account.objects.filter(pk=pk).update(balance=F("balance") + deltas[pk])
    return txns


def ledger_post(
    *,
    key: str,
    kind: str,
    lines: Sequence[Line],
    memo: str = "",
    milestone=None,
    actor=None,
) -> Transaction:
    """Post one balanced transaction (see ``ledger_post_many``)."""
    posting = Posting(key=key, kind=kind, lines=lines, memo=memo, milestone=milestone, actor=actor)
    return ledger_post_many([posting])[0]


# --- funding, release, refund --------------------------------------------------


@dataclass(frozen=True)
class FundingSource:
    """How the buyer pays: from their balance, or by card through the gateway."""

    method: str  # "balance" or "card"
    card_number: str = ""


def escrow_fund(*, milestone, buyer, source: FundingSource, key: str) -> Transaction:
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


def escrow_balance(milestone) -> Money:
    account = Account.objects.filter(kind=AccountKind.ESCROW, milestone=milestone).first()
    if account is None:
        return zero(milestone.order.currency)
    return account.cached_balance


def escrow_settle(
    *,
    milestone,
    seller_gross: Money,
    kind: str,
    actor=None,
    refund_service_fee: bool = False,
    now: datetime | None = None,
) -> Earning | None:
    """Empty a milestone's escrow: ``seller_gross`` to the seller less the
    commission, the rest back to the buyer's balance.

    Approval is ``seller_gross = amount``; decline and cancel are zero with the
    service fee refunded too (no work was done); a dispute settles anywhere in
    between, the commission on the seller's part only. Returns the seller's
    ``Earning``, or ``None`` if the seller gets nothing. Caller holds the
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
    milestone.seller_fee = fee
    if seller_gross.amount <= 0:
        return None
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
    return earning


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


def _cleared_notice(earning: Earning) -> dict[str, Any]:
    return {
        "recipient": earning.seller,
        "event": "money_cleared",
        "message": f"{format_money(earning.net)} from “{earning.milestone.title}” has cleared "
        "and is available to withdraw.",
        "url": "/earnings/",
    }


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
    from marketplace.services import notifications_send_many

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
        notifications_send_many([_cleared_notice(e) for e in earnings])
    return [e.pk for e in earnings]


# --- withdrawals -------------------------------------------------------------------


def withdrawal_request(*, seller, amount: Money, key: str) -> Withdrawal:
    """Set aside available money for a payout; the gateway call happens in
    ``withdrawal_process`` (a task), so the page answers at once.

    Two withdrawals at once cannot overdraw: ``ledger_post`` locks the
    seller's available account and the second sees the first's debit.
    """
    from marketplace.queue import enqueue_on_commit

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
        from payments.tasks import process_withdrawal

        enqueue_on_commit(process_withdrawal, withdrawal.pk)
    return withdrawal


def withdrawal_process(*, withdrawal_id: int, now: datetime | None = None) -> Withdrawal | None:
    """Send one requested payout through the gateway and record the answer.

    Idempotent: a withdrawal already paid or failed is left alone, and the
    gateway call carries the withdrawal's key, so a retry after a crash gets
    the first answer instead of paying twice.
    """
    from marketplace.services import notification_send

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
        notification_send(recipient=seller, event="withdrawal_" + withdrawal.status, message=message, url="/earnings/")
    return withdrawal
