"""Thin Celery tasks over the milestone sweeps (beat runs them; see marketplace/celery.py)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from marketplace.sweeps import sweep_tick
from milestones import sweeps


@shared_task(acks_late=True)
def sweep_auto_approve() -> dict[str, Any]:
    return sweep_tick(sweep_auto_approve, sweeps.sweep_auto_approve)


@shared_task(acks_late=True)
def sweep_reminders() -> dict[str, Any]:
    return sweep_tick(sweep_reminders, sweeps.sweep_reminders)


@shared_task(acks_late=True)
def sweep_late() -> dict[str, Any]:
    return sweep_tick(sweep_late, sweeps.sweep_late)


@shared_task(acks_late=True)
def sweep_checkouts() -> dict[str, Any]:
    return sweep_tick(sweep_checkouts, sweeps.sweep_checkouts)


@shared_task(acks_late=True)
def sweep_proposals() -> dict[str, Any]:
    return sweep_tick(sweep_proposals, sweeps.sweep_proposals)


@shared_task(acks_late=True)
def sweep_offers() -> dict[str, Any]:
    return sweep_tick(sweep_offers, sweeps.sweep_offers)


@shared_task(acks_late=True)
def sweep_orders() -> dict[str, Any]:
    return sweep_tick(sweep_orders, sweeps.sweep_orders)
