"""The tamper-evident ledger: MACs, shapes, records and seals (docs/ARCHITECTURE.md).

PostgreSQL's triggers refuse edits to the ledger and to the money records
(payments migration 0008). This module is what finds an edit made anyway,
with the triggers disabled or in a restored dump, and it is read by
``ledger_audit``:

* **MACs.** Every transaction carries a keyed MAC of its key, kind, memo,
  milestone, actor, time and entries (``transaction_mac``); earnings,
  withdrawals and provider commands one of their money fields
  (``marketplace.mac.MacSealed``). The key is in the environment only.
* **Shapes.** Each kind of transaction may only debit and credit certain kinds
  of account (``SHAPES``): a release never credits a buyer's balance from the
  gateway, whatever it sums to.
* **Records.** Each transaction belongs to its business record (a milestone's
  funding or settlement, an earning's clearance, a withdrawal, a refund
  command) and moves what that record says; each record has its transaction.
  The checks of milestones themselves (parties, states) are registered by the
  milestones app.
* **Seals.** ``ledger_seal`` (beat, every ``LEDGER_SEAL_INTERVAL_SECONDS``)
  checkpoints the transactions written since the last seal; a transaction
  deleted, inserted or changed under a seal no longer adds up to it. Sealing
  only reads: no writer waits on it, and no writer waits on another for it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from djmoney.money import Money

from marketplace.mac import content_mac, macs_equal
from payments.models import (
    AccountKind,
    CommandKind,
    CommandStatus,
    Earning,
    EarningStatus,
    Entry,
    LedgerSeal,
    ProviderCommand,
    Tip,
    Transaction,
    TransactionKind,
    Withdrawal,
    WithdrawalStatus,
)

logger = logging.getLogger(__name__)

K = AccountKind
T = TransactionKind
DEBIT, CREDIT = "-", "+"

# Which kinds of account each kind of transaction may take from (-) and give to (+).
_SETTLE = {
    (K.ESCROW, DEBIT),
    (K.SELLER_PENDING, CREDIT),
    (K.PLATFORM_FEES, CREDIT),
    (K.PLATFORM_FEES, DEBIT),
    (K.BUYER_BALANCE, CREDIT),
    (K.CARD_REFUNDS, CREDIT),
}
SHAPES: dict[str, frozenset[tuple[str, str]]] = {
    T.FUND: frozenset({(K.BUYER_BALANCE, DEBIT), (K.GATEWAY, DEBIT), (K.ESCROW, CREDIT), (K.PLATFORM_FEES, CREDIT)}),
    T.RELEASE: frozenset(_SETTLE),
    T.SPLIT: frozenset(_SETTLE),
    T.REFUND: frozenset(_SETTLE - {(K.SELLER_PENDING, CREDIT), (K.PLATFORM_FEES, CREDIT)}),
    T.TIP: frozenset(
        {(K.BUYER_BALANCE, DEBIT), (K.GATEWAY, DEBIT), (K.SELLER_PENDING, CREDIT), (K.PLATFORM_FEES, CREDIT)}
    ),
    T.CLEAR: frozenset({(K.SELLER_PENDING, DEBIT), (K.SELLER_AVAILABLE, CREDIT)}),
    # A withdrawal takes cleared earnings and the balance (a buyer's refunds); a failed one puts them back.
    T.WITHDRAWAL_REQUEST: frozenset(
        {(K.SELLER_AVAILABLE, DEBIT), (K.BUYER_BALANCE, DEBIT), (K.SELLER_WITHDRAWING, CREDIT)}
    ),
    T.WITHDRAWAL_PAID: frozenset({(K.SELLER_WITHDRAWING, DEBIT), (K.PAYOUTS, CREDIT)}),
    T.WITHDRAWAL_FAILED: frozenset(
        {(K.SELLER_WITHDRAWING, DEBIT), (K.SELLER_AVAILABLE, CREDIT), (K.BUYER_BALANCE, CREDIT)}
    ),
    T.CARD_REFUND_PAID: frozenset({(K.CARD_REFUNDS, DEBIT), (K.GATEWAY, CREDIT)}),
    T.CARD_REFUND_FAILED: frozenset({(K.CARD_REFUNDS, DEBIT), (K.BUYER_BALANCE, CREDIT)}),
    T.LATE_PAYMENT: frozenset({(K.GATEWAY, DEBIT), (K.CARD_REFUNDS, CREDIT)}),
    T.BALANCE_TO_CARD: frozenset({(K.BUYER_BALANCE, DEBIT), (K.CARD_REFUNDS, CREDIT)}),
}
# Kinds that move one user's own money, on their accounts only.
ONE_USER_KINDS = frozenset({T.CARD_REFUND_FAILED, T.WITHDRAWAL_REQUEST, T.WITHDRAWAL_FAILED, T.BALANCE_TO_CARD})
# The refund commands of a balance sent back to card (``payments.services.balance_refund_to_card``).
TO_CARD_COMMANDS = "refund:to-card:"

# Kinds that belong to a milestone (its funding, settlement or tip).
MILESTONE_KINDS = frozenset({T.FUND, T.RELEASE, T.SPLIT, T.REFUND, T.TIP})


def _entry_part(account_id: int, amount: Decimal, currency: str) -> str:
    return f"{account_id}:{amount:.2f} {currency}"


# The fields of a transaction its MAC covers, with its entries.
TRANSACTION_HEAD = ("idempotency_key", "kind", "memo", "milestone_id", "actor_id", "created_at")


def head_mac(head: Sequence[Any], entries: Iterable[tuple[int, Decimal, str]]) -> str:
    """The MAC of a transaction's ``TRANSACTION_HEAD`` values and its entries
    (account id, amount, currency), in any order."""
    parts = sorted(_entry_part(account_id, amount, currency) for account_id, amount, currency in entries)
    return content_mac("transaction", [*head, *parts])


def transaction_mac(txn: Transaction, lines: Iterable[tuple[int, Money]]) -> str:
    """The MAC of a transaction about to be posted, with its lines (account id, amount)."""
    head = [getattr(txn, name) for name in TRANSACTION_HEAD]
    return head_mac(head, ((account_id, money.amount, str(money.currency)) for account_id, money in lines))


def _seal_mac(seal: LedgerSeal) -> str:
    parts = [seal.previous_mac, seal.lower, seal.upper, seal.count, seal.totals, seal.digest]
    return content_mac("seal", parts)


def _cover_field() -> str:
    return "xid" if connection.vendor == "postgresql" else "id"


def _totals_text(totals: dict[str, Decimal]) -> str:
    return ";".join(f"{currency} {amount:.2f}" for currency, amount in sorted(totals.items()))


@dataclass
class _Span:
    """What the transactions in one cover range add up to, recomputed."""

    count: int = 0
    totals: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    hasher: Any = field(default_factory=hashlib.sha256)

    def add(self, mac: str, moved: dict[str, Decimal]) -> None:
        self.count += 1
        for currency, amount in moved.items():
            self.totals[currency] += amount
        self.hasher.update(mac.encode())


def _span_of(lower: int, upper: int) -> _Span:
    span = _Span()
    cover = _cover_field()
    txns = Transaction.objects.filter(**{f"{cover}__gte": lower, f"{cover}__lt": upper}).order_by("id")
    last = 0
    while True:
        chunk = list(txns.filter(id__gt=last).values_list("id", "mac")[:5000])
        if not chunk:
            return span
        moved = _moved_by([pk for pk, _ in chunk])
        for pk, mac in chunk:
            span.add(mac, moved.get(pk, {}))
        last = chunk[-1][0]


def _moved_by(ids: Sequence[int]) -> dict[int, dict[str, Decimal]]:
    moved: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    rows = Entry.objects.filter(transaction_id__in=ids, amount__gt=0).values_list(
        "transaction_id", "amount", "amount_currency"
    )
    for txn_id, amount, currency in rows:
        moved[txn_id][currency] += amount
    return moved


def ledger_seal() -> LedgerSeal | None:
    """Checkpoint the transactions written since the last seal; None if there
    were none. Run by beat; two at once make one seal (the unique ``lower``)."""
    with transaction.atomic():
        last = LedgerSeal.objects.order_by("-id").first()
        lower = last.upper if last is not None else 0
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Every database transaction below this has finished: no row of it can appear later.
                cursor.execute("SELECT txid_snapshot_xmin(txid_current_snapshot())")
                upper = int(cursor.fetchone()[0])
            else:
                upper = (Transaction.objects.aggregate(top=Max("id"))["top"] or 0) + 1
        if upper <= lower:
            return None
        span = _span_of(lower, upper)
        if span.count == 0:
            return None
        seal = LedgerSeal(
            lower=lower,
            upper=upper,
            count=span.count,
            totals=_totals_text(span.totals),
            digest=span.hasher.hexdigest(),
            previous_mac=last.mac if last is not None else "",
        )
        seal.mac = _seal_mac(seal)
        try:
            with transaction.atomic():
                seal.save()
        except IntegrityError:
            # Another beat sealed the same range first.
            return None
    # Logged, so a copy of the chain lives outside the database: a seal deleted
    # from the end of the chain is still in the logs.
    logger.info("ledger sealed: seal %s covers %s transactions, mac %s", seal.pk, seal.count, seal.mac)
    return seal


# --- the audit ------------------------------------------------------------------------


@dataclass
class _Records:
    """The business records the transactions belong to, by the key they post
    under, and the sealed ones whose MACs are wrong: one query per table."""

    earnings: dict[int, tuple[str, Decimal, int]]  # id -> (status, net, seller)
    withdrawals: dict[str, tuple[str, Decimal, int]]  # idempotency key -> (status, amount, seller)
    commands: dict[str, tuple[str, str, Decimal, int]]  # idempotency key -> (kind, status, amount, user)
    tips: dict[int, Decimal]  # milestone id -> amount
    forged: list[str]
    # A balance sent back to card, by its form key -> what its refund commands add up to, and whose they are.
    to_card: dict[str, tuple[Decimal, set[int]]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> _Records:
        records = cls(earnings={}, withdrawals={}, commands={}, tips={}, forged=[])
        for model in (Earning, Withdrawal, ProviderCommand):
            for record in model.objects.order_by("pk").iterator(chunk_size=2000):
                if not record.mac or not macs_equal(record.mac, record.expected_mac()):
                    records.forged.append(
                        f"{model._meta.verbose_name} {record.pk} does not match its MAC: its money was changed"
                    )
                if isinstance(record, Earning):
                    records.earnings[record.pk] = (record.status, record.net.amount, record.seller_id)
                elif isinstance(record, Withdrawal):
                    records.withdrawals[record.idempotency_key] = (
                        record.status,
                        record.amount.amount,
                        record.seller_id,
                    )
                elif isinstance(record, ProviderCommand):
                    records.commands[record.idempotency_key] = (
                        record.kind,
                        record.status,
                        record.amount.amount,
                        record.user_id,
                    )
                    if record.idempotency_key.startswith(TO_CARD_COMMANDS):
                        form_key = record.idempotency_key[len(TO_CARD_COMMANDS) :].rpartition(":")[0]
                        total, owners = records.to_card.get(form_key, (Decimal("0"), set()))
                        records.to_card[form_key] = (total + record.amount.amount, owners | {record.user_id})
        records.tips = dict(Tip.objects.values_list("milestone_id", "amount"))
        return records


def _record_breach(txn: dict[str, Any], moved: Decimal, users: set[int], records: _Records) -> str | None:
    """Why a transaction does not match the record it belongs to, or None."""
    kind, key, milestone_id = txn["kind"], txn["idempotency_key"], txn["milestone_id"]
    prefix, _, rest = key.partition(":")
    if kind in MILESTONE_KINDS and milestone_id is None:
        return "belongs to no milestone"
    if kind == T.FUND:
        return None if prefix in {"fund", "top-up"} else f"is a funding under the key {key!r}"
    if kind in {T.RELEASE, T.SPLIT} or (kind == T.REFUND and prefix != "reduce"):
        return None if key == f"settle:{milestone_id}" else f"is a settlement under the key {key!r}"
    if kind == T.REFUND:
        return None
    if kind == T.TIP:
        tip = records.tips.get(milestone_id)
        if key != f"tip:{milestone_id}" or tip is None:
            return "is a tip with no tip recorded"
        return None if tip == moved else f"moves {moved} but the tip is {tip}"
    if kind == T.CLEAR:
        earning = records.earnings.get(int(rest)) if prefix == "clear" and rest.isdigit() else None
        if earning is None:
            return "clears no earning"
        status, net, seller = earning
        if status != EarningStatus.CLEARED or net != moved or users != {seller}:
            return f"clears {moved} to user(s) {sorted(users)} but earning {rest} is {status}, {net} to user {seller}"
        return None
    if kind in {T.WITHDRAWAL_REQUEST, T.WITHDRAWAL_PAID, T.WITHDRAWAL_FAILED}:
        expected_prefix = "withdraw" if kind == T.WITHDRAWAL_REQUEST else "payout"
        withdrawal = records.withdrawals.get(rest) if prefix == expected_prefix else None
        if withdrawal is None:
            return "belongs to no withdrawal"
        status, amount, seller = withdrawal
        wanted = {T.WITHDRAWAL_PAID: WithdrawalStatus.PAID, T.WITHDRAWAL_FAILED: WithdrawalStatus.FAILED}.get(kind)
        if amount != moved or users != {seller} or (wanted is not None and status != wanted):
            return (
                f"moves {moved} for user(s) {sorted(users)} but the withdrawal is {status}, {amount} of user {seller}"
            )
        return None
    if kind in {T.CARD_REFUND_PAID, T.CARD_REFUND_FAILED}:
        command = records.commands.get(rest) if prefix == "card_refund" else None
        if command is None or command[0] != CommandKind.REFUND:
            return "belongs to no refund to card"
        _, status, amount, user = command
        done = CommandStatus.SUCCEEDED if kind == T.CARD_REFUND_PAID else CommandStatus.FAILED
        if amount != moved or status != done or (kind == T.CARD_REFUND_FAILED and users != {user}):
            return f"moves {moved} but its refund command is {status}, {amount}"
        return None
    if kind == T.BALANCE_TO_CARD:
        sent = records.to_card.get(rest) if prefix == "to-card" else None
        if sent is None or sent[0] != moved or sent[1] != users:
            return f"sends {moved} of user(s) {sorted(users)} to card but its refund commands say {sent}"
        return None
    if kind == T.LATE_PAYMENT:
        command = records.commands.get(f"refund:{key}")
        if command is None or command[2] != moved:
            return "has no refund to card of what it moves"
        return None
    return f"is of an unknown kind {kind!r}"


def transaction_faults(txn: dict[str, Any], lines: Sequence[tuple]) -> list[str]:
    """What is wrong with one transaction on its own: its MAC, and its entries
    against its kind's shape. ``txn`` holds ``id``, ``mac`` and the
    ``TRANSACTION_HEAD`` fields; each line is (account id, amount, currency,
    account kind, ...)."""
    faults = []
    pk, kind = txn["id"], txn["kind"]
    expected = head_mac([txn[name] for name in TRANSACTION_HEAD], (line[:3] for line in lines))
    if not txn["mac"] or not macs_equal(txn["mac"], expected):
        faults.append(f"transaction {pk} ({kind}, {txn['idempotency_key']}) does not match its MAC")
    shape = SHAPES.get(kind, frozenset())
    for line in lines:
        amount, account_kind = line[1], line[3]
        side = CREDIT if amount > 0 else DEBIT
        if (account_kind, side) not in shape:
            verb = "credits" if side == CREDIT else "debits"
            faults.append(f"transaction {pk} ({kind}) {verb} a {account_kind} account, which its kind never does")
    return faults


def integrity_audit(breaches: list[str]) -> int:
    """Append to ``breaches`` every transaction whose MAC, shape or record is
    wrong, every record left without its transaction, every sealed record
    whose MAC is wrong, and every seal its transactions no longer add up to."""
    records = _Records.load()
    seals = list(LedgerSeal.objects.order_by("id"))
    bounds = [(seal.lower, seal.upper) for seal in seals]
    spans = [_Span() for _ in seals]
    cover = _cover_field()
    keys: set[str] = set()

    def breach(text: str) -> None:
        if len(breaches) < 500:
            breaches.append(text)

    last: int | None = 0
    while last is not None:
        chunk = list(
            Transaction.objects.filter(id__gt=last).order_by("id").values("id", *TRANSACTION_HEAD, "mac", "xid")[:2000]
        )
        last = chunk[-1]["id"] if len(chunk) == 2000 else None
        entries: dict[int, list[tuple[int, Decimal, str, str, int | None]]] = defaultdict(list)
        for row in Entry.objects.filter(transaction_id__in=[t["id"] for t in chunk]).values_list(
            "transaction_id", "account_id", "amount", "amount_currency", "account__kind", "account__user_id"
        ):
            entries[row[0]].append(row[1:])
        for txn in chunk:
            pk, lines = txn["id"], entries.get(txn["id"], [])
            keys.add(txn["idempotency_key"])
            for text in transaction_faults(txn, lines):
                breach(text)
            moved = sum((amount for _, amount, _, _, _ in lines if amount > 0), Decimal("0"))
            # A settlement pays a buyer's balance beside the seller's account; the kinds of one user's own
            # money (a withdrawal, a refund to card) name every owner, the balance's too.
            users = {user for _, amount, _, kind, user in lines if user is not None and kind != K.BUYER_BALANCE}
            if txn["kind"] in ONE_USER_KINDS:
                users = {user for _, _, _, _, user in lines if user is not None}
            why = _record_breach(txn, moved, users, records)
            if why:
                breach(f"transaction {pk} ({txn['kind']}, {txn['idempotency_key']}) {why}")
            position = txn[cover]
            if position is None:
                breach(f"transaction {pk} has no {cover}: it was written with the triggers disabled")
                continue
            index = _seal_index(bounds, position)
            if index is not None:
                per_currency: dict[str, Decimal] = defaultdict(Decimal)
                for _, amount, currency, _, _ in lines:
                    if amount > 0:
                        per_currency[currency] += amount
                spans[index].add(txn["mac"], per_currency)

    # Each record has its transaction.
    for pk, (status, _, _) in records.earnings.items():
        if status == EarningStatus.CLEARED and f"clear:{pk}" not in keys:
            breach(f"earning {pk} is cleared but its clearance transaction is missing")
    for key, (status, _, _) in records.withdrawals.items():
        if f"withdraw:{key}" not in keys:
            breach(f"withdrawal {key} was never set aside in the ledger")
        if status != WithdrawalStatus.REQUESTED and f"payout:{key}" not in keys:
            breach(f"withdrawal {key} is {status} but its payout transaction is missing")
    for key, (kind, status, _, _) in records.commands.items():
        done = status in {CommandStatus.SUCCEEDED, CommandStatus.FAILED}
        if kind == CommandKind.REFUND and done and f"card_refund:{key}" not in keys:
            breach(f"refund to card {key} is {status} but its transaction is missing")

    # Each sealed record matches its MAC.
    for text in records.forged:
        breach(text)

    # Each seal: its own MAC, its link to the previous one, and what its transactions add up to now.
    previous = ""
    for seal, span in zip(seals, spans, strict=True):
        if not macs_equal(seal.mac, _seal_mac(seal)) or seal.previous_mac != previous:
            breach(f"seal {seal.pk} does not match its MAC or its place in the chain")
        now_totals = _totals_text(span.totals)
        if span.count != seal.count or now_totals != seal.totals or span.hasher.hexdigest() != seal.digest:
            breach(
                f"seal {seal.pk} covered {seal.count} transactions moving {seal.totals or 'nothing'}; "
                f"{span.count} moving {now_totals or 'nothing'} are there now, or their MACs differ"
            )
        previous = seal.mac
    return len(seals)


def _seal_index(bounds: list[tuple[int, int]], position: int) -> int | None:
    """Which seal covers ``position`` (bounds are contiguous and ascending)."""
    lo, hi = 0, len(bounds)
    while lo < hi:
        mid = (lo + hi) // 2
        lower, upper = bounds[mid]
        if position < lower:
            hi = mid
        elif position >= upper:
            lo = mid + 1
        else:
            return mid
    return None
