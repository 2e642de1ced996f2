"""The ledger audit's check of milestones: each escrow matches its state,
full while the milestone is open, empty once it is closed. Registered with
``payments.audit`` by ``MilestonesConfig.ready``."""

from __future__ import annotations

from decimal import Decimal

from milestones.models import CLOSED_STATES, UNPAID_STATES, Milestone
from payments.audit import AuditReport, LedgerView


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
