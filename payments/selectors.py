"""Reads behind the earnings page. Balances come from ``Account.balance``,
the cached value that ``ledger_audit`` checks against the entries; every
function runs a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from djmoney.money import Money

from accounts.models import User
from marketplace.sums import ExactSum
from payments.models import (
    Account,
    AccountKind,
    Checkout,
    CheckoutStatus,
    CommandKind,
    CommandStatus,
    Earning,
    EarningStatus,
    Entry,
    ProviderCommand,
    Withdrawal,
    WithdrawalStatus,
)

# The accounts a withdrawal takes from, in the order it takes (``payments.services.withdrawal_request``).
WITHDRAWABLE_KINDS = (AccountKind.SELLER_AVAILABLE, AccountKind.BUYER_BALANCE)


@dataclass
class CurrencyBalances:
    currency: str
    pending: Money
    available: Money
    in_flight: Money
    withdrawn: Money
    buyer_balance: Money
    pending_earnings: list[Earning] = field(default_factory=list)
    pending_count: int = 0
    # The user's accounts in this currency: the ledger page reads their entries (``ledger_page_for``).
    account_ids: list[int] = field(default_factory=list)

    @property
    def withdrawable(self) -> Money:
        """What a withdrawal may take: cleared earnings, then the balance (``withdrawal_request``)."""
        return self.available + self.buyer_balance

    @property
    def has_seller_money(self) -> bool:
        return any(m.amount for m in (self.pending, self.available, self.in_flight, self.withdrawn))


@dataclass(frozen=True)
class LedgerState:
    """What the earnings page needs on every view, in one query (``ledger_state``)."""

    # Money the user may withdraw now, per currency, in currency order (only the positive ones): their
    # cleared earnings and their balance (a buyer's refunds), as ``withdrawal_request`` takes them.
    available: list[Money]
    # The latest transaction on any of the user's accounts: every change the earnings page shows
    # (an earning pending or cleared, a withdrawal requested, paid or failed, a refund to the buyer's
    # balance) posts one, so the page's rendered parts are reused until it moves (``payments.views``).
    version: int
    # The accounts read: (id, kind, currency, balance), for ``balances_for`` not to read them again.
    accounts: list[tuple[int, str, str, Decimal]] = field(default_factory=list)


def ledger_state(user: User) -> LedgerState:
    """The user's available balances and the version of their ledger, in one query: their accounts,
    each with its latest transaction read off the (account, transaction) index, one probe each.

    Two transactions may commit in the other order than they took their ids; the one committed
    second then shows when the page's window (``PAGE_CACHE_SECONDS``) ends."""
    account, entry = Account._meta.db_table, Entry._meta.db_table
    latest = RawSQL(f"SELECT max(transaction_id) FROM {entry} WHERE account_id = {account}.id", ())  # noqa: S608, S611 - ours
    rows = (
        Account.objects.filter(user=user)
        .annotate(latest=latest)
        .order_by("currency")
        .values_list("pk", "kind", "currency", "balance", "latest")
    )
    withdrawable: dict[str, Decimal] = defaultdict(Decimal)
    accounts = []
    version = 0
    for pk, kind, currency, balance, last in rows:
        if kind in WITHDRAWABLE_KINDS:
            withdrawable[currency] += balance
        version = max(version, last or 0)
        accounts.append((pk, kind, currency, balance))
    available = [Money(total, currency) for currency, total in withdrawable.items() if total > 0]
    return LedgerState(available=available, version=version, accounts=accounts)


def balances_for(
    user: User, *, pending_limit: int = 20, accounts: list[tuple[int, str, str, Decimal]] | None = None
) -> list[CurrencyBalances]:
    """One row per currency the user has money in: three queries (two given ``accounts``, as
    ``ledger_state`` read them), plus one per currency with pending earnings (a handful at most,
    not growing with data)."""
    by_currency: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    account_ids: dict[str, list[int]] = defaultdict(list)
    if accounts is None:
        accounts = list(Account.objects.filter(user=user).values_list("pk", "kind", "currency", "balance"))
    for pk, kind, currency, balance in accounts:
        # The cached balance, which ledger_audit proves equal to the entries.
        by_currency[currency][kind] += balance
        account_ids[currency].append(pk)
    withdrawn = (
        Withdrawal.objects.filter(seller=user, status=WithdrawalStatus.PAID)
        .values("amount_currency")
        .annotate(total=ExactSum("amount"))
        .order_by()
    )
    for row in withdrawn:
        by_currency[row["amount_currency"]]["withdrawn"] += row["total"] or Decimal("0")
    pending_counts = {
        row["net_currency"]: row["n"]
        for row in Earning.objects.filter(seller=user, status=EarningStatus.PENDING)
        .values("net_currency")
        .annotate(n=Count("pk"))
        .order_by()
    }
    pending_lists: dict[str, list[Earning]] = defaultdict(list)
    if pending_counts and pending_limit:
        # The soonest ``pending_limit`` of each currency, straight off the
        # (seller, status, clears_at) index: the join happens for those rows
        # only. A window over all pending earnings ranked thousands first.
        for currency in pending_counts:
            pending_lists[currency] = list(
                Earning.objects.filter(seller=user, status=EarningStatus.PENDING, net_currency=currency)
                .select_related("milestone__order", "tip__milestone__order")
                .order_by("clears_at", "pk")[:pending_limit]
            )

    rows = []
    for currency in sorted(by_currency):
        kinds = by_currency[currency]

        def m(kind: str, _kinds=kinds, _currency=currency) -> Money:
            return Money(_kinds.get(kind, Decimal("0")), _currency)

        rows.append(
            CurrencyBalances(
                currency=currency,
                pending=m(AccountKind.SELLER_PENDING),
                available=m(AccountKind.SELLER_AVAILABLE),
                in_flight=m(AccountKind.SELLER_WITHDRAWING),
                withdrawn=m("withdrawn"),
                buyer_balance=m(AccountKind.BUYER_BALANCE),
                pending_earnings=pending_lists.get(currency, []),
                pending_count=pending_counts.get(currency, 0),
                account_ids=account_ids.get(currency, []),
            )
        )
    return rows


