"""What the money tests look at: the world before and after, and conservation.

``world()`` is everything a refused service must leave alone; comparing two
snapshots proves "nothing changed". ``assert_money_conserved`` checks the
ledger against records kept outside it (the gateway's own log of charges,
the milestones' stored fees), so a bug that moved money consistently but
wrongly inside the ledger still shows.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Max, Sum
from djmoney.money import Money

from milestones.models import OPEN_STATES, Delivery, Dispute, Milestone, MilestoneState, RevisionRequest
from notifications.models import Notification
from orders.models import Activity, Order
from payments.integrity import TRANSACTION_HEAD, transaction_faults
from payments.ledger import account_for
from payments.models import (
    GUARDED_KINDS,
    Account,
    AccountKind,
    Earning,
    Entry,
    Transaction,
    Withdrawal,
)
from payments.services import service_fee_refund
from sandbox.models import SandboxOperation

S = MilestoneState


# What ``world()`` reads: (key, model, the columns of each row) lists the rows in order of pk,
# (key, model, None) counts them.
_WORLD = (
    ("milestones", Milestone, ("id", "state", "revision_count", "auto_approve_at", "seller_fee", "decline_reason")),
    ("orders", Order, ("id", "status", "completed_at")),
    ("disputes", Dispute, ("id", "state", "outcome")),
    ("accounts", Account, ("id", "kind", "balance")),
    ("transactions", Transaction, None),
    ("entries", Entry, None),
    ("activities", Activity, None),
    ("notifications", Notification, None),
    ("earnings", Earning, ("id", "status")),
    ("withdrawals", Withdrawal, ("id", "status")),
    ("gateway_operations", SandboxOperation, None),
    ("deliveries", Delivery, None),
    ("revision_requests", RevisionRequest, None),
)


def _world_sql() -> str:
    """``world()`` on PostgreSQL: one statement, each table a column. A listed table's rows are
    its rows' text (``ROW(...)::text``: every value as PostgreSQL prints it, exact), in order of pk."""
    from django.db import connection

    q = connection.ops.quote_name
    parts = []
    for _, model, columns in _WORLD:
        # Table and column names only, from the models' _meta: no value is ever put into the text.
        table = q(model._meta.db_table)
        if columns is None:
            parts.append(f"(SELECT count(*) FROM {table})")  # noqa: S608
        else:
            row = ", ".join(q(model._meta.get_field(c).column) for c in columns)
            parts.append(f"ARRAY(SELECT ROW({row})::text FROM {table} ORDER BY {q('id')})")  # noqa: S608
    return "SELECT " + ", ".join(parts)


def world() -> dict:
    """Every row a service could write, in a comparable form: on PostgreSQL in one round trip
    (it is read before and after every refused call of the money tests), elsewhere through the ORM."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_world_sql())
            values = cursor.fetchone()
        return {key: list(value) if columns else value for (key, _, columns), value in zip(_WORLD, values, strict=True)}
    return {
        key: list(model._default_manager.order_by("pk").values_list(*columns))
        if columns
        else model._default_manager.count()
        for key, model, columns in _WORLD
    }


def balance(kind: str, *, user=None, milestone=None, currency: str = "USD") -> Money:
    """The ledger balance (sum of entries) of one account."""
    account = account_for(kind=kind, currency=currency, user=user, milestone=milestone)
    total = Entry.objects.filter(account=account).aggregate(t=Sum("amount"))["t"] or Decimal("0")
    return Money(total, currency)


def ledger_by_kind(currency: str = "USD") -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    rows = (
        Entry.objects.filter(amount_currency=currency).values("account__kind").annotate(total=Sum("amount")).order_by()
    )
    for row in rows:
        totals[row["account__kind"]] = row["total"]
    return totals


def charged_in(currency: str = "USD") -> Decimal:
    """What the provider says it took from cards, less what it refunded to
    them: its own record, not the ledger's."""
    ops = SandboxOperation.objects.filter(succeeded=True, amount_currency=currency)
    charged = ops.filter(kind="charge").aggregate(t=Sum("amount"))["t"] or Decimal("0")
    refunded = ops.filter(kind="refund").aggregate(t=Sum("amount"))["t"] or Decimal("0")
    return charged - refunded


def fee_kept(milestone: Milestone) -> Decimal:
    """The buyer's service fee the platform keeps: none if never funded or
    refunded in full, the unrefunded share after a dispute."""
    if milestone.state == S.CANCELLED:
        from milestones.models import Proposal

        agreed = Proposal.objects.filter(milestone=milestone, kind="cancellation", state="accepted").first()
        if agreed is not None and agreed.refund_amount is not None:
            back = service_fee_refund(
                buyer_fee=milestone.buyer_fee, buyer_part=agreed.refund_amount, held=milestone.amount
            )
            return (milestone.buyer_fee - back).amount
        return Decimal("0")
    if milestone.state in (
        S.AWAITING_PAYMENT,
        S.PAYMENT_EXPIRED,
        S.DECLINED,
        S.OFFERED,
        S.OFFER_DECLINED,
        S.OFFER_EXPIRED,
        S.PLANNED,
    ):
        return Decimal("0")
    if milestone.state == S.RESOLVED:
        dispute = Dispute.objects.get(milestone=milestone)
        back = service_fee_refund(buyer_fee=milestone.buyer_fee, buyer_part=dispute.buyer_amount, held=milestone.amount)
        return (milestone.buyer_fee - back).amount
    return milestone.buyer_fee.amount


