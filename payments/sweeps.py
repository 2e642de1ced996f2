"""Sweeps over payments: clearance of earnings, and withdrawals left behind.

See ``marketplace/sweeps.py`` for how a sweep walks and claims its rows. Lock
order here (docs/ARCHITECTURE.md, "Lock order"): the earning or withdrawal row, then the
ledger accounts (taken by the service).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet

from marketplace.sweeps import DueSet, SweepResult, candidates, now_or, sweep, sweep_in_batches
from payments.models import Earning, EarningStatus, Withdrawal, WithdrawalStatus
from payments.services import earnings_clear_batch, withdrawal_process

# Earnings cleared per transaction: large enough to amortise the round trips,
# small enough that a seller clicking Withdraw waits a moment at most.
CLEARANCE_BATCH = 200


def _clearance_due(now: datetime) -> QuerySet[Earning]:
    return Earning.objects.filter(status=EarningStatus.PENDING, clears_at__lte=now)


def _clear_one(pk: int, now: datetime) -> bool:
    # A batch of one: claims the row with SKIP LOCKED and clears it, one lock.
    return bool(earnings_clear_batch(earning_ids=[pk], now=now))


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


def clearance_due(now: datetime) -> list[DueSet]:
    return [DueSet("earnings to clear", _clearance_due(now), "clears_at")]


def _withdrawals_due(now: datetime) -> QuerySet[Withdrawal]:
    return Withdrawal.objects.filter(status=WithdrawalStatus.REQUESTED, created_at__lte=now)


def _process_one(pk: int, now: datetime) -> bool:
    with transaction.atomic():
        claimed = list(
            Withdrawal.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, status=WithdrawalStatus.REQUESTED)
            .values_list("pk", flat=True)
        )
        if not claimed:
            return False
        return withdrawal_process(withdrawal_id=pk, now=now) is not None


def sweep_withdrawals(*, now: datetime | None = None, until: float | None = None) -> SweepResult:
    """Requested payouts whose own task never ran (broker down, task lost).

    ``withdrawal_process`` is idempotent (status check under the row lock, and
    the gateway call carries the withdrawal's key), so racing the task is safe.
    """
    now = now_or(now)
    pks = candidates(_withdrawals_due(now), time_field="created_at")
    return sweep("withdrawals", pks, lambda pk: _process_one(pk, now), until=until)


def withdrawals_due(now: datetime) -> list[DueSet]:
    return [DueSet("withdrawals to pay out", _withdrawals_due(now), "created_at")]
