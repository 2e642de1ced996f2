"""The double-entry ledger: accounts, balanced postings, balances.

The only code that writes ledger entries (``ledger_post_many`` and its
one-posting case ``ledger_post``). The flows that move money for a reason
(funding, release, clearance, withdrawals) are in ``payments.services`` and
post through here.

Lock order: a flow runs inside a service that already holds its business
rows (order, milestone; or the earning or withdrawal); the ledger then locks
the guarded accounts it touches, in ascending id, last.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from djmoney.money import Money

from accounts.models import User
from marketplace.bulk import add_to_each, insert_unnest
from marketplace.errors import DuplicateRequest, InsufficientFunds
from marketplace.money import format_money, round_money, zero
from marketplace.rows import Columns, for_update
from payments.integrity import transaction_mac
from payments.models import GUARDED_KINDS, Account, AccountKind, Entry, Transaction


class OrderParties(Protocol):
    """What the money flows read of an order (``orders.Order`` is one)."""

    @property
    def currency(self) -> str: ...
    @property
    def buyer(self) -> User: ...
    @property
    def seller(self) -> User: ...


class EscrowSubject(Protocol):
    """What the money flows read of the thing held in escrow
    (``milestones.Milestone`` is one). Payments sits below milestones, so it
    names the shape it needs instead of importing the model."""

    @property
    def pk(self) -> Any: ...
    @property
    def title(self) -> str: ...
    @property
    def amount(self) -> Money: ...
    @property
    def buyer_fee(self) -> Money: ...
    @property
    def order(self) -> OrderParties: ...


def account_for(
    *, kind: str, currency: str, user: User | None = None, milestone: EscrowSubject | None = None
) -> Account:
    """The account of that kind for that owner, created on first use."""
    if kind == AccountKind.ESCROW:
        account, _ = Account.objects.get_or_create(kind=kind, milestone=milestone, defaults={"currency": currency})
        return account
    if user is not None:
        account, _ = Account.objects.get_or_create(kind=kind, user=user, currency=currency)
        return account
    account, _ = Account.objects.get_or_create(kind=kind, currency=currency, user=None, milestone=None)
    return account


@dataclass(frozen=True)
class Want:
    """An account a flow needs: its kind and owner (a user, a milestone's escrow, or the platform).
    ``optional``: if it does not exist yet, leave it out rather than create it."""

    kind: str
    user: User | None = None
    milestone: EscrowSubject | None = None
    optional: bool = False


def accounts_for(wants: Mapping[str, Want], *, currency: str, lock: bool = False) -> dict[str, Account]:
    """The accounts ``wants`` names, under the same keys, read in one query.

    A flow that touches five accounts asked ``account_for`` five times. An
    account that does not exist yet (a new seller's first earning) is created
    through ``account_for``, unless it is ``optional``: then it is left out.

    ``lock``: the guarded ones are locked too, in ascending id (what
    ``accounts_lock`` does), by the same statement on PostgreSQL: the escrow
    and the seller's balances locked, the platform's read. An account made
    on the spot is locked after them; its id is newer than theirs, so the
    order holds.
    """
    rows = _accounts_read(list(wants.values()), currency=currency, lock=lock)
    found = {
        (a.kind, a.user_id, a.milestone_id): a for a in rows if a.kind == AccountKind.ESCROW or a.currency == currency
    }
    accounts = {}
    made = False
    for name, want in wants.items():
        owner = (
            want.kind,
            want.user.pk if want.user is not None else None,
            want.milestone.pk if want.milestone is not None else None,
        )
        account = found.get(owner)
        if account is None and not want.optional:
            account = account_for(kind=want.kind, currency=currency, user=want.user, milestone=want.milestone)
            made = True
        if account is not None:
            accounts[name] = account
    if lock and made:
        fresh = accounts_lock(list(accounts.values()))
        accounts = {name: fresh.get(account.pk, account) for name, account in accounts.items()}
    return accounts


def _want_sql(want: Want, currency: str) -> tuple[str, list[Any]]:
    """The condition that finds ``want``'s account, and its parameters."""
    a = _account_columns()
    kind, user, milestone = a.ref("kind"), a.ref("user"), a.ref("milestone")
    if want.kind == AccountKind.ESCROW:
        return f"({kind} = %s AND {milestone} = %s)", [want.kind, want.milestone.pk if want.milestone else None]
    if want.user is not None:
        return f"({kind} = %s AND {user} = %s AND {a.ref('currency')} = %s)", [want.kind, want.user.pk, currency]
    return (
        f"({kind} = %s AND {a.ref('currency')} = %s AND {user} IS NULL AND {milestone} IS NULL)",
        [want.kind, currency],
    )


@functools.cache
def _account_columns() -> Columns[Account]:
    return Columns(Account, "a")


def _accounts_read(wants: Sequence[Want], *, currency: str, lock: bool) -> list[Account]:
    """The wanted accounts in one statement (written out: the ORM's building of this OR of
    conditions cost more than the read). ``lock``, where the database has row locks: the guarded
    ones ``SELECT ... ORDER BY id FOR UPDATE`` (materialised, so locked in that order and whole),
    then the platform's, read without a lock."""
    columns = _account_columns()
    locking = lock and bool(for_update())
    parts: list[str] = []
    params: list[Any] = []
    for locked, group in (
        [
            (True, [w for w in wants if w.kind in GUARDED_KINDS]),
            (False, [w for w in wants if w.kind not in GUARDED_KINDS]),
        ]
        if locking
        else [(False, list(wants))]
    ):
        if not group:
            continue
        conditions = [_want_sql(want, currency) for want in group]
        params += [param for _, values in conditions for param in values]
        select = f"SELECT {columns} FROM {columns.table} WHERE {' OR '.join(sql for sql, _ in conditions)}"  # noqa: S608
        if locked:
            select = (
                f"WITH locked AS MATERIALIZED ({select} ORDER BY {columns.ref('pk')}{for_update()}) "  # noqa: S608
                "SELECT * FROM locked"
            )
        parts.append(select)
    if not parts:
        return []
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return [columns.instance(row) for row in cursor.fetchall()]


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
    # The milestone the money moved for (its id: a clearance batch reads no milestones).
    milestone_id: int | None = None
    actor: User | None = None


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


def ledger_post_many(postings: Sequence[Posting], *, locked: Mapping[int, Account] | None = None) -> list[Transaction]:
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

    touched = [account for _, lines in checked for account, _ in lines]
    guarded = {account.pk for account in touched if account.is_guarded}
    if locked is not None and guarded <= locked.keys():
        # The caller locked them in this transaction (``accounts_lock``) and has posted nothing since.
        locked = {pk: locked[pk] for pk in sorted(guarded)}
    else:
        locked = accounts_lock(touched)
    # The keys are checked after the locks, not before: a replay that queued
    # behind the first post (two tabs withdrawing everything) must hear
    # "already done", not "not enough money" from the balance the first post
    # just spent. So a short balance looks the keys up first; otherwise the
    # INSERT below refuses a key posted before, with no statement of its own.
    short = next((a for pk, a in locked.items() if a.balance + deltas[pk] < 0), None)
    if short is not None:
        if Transaction.objects.filter(idempotency_key__in=keys).exists():
            raise DuplicateRequest("This payment was already processed.")
        raise InsufficientFunds(
            f"Not enough money: the balance is {format_money(Money(short.balance, short.currency))}.",
        )

    now = timezone.now()
    rows = []
    for posting, lines in checked:
        txn = Transaction(
            idempotency_key=posting.key,
            kind=posting.kind,
            memo=posting.memo[:300],
            milestone_id=posting.milestone_id,
            actor=posting.actor,
            created_at=now,
        )
        # Sealed before the insert, each on its own: writers never wait on one another for it.
        txn.mac = transaction_mac(txn, [(account.pk, money) for account, money in lines])
        rows.append(txn)
    # A key posted before is refused here, and so is one another transaction is posting right now:
    # the unique index makes us wait for it, then refuses ours.
    if len(rows) == 1:
        # One posting (an approval, a payment): ON CONFLICT leaves nothing behind to undo, so no
        # savepoint is needed around it (on PostgreSQL; elsewhere the savepoint is insert_unnest's).
        if not _insert_transactions(rows, on_conflict_nothing=True):
            raise DuplicateRequest("This payment was already processed.")
    else:
        try:
            with transaction.atomic():
                _insert_transactions(rows)
        except IntegrityError:
            raise DuplicateRequest("This payment was already processed.") from None
    _insert_entries(
        [(txn.pk, account.pk, money) for txn, (_, lines) in zip(rows, checked, strict=True) for account, money in lines]
    )
    _add_to_balances({pk: deltas[pk] for pk in locked})
    return rows


def _insert_transactions(rows: list[Transaction], *, on_conflict_nothing: bool = False) -> bool:
    """Insert the (sealed) transactions in one statement and give each its id, in order.
    ``on_conflict_nothing``: a key posted before inserts nothing, and the answer is False."""
    ids = insert_unnest(
        Transaction,
        {
            "idempotency_key": [t.idempotency_key for t in rows],
            "kind": [t.kind for t in rows],
            "memo": [t.memo for t in rows],
            "milestone_id": [t.milestone_id for t in rows],
            "actor_id": [t.actor_id for t in rows],
            "created_at": [t.created_at for t in rows],
            "mac": [t.mac for t in rows],
        },
        skip_conflicts_on=["idempotency_key"] if on_conflict_nothing else (),
    )
    if len(ids) != len(rows):
        return False
    for txn, pk in zip(rows, ids, strict=True):
        txn.pk = pk
        txn._state.adding = False
        txn._state.db = connection.alias
    return True


def _insert_entries(entries: list[tuple[int, int, Money]]) -> None:
    """Insert the entries in one statement: (transaction id, account id, amount)."""
    insert_unnest(
        Entry,
        {
            "transaction_id": [txn for txn, _, _ in entries],
            "account_id": [account for _, account, _ in entries],
            "amount_currency": [str(money.currency) for _, _, money in entries],
            "amount": [money.amount for _, _, money in entries],
        },
        returning=False,
    )


def _add_to_balances(deltas: dict[int, Decimal]) -> None:
    """Every locked account's cached balance moves by its delta, in one statement
    however many accounts the postings touch (a clearance batch touches two per seller)."""
    add_to_each(Account, "balance", deltas)


def ledger_post(
    *,
    key: str,
    kind: str,
    lines: Sequence[Line],
    memo: str = "",
    milestone: EscrowSubject | None = None,
    actor: User | None = None,
    locked: Mapping[int, Account] | None = None,
) -> Transaction:
    """Post one balanced transaction (see ``ledger_post_many``). ``locked``: what the
    caller's ``accounts_lock`` returned, if it took the locks already and posted nothing since."""
    milestone_id = milestone.pk if milestone is not None else None
    posting = Posting(key=key, kind=kind, lines=lines, memo=memo, milestone_id=milestone_id, actor=actor)
    return ledger_post_many([posting], locked=locked)[0]


def escrow_balance(milestone: EscrowSubject) -> Money:
    """What a milestone's escrow account holds now (zero before it is funded)."""
    account = Account.objects.filter(kind=AccountKind.ESCROW, milestone=milestone).first()
    if account is None:
        return zero(milestone.order.currency)
    return account.cached_balance
