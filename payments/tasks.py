"""Thin Celery tasks over payments services and sweeps."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from marketplace.sweeps import task_deadline
from payments import sweeps
from payments.services import withdrawal_process


@shared_task(acks_late=True)
def process_withdrawal(withdrawal_id: int) -> bool:
    return withdrawal_process(withdrawal_id=withdrawal_id) is not None


@shared_task(acks_late=True)
def sweep_clearance() -> dict[str, Any]:
    return sweeps.sweep_clearance(until=task_deadline()).as_dict()


@shared_task(acks_late=True)
def sweep_withdrawals() -> dict[str, Any]:
    return sweeps.sweep_withdrawals(until=task_deadline()).as_dict()