def cards_refundable(user: User, currency: str) -> list[tuple[Checkout, Money]]:
    """The card payments of ``user`` in ``currency`` that can still take money back, newest first,
    each with what it can take: what it paid less the refunds to it pending, stuck or made (a
    provider refuses to refund more than was charged; a refused refund was credited to the balance
    and counts no more). One query."""
    refunded = (
        ProviderCommand.objects.filter(
            checkout=OuterRef("pk"),
            kind=CommandKind.REFUND,
            status__in=[CommandStatus.PENDING, CommandStatus.SUCCEEDED, CommandStatus.STUCK],
        )
        .values("checkout")
        .annotate(total=ExactSum("amount"))
        .values("total")
    )
    cards = (
        Checkout.objects.filter(buyer=user, status=CheckoutStatus.PAID, amount_currency=currency)
        .exclude(payment_reference="")
        .annotate(refunded=Subquery(refunded))
        .order_by("-paid_at", "-id")
    )
    rooms = [(card, Money(card.amount.amount - (card.refunded or Decimal("0")), currency)) for card in cards]
    return [(card, room) for card, room in rooms if room.amount > 0]


def card_refundable(user: User, state: LedgerState) -> list[Money]:
    """Per currency, how much of the user's balance can go back to the cards they paid with: the
    balance, up to what those cards can still take (``cards_refundable``). Queries only for a
    currency with a balance."""
    refundable = []
    for _, kind, currency, balance in state.accounts:
        if kind == AccountKind.BUYER_BALANCE and balance > 0:
            room = sum((room.amount for _, room in cards_refundable(user, currency)), Decimal("0"))
            if room > 0:
                refundable.append(Money(min(balance, room), currency))
    return refundable


def withdrawals_for(user: User) -> QuerySet[Withdrawal]:
    return Withdrawal.objects.filter(seller=user).order_by("-created_at", "-id")


class _LedgerIds:
    """The ids of a user's ledger entries, newest first, as ``Paginator`` reads them: counted and
    sliced account by account on the (account, transaction) index. Filtering on the account's user
    made PostgreSQL join every entry of every account and sort them all: 18 ms for the bench's
    seller with 10,000 orders, growing with the history."""

    def __init__(self, account_ids: list[int]):
        self.account_ids = account_ids

    def count(self) -> int:
        return Entry.objects.filter(account_id__in=self.account_ids).count() if self.account_ids else 0

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[int]:
        start, stop = window.start or 0, window.stop
        if not self.account_ids or stop is None or stop <= start:
            return []
        # Each account gives its newest ``stop`` entries off its own index; the page is cut from their merge.
        # A subquery in FROM for each (SQLite, the embedded default, takes no parenthesised SELECT in a UNION).
        table = Entry._meta.db_table
        branch = (
            f"SELECT * FROM (SELECT id, transaction_id FROM {table} WHERE account_id = %s "  # noqa: S608 - our table
            "ORDER BY transaction_id DESC, id DESC LIMIT %s) AS a"
        )
        sql = (
            f"SELECT id FROM ({' UNION ALL '.join([branch] * len(self.account_ids))}) AS e "  # noqa: S608 - ours
            "ORDER BY transaction_id DESC, id DESC LIMIT %s OFFSET %s"
        )
        params: list[int] = []
        for account_id in self.account_ids:
            params += [account_id, stop]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, stop - start, start])
            return [row[0] for row in cursor.fetchall()]


def ledger_page_for(
    balances: list[CurrencyBalances], page_number: str | int | None, *, per_page: int
) -> tuple[Page, list[Entry]]:
    """One page of the ledger history of the accounts behind ``balances`` (``balances_for``) and
    its entries, in three queries (the count, the page's ids, its rows).

    The page is chosen on bare ids first (``_LedgerIds``); only its rows are then joined to
    their transaction, milestone and order.
    """
    account_ids = [pk for row in balances for pk in row.account_ids]
    page: Page = Paginator(_LedgerIds(account_ids), per_page).get_page(page_number)  # type: ignore[arg-type]  # a sliceable with count()
    ids = list(page.object_list)
    entries = list(
        Entry.objects.filter(pk__in=ids)
        .select_related("transaction__milestone__order", "account")
        .order_by("-transaction_id", "-id")
    )
    return page, entries
