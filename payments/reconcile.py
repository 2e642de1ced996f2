"""Reconciliation: what the provider says happened against what the ledger says.

Three kinds of movement cross the boundary: card payments in (a paid
``Checkout``, or a late payment refunded), refunds to card and payouts out (a
succeeded ``ProviderCommand``). Each must appear on both sides with the same
reference and amount. A mismatch is listed, never corrected here: a person
decides (``manage.py payments_reconcile`` exits 1 so a monitor can alert).

The provider's history from before the marketplace kept its side (the sandbox's
operations copied at the upgrade from the first layout, ``ProviderRecord.history``)
has nothing of ours to match: a record of it that nothing of ours names is
skipped and counted apart, not listed. One that ours does name is compared as
usual, and so is everything made after the upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from djmoney.money import Money

from payments.models import Checkout, CheckoutStatus, CommandStatus, Entry, ProviderCommand, TransactionKind
from payments.providers import ProviderRecord, get_provider


@dataclass
class Reconciliation:
    checked: int = 0
    mismatches: list[str] = field(default_factory=list)
    # The provider's history from before our records began, with nothing of ours to compare.
    skipped_as_history: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _ledger_side(since: datetime, provider: str) -> dict[tuple[str, str], Money]:
    """(kind, reference) → amount, from our records."""
    expected: dict[tuple[str, str], Money] = {}
    for checkout in Checkout.objects.filter(provider=provider, paid_at__gte=since, status=CheckoutStatus.PAID).exclude(
        payment_reference=""
    ):
        expected[("charge", checkout.payment_reference)] = checkout.amount
    late = Entry.objects.filter(
        transaction__kind=TransactionKind.LATE_PAYMENT,
        transaction__created_at__gte=since,
        transaction__idempotency_key__startswith=f"late:{provider}:",
        amount__gt=0,
    ).values_list("transaction__idempotency_key", "amount", "amount_currency")
    for key, amount, currency in late:
        reference = key.split(":", 2)[2]
        expected[("charge", reference)] = Money(amount, currency)
    commands = ProviderCommand.objects.filter(status=CommandStatus.SUCCEEDED, finished_at__gte=since)
    for command in commands:
        expected[(command.kind, command.provider_reference)] = command.amount
    return expected


def payments_reconcile(*, since: datetime) -> Reconciliation:
    """Compare every movement since ``since``. Call with no transaction open."""
    provider = get_provider()
    theirs: dict[tuple[str, str], ProviderRecord] = {
        (record.kind, record.reference): record for record in provider.records(since=since) if record.succeeded
    }
    ours = _ledger_side(since, provider.name)
    history = {key for key, record in theirs.items() if record.history and key not in ours}
    for key in history:
        del theirs[key]
    report = Reconciliation(checked=len(theirs.keys() | ours.keys()), skipped_as_history=len(history))
    for key in sorted(theirs.keys() | ours.keys()):
        kind, reference = key
        record, amount = theirs.get(key), ours.get(key)
        if record is None:
            report.mismatches.append(f"{kind} {reference}: {amount} in our records, unknown to {provider.name}")
        elif amount is None:
            report.mismatches.append(f"{kind} {reference}: {record.amount} at {provider.name}, not in our records")
        elif record.amount != amount:
            report.mismatches.append(f"{kind} {reference}: {record.amount} at {provider.name} but {amount} in ours")
    return report
