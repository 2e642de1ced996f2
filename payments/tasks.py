"""Thin Celery tasks over payments services."""

from __future__ import annotations

from celery import shared_task

from payments.services import withdrawal_process


@shared_task(acks_late=True)
def process_withdrawal(withdrawal_id: int) -> bool:
    return withdrawal_process(withdrawal_id=withdrawal_id) is not None
