"""The ledger's invariants, checked from the entries themselves.

Run by ``python manage.py ledger_audit`` (exit 1 on any breach) and after
every step of the property-based tests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F

from marketplace.sums import ExactSum
from payments.integrity import integrity_audit
from payments.models import (
    GUARDED_KINDS,
    Account,
    AccountKind,
    CommandKind,
    CommandStatus,
    Earning,
    EarningStatus,
    Entry,
    ProviderCommand,
    Transaction,
    Withdrawal,
    WithdrawalStatus,
)


@dataclass
class AuditReport:
    transactions: int = 0
    entries: int = 0
    accounts: int = 0
    # Records checked by the registered checks, e.g. {"milestones": 120}.
    counted: dict[str, int] = field(default_factory=dict)
    breaches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaches

    def summary(self) -> str:
        others = "".join(f", {count} {name}" for name, count in self.counted.items())
        head = f"{self.transactions} transactions, {self.entries} entries, {self.accounts} accounts{others} checked"
        if self.ok:
            return f"ledger_audit: OK — {head}; no breach."
        lines = [f"ledger_audit: {len(self.breaches)} BREACH(ES) — {head}:"]
        lines += [f"  - {breach}" for breach in self.breaches]
        return "\n".join(lines)


@dataclass(frozen=True)
class LedgerView:
    """The ledger as the audit has read it, for the registered checks."""

    # Account id -> its balance summed from the entries.
    balance_of: dict[int, Decimal]
    # Milestone id -> its escrow account.
    escrow_of: dict[int, Account]

    def escrow_held(self, milestone_id: int) -> Decimal | None:
        """What the escrow of that milestone holds; None if it has no escrow account."""
        escrow = self.escrow_of.get(milestone_id)
        return None if escrow is None else self.balance_of.get(escrow.pk, Decimal("0"))


AuditCheck = Callable[[LedgerView, AuditReport], None]
_checks: list[AuditCheck] = []


def register_audit_check(check: AuditCheck) -> None:
    """Add a check of records that hold money in the ledger but live in an app
    above payments (milestones registers "escrow matches state" from its
    ``AppConfig.ready``). Payments calls it; it does not import it."""
    if check not in _checks:
        _checks.append(check)


def ledger_audit() -> AuditReport:
    report = AuditReport(
        transactions=Transaction.objects.count(),
        entries=Entry.objects.count(),
        accounts=Account.objects.count(),
    )
    breaches = report.breaches

    # 1. Every transaction sums to zero per currency, and has entries at all.
    unbalanced = (
        Entry.objects.values("transaction_id", "amount_currency")
        .annotate(total=ExactSum("amount"))
        .exclude(total=0)
        .order_by("transaction_id")
    )
    for row in unbalanced[:50]:
        breaches.append(
            f"transaction {row['transaction_id']} sums to {row['total']} {row['amount_currency']}, not zero"
        )
    for txn_id in Transaction.objects.annotate(n=Count("entries")).filter(n__lt=2).values_list("pk", flat=True)[:50]:
        breaches.append(f"transaction {txn_id} has fewer than two entries")

    # 2. Entries are in their account's currency.
    mismatched = Entry.objects.exclude(amount_currency=F("account__currency")).values_list("pk", flat=True)
    for entry_id in mismatched[:50]:
        breaches.append(f"entry {entry_id} is not in its account's currency")

    # Balances from entries, per account.
    ledger: dict[int, Decimal] = defaultdict(Decimal)
    for row in Entry.objects.values("account_id").annotate(total=ExactSum("amount")).order_by():
        ledger[row["account_id"]] = row["total"] or Decimal("0")

    accounts = Account.objects.all().only("id", "kind", "currency", "balance", "user_id", "milestone_id")
    escrow_of: dict[int, Account] = {}
    pending_of: dict[tuple[int, str], Decimal] = {}
    withdrawing_of: dict[tuple[int, str], Decimal] = {}
    card_refunds_of: dict[str, Decimal] = {}
    for account in accounts.iterator(chunk_size=2000):
        balance = ledger.get(account.pk, Decimal("0"))
        if account.kind in GUARDED_KINDS:
            # 3. No negative balance where none may be.
            if balance < 0:
                breaches.append(f"account {account.pk} ({account.kind}) is negative: {balance} {account.currency}")
            # 4. The cached balance (what pages display) equals the ledger.
            if account.balance != balance:
                breaches.append(
                    f"account {account.pk} ({account.kind}) shows {account.balance} but the ledger says {balance}"
                )
        if account.kind == AccountKind.ESCROW and account.milestone_id:
            escrow_of[account.milestone_id] = account
        if account.kind == AccountKind.SELLER_PENDING and account.user_id:
            pending_of[(account.user_id, account.currency)] = balance
        if account.kind == AccountKind.SELLER_WITHDRAWING and account.user_id:
            withdrawing_of[(account.user_id, account.currency)] = balance
        if account.kind == AccountKind.CARD_REFUNDS:
            card_refunds_of[account.currency] = balance

    # 5. Checks of the records above the ledger that hold money in it (each
    #    milestone's escrow matches its state), registered by their apps.
    view = LedgerView(balance_of=ledger, escrow_of=escrow_of)
    for check in _checks:
        check(view, report)

    # 6. Pending earnings add up to the seller's pending balance.
    earned: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    pending = Earning.objects.filter(status=EarningStatus.PENDING).values("seller_id", "net_currency")
    for row in pending.annotate(total=ExactSum("net")).order_by():
        earned[(row["seller_id"], row["net_currency"])] = row["total"]
    for key in set(earned) | {k for k, v in pending_of.items() if v}:
        if earned.get(key, Decimal("0")) != pending_of.get(key, Decimal("0")):
            breaches.append(
                f"seller {key[0]} has {earned.get(key, 0)} {key[1]} in pending earnings "
                f"but {pending_of.get(key, 0)} in the pending account"
            )

    # 7. Withdrawals in flight add up to the seller's withdrawing balance: a payout
    #    that was recorded but never set aside (or set aside twice) shows here.
    requested: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    in_flight = Withdrawal.objects.filter(status=WithdrawalStatus.REQUESTED).values("seller_id", "amount_currency")
    for row in in_flight.annotate(total=ExactSum("amount")).order_by():
        requested[(row["seller_id"], row["amount_currency"])] = row["total"]
    for key in set(requested) | {k for k, v in withdrawing_of.items() if v}:
        if requested.get(key, Decimal("0")) != withdrawing_of.get(key, Decimal("0")):
            breaches.append(
                f"seller {key[0]} has {requested.get(key, 0)} {key[1]} in requested withdrawals "
                f"but {withdrawing_of.get(key, 0)} in the withdrawing account"
            )

    # 8. Refunds to card not yet answered add up to the card-refunds account: a
    #    refund posted without its command (or a command without its money) shows here.
    owed: dict[str, Decimal] = defaultdict(Decimal)
    unanswered = ProviderCommand.objects.filter(
        kind=CommandKind.REFUND, status__in=[CommandStatus.PENDING, CommandStatus.STUCK]
    ).values("amount_currency")
    for row in unanswered.annotate(total=ExactSum("amount")).order_by():
        owed[row["amount_currency"]] = row["total"]
    for currency in set(owed) | {c for c, v in card_refunds_of.items() if v}:
        if owed.get(currency, Decimal("0")) != card_refunds_of.get(currency, Decimal("0")):
            breaches.append(
                f"{owed.get(currency, 0)} {currency} of refunds to card are waiting for the provider "
                f"but the card-refunds account holds {card_refunds_of.get(currency, 0)}"
            )

    # 9. Tampering: every transaction against its MAC, its shape and its record;
    #    the money records against their MACs; the seals against what they cover.
    report.counted["seals"] = integrity_audit(breaches)
    return report
