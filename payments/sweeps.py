"""Sweeps over payments: clearance of earnings, and payouts and refunds left behind.

See ``marketplace/sweeps.py`` for how a sweep walks and claims its rows. Lock
order here (docs/ARCHITECTURE.md, "Lock order"): the earning or command row, then the
ledger accounts (taken by the service).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from marketplace.sweeps import DueSet, SweepResult, candidates, now_or, register_sweep, sweep, sweep_in_batches
from payments.models import CommandStatus, Earning, EarningStatus, ProviderCommand
from payments.outbox import command_execute
from payments.services import earnings_clear_batch

# Earnings cleared per transaction: large enough to amortise the round trips,
# small enough that a seller clicking Withdraw waits a moment at most (a batch
# of 1,000 holds its sellers' accounts for about 0.35 s on the bench machine).
CLEARANCE_BATCH = 1000


def _clearance_due(now: datetime) -> QuerySet[Earning]:
    return Earning.objects.filter(status=EarningStatus.PENDING, clears_at__lte=now)


def _clear_one(pk: int, now: datetime) -> bool:
    # A batch of one: claims the row with SKIP LOCKED and clears it, one lock.
    return bool(earnings_clear_batch(earning_ids=[pk], now=now))


def clearance_due(now: datetime) -> list[DueSet]:
    return [DueSet("earnings to clear", _clearance_due(now), "clears_at")]


@register_sweep("clearance", due=clearance_due)
def sweep_clearance(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """Pending earnings whose ``clears_at`` has passed become available to withdraw.

    In batches (``earnings_clear_batch``: one transaction, a constant number
    of queries per batch), falling back to one row at a time if a batch fails.
    """
    now = now_or(now)
    pks = candidates(_clearance_due(now), time_field="clears_at")
    return sweep_in_batches(
        "clearance",
        pks,
        lambda ids: earnings_clear_batch(earning_ids=ids, now=now),
        lambda pk: _clear_one(pk, now),
        batch_size=CLEARANCE_BATCH,
        until=until,
    )


def _outbox_due(now: datetime) -> QuerySet[ProviderCommand]:
    return ProviderCommand.objects.filter(status=CommandStatus.PENDING, next_attempt_at__lte=now)


def outbox_due(now: datetime) -> list[DueSet]:
    return [DueSet("payouts and refunds to send", _outbox_due(now), "next_attempt_at")]


@register_sweep("outbox", due=outbox_due)
def sweep_outbox(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """Payouts and refunds to card whose task never ran, whose worker died, or
    whose backoff has passed (``payments.outbox``). Each is claimed with
    ``SKIP LOCKED`` and leased, and carries its idempotency key to the
    provider, so racing the task is safe."""
    now = now_or(now)
    pks = candidates(_outbox_due(now), time_field="next_attempt_at")
    return sweep("outbox", pks, lambda pk: command_execute(command_id=pk, now=now).settled, until=until)
