"""Reads behind the earnings page. Balances come from ``Account.balance``,
the cached value that ``ledger_audit`` checks against the entries; every
function runs a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet, Sum
from djmoney.money import Money

from accounts.models import User
from payments.models import (
    Account,
    AccountKind,
    Earning,
    EarningStatus,
    Entry,
    Withdrawal,
    WithdrawalStatus,
)


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

    @property
    def has_seller_money(self) -> bool:
        return any(m.amount for m in (self.pending, self.available, self.in_flight, self.withdrawn))


def balances_for(user: User, *, pending_limit: int = 20) -> list[CurrencyBalances]:
    """One row per currency the user has money in: three queries, plus one per
    currency with pending earnings (a handful at most, not growing with data)."""
    by_currency: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for account in Account.objects.filter(user=user).only("kind", "currency", "balance"):
        # The cached balance, which ledger_audit proves equal to the entries.
        by_currency[account.currency][account.kind] += account.cached_balance.amount
    withdrawn = (
        Withdrawal.objects.filter(seller=user, status=WithdrawalStatus.PAID)
        .values("amount_currency")
        .annotate(total=Sum("amount"))
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
            )
        )
    return rows


def withdrawals_for(user: User) -> QuerySet[Withdrawal]:
    return Withdrawal.objects.filter(seller=user).order_by("-created_at", "-id")


def ledger_entry_ids_for(user: User) -> QuerySet:
    """Ids of the entries on the user's own accounts, newest first.

    Sorted by transaction id (ids grow with time), which the index on
    (account, transaction) serves without joining every transaction.
    """
    return Entry.objects.filter(account__user=user).order_by("-transaction_id", "-id").values_list("pk", flat=True)


def ledger_page_for(user: User, page_number: str | int | None, *, per_page: int) -> tuple[Page, list[Entry]]:
    """One page of the user's ledger history and its entries, in three queries.

    The page is chosen on bare ids first; only its rows are then joined to
    their transaction, milestone and order. Joining first would make
    PostgreSQL join a seller's whole history before sorting it.
    """
    page = Paginator(ledger_entry_ids_for(user), per_page).get_page(page_number)
    ids = list(page.object_list)
    entries = list(
        Entry.objects.filter(pk__in=ids)
        .select_related("transaction__milestone__order", "account")
        .order_by("-transaction_id", "-id")
    )
    return page, entries
