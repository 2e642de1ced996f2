"""The ledger audit's check of milestones: each escrow matches its state,
full while the milestone is open, empty once it is closed. Registered with
``payments.audit`` by ``MilestonesConfig.ready``."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F, Q

from marketplace.mac import macs_equal
from milestones.models import CLOSED_STATES, UNPAID_STATES, Dispute, DisputeState, Milestone
from payments.audit import AuditReport, LedgerView
from payments.integrity import MILESTONE_KINDS
from payments.models import AccountKind, Entry, Transaction


def escrow_matches_state(view: LedgerView, report: AuditReport) -> None:
    count = 0
    for milestone in Milestone.objects.only("id", "state", "amount", "amount_currency").iterator(chunk_size=2000):
        count += 1
        held = view.escrow_held(milestone.pk)
        if milestone.state in UNPAID_STATES or (held is None and milestone.state in CLOSED_STATES):
            # Never funded (its checkout is open, or closed unpaid): nothing may be held.
            if held not in (None, Decimal("0")):
                report.breaches.append(f"milestone {milestone.pk} is {milestone.state} but escrow holds {held}")
        elif held is None:
            report.breaches.append(f"milestone {milestone.pk} has no escrow account")
        elif milestone.state in CLOSED_STATES and held != Decimal("0"):
            report.breaches.append(f"milestone {milestone.pk} is {milestone.state} but escrow still holds {held}")
        elif milestone.state not in CLOSED_STATES and held != milestone.amount.amount:
            report.breaches.append(
                f"milestone {milestone.pk} is {milestone.state} with amount {milestone.amount.amount} "
                f"but escrow holds {held}"
            )
    report.counted["milestones"] = count


def transactions_match_milestones(view: LedgerView, report: AuditReport) -> None:
    """Each funding, settlement and tip moves the money of its own milestone's
    parties: the buyer's balance of the order's buyer, the pending account of
    its seller, the escrow of that milestone. A settlement (``settle:<id>``)
    belongs to a closed milestone; a resolved dispute's outcome matches its MAC."""
    bound = Entry.objects.filter(transaction__kind__in=sorted(MILESTONE_KINDS), transaction__milestone__isnull=False)
    wrong = bound.filter(
        (Q(account__kind=AccountKind.BUYER_BALANCE) & ~Q(account__user=F("transaction__milestone__order__buyer")))
        | (Q(account__kind=AccountKind.SELLER_PENDING) & ~Q(account__user=F("transaction__milestone__order__seller")))
        | (Q(account__kind=AccountKind.ESCROW) & ~Q(account__milestone=F("transaction__milestone")))
    ).values_list("transaction_id", "transaction__kind", "transaction__milestone_id", "account_id", "account__kind")
    for txn_id, kind, milestone_id, account_id, account_kind in wrong[:100]:
        report.breaches.append(
            f"transaction {txn_id} ({kind}) of milestone {milestone_id} moves account {account_id} "
            f"({account_kind}), which is not that milestone's or its parties'"
        )
    settled_open = Transaction.objects.filter(idempotency_key__startswith="settle:").exclude(
        milestone__state__in=sorted(CLOSED_STATES)
    )
    for txn_id, milestone_id, state in settled_open.values_list("id", "milestone_id", "milestone__state")[:100]:
        report.breaches.append(f"transaction {txn_id} settles milestone {milestone_id}, which is still {state}")
    for dispute in Dispute.objects.filter(state=DisputeState.RESOLVED).iterator(chunk_size=2000):
        if not dispute.outcome_mac or not macs_equal(dispute.outcome_mac, dispute.expected_outcome_mac()):
            report.breaches.append(f"dispute {dispute.pk} does not match its MAC: its outcome was changed")
