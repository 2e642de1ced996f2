"""Thin Celery tasks over the milestone sweeps (beat runs them; see marketplace/celery.py)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from marketplace.sweeps import task_deadline
from milestones import sweeps


@shared_task(acks_late=True)
def sweep_auto_approve() -> dict[str, Any]:
    return sweeps.sweep_auto_approve(until=task_deadline()).as_dict()


@shared_task(acks_late=True)
def sweep_reminders() -> dict[str, Any]:
    return sweeps.sweep_reminders(until=task_deadline()).as_dict()


@shared_task(acks_late=True)
def sweep_late() -> dict[str, Any]:
    return sweeps.sweep_late(until=task_deadline()).as_dict()


@shared_task(acks_late=True)
def sweep_checkouts() -> dict[str, Any]:
    return sweeps.sweep_checkouts(until=task_deadline()).as_dict()


@shared_task(acks_late=True)
def sweep_proposals() -> dict[str, Any]:
    return sweeps.sweep_proposals(until=task_deadline()).as_dict()


@shared_task(acks_late=True)
def sweep_offers() -> dict[str, Any]:
    return sweeps.sweep_offers(until=task_deadline()).as_dict()


@shared_task(acks_late=True)
def sweep_orders() -> dict[str, Any]:
    return sweeps.sweep_orders(until=task_deadline()).as_dict()