def assert_money_conserved(currency: str = "USD") -> None:
    """Card money in = escrow + seller pending + available + withdrawing + paid out
    + platform fees + buyer balances, and each part matches what the records say."""
    k = ledger_by_kind(currency)
    inside = (
        k[AccountKind.ESCROW]
        + k[AccountKind.SELLER_PENDING]
        + k[AccountKind.SELLER_AVAILABLE]
        + k[AccountKind.SELLER_WITHDRAWING]
        + k[AccountKind.PAYOUTS]
        + k[AccountKind.PLATFORM_FEES]
        + k[AccountKind.BUYER_BALANCE]
        + k[AccountKind.CARD_REFUNDS]
    )
    charged = charged_in(currency)
    assert inside == charged, f"{charged} charged in but {inside} accounted for: {dict(k)}"
    assert -k[AccountKind.GATEWAY] == charged, f"gateway account {k[AccountKind.GATEWAY]} vs charged {charged}"

    milestones = Milestone.objects.filter(amount_currency=currency)
    held = sum((m.amount.amount for m in milestones if m.state in OPEN_STATES), Decimal("0"))
    assert k[AccountKind.ESCROW] == held, f"escrow {k[AccountKind.ESCROW]} but open milestones hold {held}"

    fees = sum((fee_kept(m) for m in milestones), Decimal("0"))
    fees += sum((m.seller_fee.amount for m in milestones if m.seller_fee is not None), Decimal("0"))
    # The commission on tips, kept by the earning of each.
    fees += sum((e.fee.amount for e in Earning.objects.filter(tip__isnull=False, fee_currency=currency)), Decimal("0"))
    assert k[AccountKind.PLATFORM_FEES] == fees, f"platform fees {k[AccountKind.PLATFORM_FEES]} but stored fees {fees}"

    earnings = Earning.objects.filter(net_currency=currency)
    earned = sum((e.net.amount for e in earnings), Decimal("0"))
    seller_side = (
        k[AccountKind.SELLER_PENDING]
        + k[AccountKind.SELLER_AVAILABLE]
        + k[AccountKind.SELLER_WITHDRAWING]
        + k[AccountKind.PAYOUTS]
    )
    # What users withdrew from their balance (a buyer's refunds) joins the earnings on the way out.
    from_balances = -(
        Entry.objects.filter(
            account__kind=AccountKind.BUYER_BALANCE,
            amount_currency=currency,
            transaction__kind__in=["withdrawal_request", "withdrawal_failed"],
        ).aggregate(t=Sum("amount"))["t"]
        or Decimal("0")
    )
    assert seller_side == earned + from_balances, (
        f"sellers hold {seller_side} but earned {earned} (and {from_balances} was withdrawn from balances)"
    )
    requested = Withdrawal.objects.filter(amount_currency=currency, status="requested").aggregate(t=Sum("amount"))
    assert k[AccountKind.SELLER_WITHDRAWING] == (requested["t"] or Decimal("0"))
    paid = Withdrawal.objects.filter(amount_currency=currency, status="paid").aggregate(t=Sum("amount"))
    assert k[AccountKind.PAYOUTS] == (paid["t"] or Decimal("0"))


def last_transaction_id() -> int:
    return Transaction.objects.aggregate(last=Max("id"))["last"] or 0


def step_audit(since: int) -> tuple[list[str], int]:
    """The ledger audit's checks of what one step wrote, in three queries: every transaction
    after ``since`` sums to zero per currency, has two entries or more in its accounts'
    currencies, matches its MAC and its kind's shape; every account it touched is not negative
    where it may not be and shows the balance its entries add up to.

    Returns the breaches and the last transaction id seen. ``ledger_audit()`` checks the whole
    ledger and its records (earnings, withdrawals, seals, escrows); a random sequence runs it
    at its end, and this after each step.
    """
    breaches: list[str] = []
    transactions = list(Transaction.objects.filter(id__gt=since).order_by("id").values("id", *TRANSACTION_HEAD, "mac"))
    if not transactions:
        return breaches, since
    lines: dict[int, list[tuple]] = defaultdict(list)
    for txn_id, *line in Entry.objects.filter(transaction_id__gt=since).values_list(
        "transaction_id", "account_id", "amount", "amount_currency", "account__kind", "account__currency"
    ):
        lines[txn_id].append(tuple(line))
    touched: set[int] = set()
    for txn in transactions:
        entries = lines.get(txn["id"], [])
        if len(entries) < 2:
            breaches.append(f"transaction {txn['id']} has fewer than two entries")
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for account_id, amount, currency, _, account_currency in entries:
            totals[currency] += amount
            touched.add(account_id)
            if currency != account_currency:
                breaches.append(f"transaction {txn['id']} posts {currency} to a {account_currency} account")
        breaches += [f"transaction {txn['id']} sums to {t} {c}, not zero" for c, t in totals.items() if t]
        breaches += transaction_faults(txn, entries)
    accounts = Account.objects.filter(pk__in=touched).annotate(ledger=Sum("entries__amount"))
    for account in accounts.values("id", "kind", "balance", "ledger"):
        if account["kind"] in GUARDED_KINDS:
            if account["ledger"] < 0:
                breaches.append(f"account {account['id']} ({account['kind']}) is negative: {account['ledger']}")
            if account["balance"] != account["ledger"]:
                breaches.append(
                    f"account {account['id']} ({account['kind']}) shows {account['balance']}"
                    f" but the ledger says {account['ledger']}"
                )
    return breaches, transactions[-1]["id"]
